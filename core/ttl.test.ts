import { describe, expect, it } from '@jest/globals';
import { rejection } from '../test/support/caught.ts';
import { InvalidInput, NotFound } from './errors.ts';
import type { DestroySchedule, EnvironmentRecord } from './ports.ts';
import { type TtlPorts, changeTtlStep, fireSecond, scheduledDestroyRun } from './ttl.ts';

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
const HOUR = 3_600_000;

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

  it('rounds the fire time up to the second and refuses a date that is not one', () => {
    expect(fireSecond('2026-03-01T14:00:00.001Z')).toBe('2026-03-01T14:00:01');
    expect(() => fireSecond('tomorrow')).toThrow(InvalidInput);
  });
});

function fakePorts(pending: DestroySchedule[], environments: EnvironmentRecord[] = []) {
  const upserted: DestroySchedule[] = [];
  const saved: EnvironmentRecord[] = [];
  const ports: TtlPorts = {
    pendingSchedules: async (environment) => pending.filter((s) => s.environment === environment),
    schedules: {
      upsert: async (schedule) => void upserted.push(schedule),
      remove: async () => undefined,
    },
    getEnvironment: async (environment, projectDir) =>
      environments.find((e) => e.environment === environment && e.projectDir === projectDir),
    setEnvironment: async (record) => void saved.push(record),
  };
  return { ports, upserted, saved };
}

describe('changeTtlStep', () => {
  const live: EnvironmentRecord = {
    environment: 'pr-42',
    projectDir: 'app',
    status: 'live',
    ttlExpiresAt: SCHEDULE.fireAt,
    lastRunId: 'run-1',
    updatedAt: '2026-03-01T10:00:00.000Z',
  };

  it('moves the schedule to now + ttl, records the expiry and says so', async () => {
    const { ports, upserted, saved } = fakePorts([SCHEDULE], [live]);
    const change = await changeTtlStep({ environment: 'pr-42', ttlMs: 4 * HOUR }, ports, NOW);
    expect(change).toMatchObject({
      environment: 'pr-42',
      projectDir: 'app',
      fireAt: '2026-03-01T16:00:00.000Z',
      previousFireAt: SCHEDULE.fireAt,
    });
    expect(upserted).toEqual([{ ...SCHEDULE, fireAt: '2026-03-01T16:00:00.000Z' }]);
    expect(saved).toEqual([
      { ...live, ttlExpiresAt: '2026-03-01T16:00:00.000Z', updatedAt: NOW.toISOString() },
    ]);
    expect(change.notice).toMatchObject({
      phase: 'ttl_changed',
      schedule: { fireAt: '2026-03-01T16:00:00.000Z' },
      run: { runId: 'run-1', workflow: 'ephemeral', environment: 'pr-42', ttlSeconds: 14_400 },
    });
  });

  it('refuses an environment with nothing scheduled, and changes nothing', async () => {
    const { ports, upserted } = fakePorts([SCHEDULE]);
    await expect(changeTtlStep({ environment: 'dev', ttlMs: HOUR }, ports, NOW)).rejects.toThrow(
      NotFound,
    );
    await expect(
      changeTtlStep({ environment: 'pr-42', projectDir: 'api', ttlMs: HOUR }, ports, NOW),
    ).rejects.toThrow(NotFound);
    expect(upserted).toEqual([]);
  });

  it('asks which project when several are scheduled, naming the field', async () => {
    const api = { ...SCHEDULE, projectDir: 'api' };
    const { ports, upserted } = fakePorts([SCHEDULE, api]);
    const request = { environment: 'pr-42', ttlMs: HOUR, projectField: '--dir' };
    const error = await rejection(changeTtlStep(request, ports, NOW));
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as InvalidInput).field).toBe('--dir');
    const change = await changeTtlStep({ ...request, projectDir: 'api' }, ports, NOW);
    expect(change.projectDir).toBe('api');
    expect(upserted.map((s) => s.projectDir)).toEqual(['api']);
  });
});
