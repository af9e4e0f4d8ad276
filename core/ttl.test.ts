import { describe, expect, it } from '@jest/globals';
import { rejection } from '../test/support/caught.ts';
import { InvalidInput, NotFound } from './errors.ts';
import type { DestroySchedule, EnvironmentRecord } from './ports.ts';
import {
  type TtlPorts,
  assertLiveEphemeral,
  changeTtlStep,
  fireSecond,
  scheduledDestroyRun,
} from './ttl.ts';

const COMMIT = 'c'.repeat(40);
const SCHEDULE: DestroySchedule = {
  createdBy: 'run-1',
  environment: 'pr-42',
  projectDir: 'app',
  repository: '/srv/git/infra',
  fireAt: '2026-03-01T14:00:00.000Z',
  commit: COMMIT,
};
const NOW = new Date('2026-03-01T12:00:00.000Z');

describe('scheduledDestroyRun', () => {
  it('gives the same run id for the same schedule, another for another fire time', () => {
    const a = scheduledDestroyRun(SCHEDULE);
    expect(scheduledDestroyRun(SCHEDULE).runId).toBe(a.runId);
    expect(scheduledDestroyRun({ ...SCHEDULE, fireAt: '2026-03-02T00:00:00Z' }).runId).not.toBe(
      a.runId,
    );
    expect(a.runId).toMatch(/^ttl-pr-42-20260301T140000Z-[0-9a-f]{8}$/);
  });

  it('fits the longest environment name into a run id, still telling environments apart', () => {
    const long = 'e'.repeat(63);
    const a = scheduledDestroyRun({ ...SCHEDULE, environment: long });
    const b = scheduledDestroyRun({ ...SCHEDULE, environment: `${'e'.repeat(62)}f` });
    expect(a.runId.length).toBeLessThanOrEqual(80);
    expect(a.runId).toMatch(/^ttl-e+-20260301T140000Z-[0-9a-f]{8}$/);
    expect(a.runId).not.toBe(b.runId);
    expect(a.environment).toBe(long);
  });

  it('is an auto-approved destroy of exactly the scheduled commit and project', () => {
    expect(scheduledDestroyRun(SCHEDULE)).toMatchObject({
      workflow: 'destroy',
      repository: SCHEDULE.repository,
      commit: COMMIT,
      projectDir: 'app',
      environment: 'pr-42',
      autoApprove: true,
    });
  });

  it('is marked protected when the environment was: that destroy then waits (PrepareRun)', () => {
    expect(scheduledDestroyRun(SCHEDULE).protectedEnvironment).toBeUndefined();
    expect(scheduledDestroyRun({ ...SCHEDULE, protectedEnvironment: true })).toMatchObject({
      autoApprove: true,
      protectedEnvironment: true,
    });
  });

  it('covers the projects the ephemeral run created, with their workspaces, var files and layers', () => {
    const projects = [
      {
        name: 'network',
        dir: 'infra/network',
        layer: 0,
        varFiles: ['infra/network/envs/pr.tfvars'],
      },
      { name: 'app', dir: 'infra/app', layer: 1, workspace: 'pr-42', varFiles: [] },
    ];
    const run = scheduledDestroyRun({ ...SCHEDULE, projectDir: 'infra', projects });
    expect(run).toMatchObject({ workflow: 'destroy', projectDir: 'infra', projects });
    // Another folder is another schedule: its run id differs.
    expect(run.runId).not.toBe(scheduledDestroyRun(SCHEDULE).runId);
  });

  it('rounds the fire time up to the second and refuses a date that is not one', () => {
    expect(fireSecond('2026-03-01T14:00:00.001Z')).toBe('2026-03-01T14:00:01');
    expect(() => fireSecond('tomorrow')).toThrow(InvalidInput);
  });
});

/** In-memory schedules and records: what ChangeTtl reads and writes, as a store would. */
function fakePorts(pending: DestroySchedule[], environments: EnvironmentRecord[] = []) {
  const schedules = new Map(pending.map((s) => [`${s.environment}/${s.projectDir}`, s]));
  const records = new Map(environments.map((e) => [`${e.environment}/${e.projectDir}`, e]));
  const ports: TtlPorts = {
    schedules: {
      upsert: async (schedule) =>
        void schedules.set(`${schedule.environment}/${schedule.projectDir}`, schedule),
      remove: async (environment, projectDir) =>
        void schedules.delete(`${environment}/${projectDir}`),
      pending: async (environment, projectDir) => schedules.get(`${environment}/${projectDir}`),
    },
    records: {
      getLastGood: async () => undefined,
      setLastGood: async () => undefined,
      setEnvironment: async (record) =>
        void records.set(`${record.environment}/${record.projectDir}`, record),
      readEnvironment: async (environment, projectDir) =>
        records.get(`${environment}/${projectDir}`),
      getDrift: async () => undefined,
      setDrift: async () => undefined,
    },
  };
  return { ports, schedules, records };
}

function ttlRun(fields: Record<string, unknown>) {
  return {
    run: {
      runId: 'run-ttl-1',
      workflow: 'ttl',
      repository: '/srv/git/infra',
      commit: COMMIT,
      projectDir: 'app',
      environment: 'pr-42',
      ...fields,
    },
  };
}

describe('changeTtlStep', () => {
  const live: EnvironmentRecord = {
    environment: 'pr-42',
    projectDir: 'app',
    status: 'active',
    ttlExpiresAt: SCHEDULE.fireAt,
    lastRunId: 'run-1',
    updatedAt: '2026-03-01T10:00:00.000Z',
  };

  it('moves the schedule to now + ttl and records the expiry', async () => {
    const { ports, schedules, records } = fakePorts([SCHEDULE], [live]);

    const change = await changeTtlStep(ttlRun({ ttlSeconds: 4 * 3600 }), ports, NOW);

    expect(change).toEqual({
      projectDir: 'app',
      previousFireAt: SCHEDULE.fireAt,
      schedule: { fireAt: '2026-03-01T16:00:00.000Z' },
    });
    expect([...schedules.values()]).toEqual([
      { ...SCHEDULE, fireAt: '2026-03-01T16:00:00.000Z', createdBy: 'run-ttl-1' },
    ]);
    expect(records.get('pr-42/app')).toEqual({
      ...live,
      ttlExpiresAt: '2026-03-01T16:00:00.000Z',
      updatedAt: NOW.toISOString(),
    });
  });

  it('moves the one schedule of a run of several projects and every live project’s expiry', async () => {
    const projects = [
      { name: 'network', dir: 'infra/network', layer: 0, varFiles: [] },
      { name: 'app', dir: 'infra/app', layer: 1, varFiles: [] },
    ];
    const schedule = { ...SCHEDULE, projectDir: 'infra', projects };
    const network = { ...live, projectDir: 'infra/network' };
    const app = { ...live, projectDir: 'infra/app' };
    const { ports, schedules, records } = fakePorts([schedule], [network, app]);

    await changeTtlStep(ttlRun({ ttlSeconds: 3600, projectDir: 'infra' }), ports, NOW);

    expect([...schedules.values()]).toEqual([
      { ...schedule, fireAt: '2026-03-01T13:00:00.000Z', createdBy: 'run-ttl-1' },
    ]);
    for (const dir of ['infra/network', 'infra/app']) {
      expect(records.get(`pr-42/${dir}`)?.ttlExpiresAt).toBe('2026-03-01T13:00:00.000Z');
    }
  });

  it('cancels: removes the schedule, and the record keeps the environment with no expiry', async () => {
    const { ports, schedules, records } = fakePorts([SCHEDULE], [live]);

    const change = await changeTtlStep(ttlRun({ cancelTtl: true }), ports, NOW);

    expect(change.schedule).toEqual({ fireAt: null });
    expect(schedules.size).toBe(0);
    expect(records.get('pr-42/app')).toMatchObject({ status: 'active', ttlExpiresAt: null });
  });

  it('refuses an environment that is not live (NotFound) or not ephemeral (InvalidInput), changing nothing', async () => {
    const destroyed = { ...live, status: 'destroyed' };
    for (const [pending, environments, type] of [
      [[SCHEDULE], [], NotFound],
      [[SCHEDULE], [destroyed], NotFound],
      [[], [live], InvalidInput],
    ] as const) {
      const { ports, schedules, records } = fakePorts([...pending], [...environments]);
      const before = { schedules: [...schedules.values()], records: [...records.values()] };
      const error = await rejection(changeTtlStep(ttlRun({ ttlSeconds: 3600 }), ports, NOW));
      expect(error).toBeInstanceOf(type);
      if (error instanceof InvalidInput) expect(error.field).toBe('changeTtl.run.environment');
      expect({ schedules: [...schedules.values()], records: [...records.values()] }).toEqual(
        before,
      );
    }
  });

  it('refuses a TTL outside 1 minute to 30 days, and a run that is not a ttl run', async () => {
    const { ports, schedules } = fakePorts([SCHEDULE], [live]);
    const short = await rejection(changeTtlStep(ttlRun({ ttlSeconds: 30 }), ports, NOW));
    expect((short as InvalidInput).field).toBe('changeTtl.run.ttlSeconds');
    const long = await rejection(
      changeTtlStep(ttlRun({ ttlSeconds: 30 * 24 * 3600 + 1 }), ports, NOW),
    );
    expect((long as InvalidInput).field).toBe('changeTtl.run.ttlSeconds');
    const both = await rejection(
      changeTtlStep(ttlRun({ ttlSeconds: 3600, cancelTtl: true }), ports, NOW),
    );
    expect((both as InvalidInput).field).toBe('changeTtl.run.ttlSeconds');
    const destroy = await rejection(
      changeTtlStep(ttlRun({ workflow: 'destroy', ttlSeconds: undefined }), ports, NOW),
    );
    expect((destroy as InvalidInput).field).toBe('changeTtl.run.workflow');
    expect([...schedules.values()]).toEqual([SCHEDULE]);
  });
});

describe('assertLiveEphemeral', () => {
  it('names the field it is given when the environment has no schedule', () => {
    const record = {
      ...SCHEDULE,
      status: 'active',
      ttlExpiresAt: null,
      lastRunId: 'r',
      updatedAt: '',
    };
    const error = (() => {
      try {
        assertLiveEphemeral('pr-42', 'app', [record], undefined, 'ENV');
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as InvalidInput).field).toBe('ENV');
    expect(assertLiveEphemeral('pr-42', 'app', [record], SCHEDULE)).toEqual({
      records: [record],
      schedule: SCHEDULE,
    });
  });

  it('is live while any project the schedule covers is active, and gives those records', () => {
    const record = (projectDir: string, status: string) => ({
      environment: 'pr-42',
      projectDir,
      status,
      ttlExpiresAt: null,
      lastRunId: 'r',
      updatedAt: '',
    });
    const live = record('infra/app', 'active');
    expect(
      assertLiveEphemeral('pr-42', 'infra', [record('infra/network', 'destroyed'), live], SCHEDULE),
    ).toEqual({ records: [live], schedule: SCHEDULE });
    expect(() =>
      assertLiveEphemeral(
        'pr-42',
        'infra',
        [record('infra/network', 'destroyed'), undefined],
        SCHEDULE,
      ),
    ).toThrow('no live environment pr-42 (infra): it is destroyed');
  });
});
