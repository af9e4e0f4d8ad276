// The SchedulePort contract, on both sides: SQLite rows fired by `stepform serve` locally, and
// EventBridge Scheduler one-time schedules on AWS (on moto). One pending destroy per
// environment and project: an upsert creates or moves it, a remove cancels it (removing one
// that is gone is fine).
import { describe, expect, it } from '@jest/globals';
import {
  CreateScheduleGroupCommand,
  GetScheduleCommand,
  ListSchedulesCommand,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { EventBridgeSchedulePort, scheduledExecution } from '../../adapters/aws/scheduler.ts';
import type { DestroySchedule, SchedulePort } from '../../core/ports.ts';
import { RUN_INPUT } from '../../core/contracts/workflow-input.ts';
import { destroySchedule } from '../support/store-fixtures.ts';
import { contractBackends, uniqueName } from './backends.ts';

const backends = contractBackends();

/** What a pending schedule will destroy, and when: what both sides can tell. */
type Pending = Omit<DestroySchedule, 'createdBy'>;

interface SchedulesUnderTest {
  readonly schedules: SchedulePort;
  /** The schedules that will still fire, by environment then project. */
  readonly pending: () => Promise<Pending[]>;
}

function byKey(a: Pending, b: Pending): number {
  return `${a.environment}\0${a.projectDir}`.localeCompare(`${b.environment}\0${b.projectDir}`);
}

/** The destroy a Scheduler schedule will start, read back from its target and expression. */
async function readSchedule(client: SchedulerClient, group: string, name: string) {
  const schedule = await client.send(new GetScheduleCommand({ Name: name, GroupName: group }));
  const run = RUN_INPUT.parse(scheduledExecution(schedule.Target).input);
  const at = /^at\((.+)\)$/.exec(schedule.ScheduleExpression ?? '')?.[1];
  if (at === undefined) throw new Error(`schedule ${name} has no at() expression`);
  return {
    environment: run.environment,
    projectDir: run.projectDir,
    repository: run.repository,
    commit: run.commit,
    fireAt: new Date(`${at}Z`).toISOString(),
  };
}

const STORES: [string, () => Promise<SchedulesUnderTest>][] = [
  [
    'SQLite',
    async () => {
      const { schedules } = await backends.sqlite();
      return {
        schedules,
        pending: async () =>
          schedules
            .list()
            .filter((s) => s.status === 'pending')
            .map(({ environment, projectDir, repository, commit, fireAt }) => ({
              environment,
              projectDir,
              repository,
              commit,
              fireAt,
            }))
            .sort(byKey),
      };
    },
  ],
  [
    'EventBridge Scheduler',
    async () => {
      const client = new SchedulerClient(backends.moto().clientConfig);
      const group = uniqueName('stepform-ttl');
      await client.send(new CreateScheduleGroupCommand({ Name: group }));
      const schedules = new EventBridgeSchedulePort(client, {
        groupName: group,
        stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:stepform-destroy',
        roleArn: 'arn:aws:iam::123456789012:role/stepform-scheduler',
      });
      return {
        schedules,
        pending: async () => {
          const { Schedules = [] } = await client.send(
            new ListSchedulesCommand({ GroupName: group }),
          );
          const read = await Promise.all(
            Schedules.map(async (s) => readSchedule(client, group, s.Name ?? '')),
          );
          return read.sort(byKey);
        },
      };
    },
  ],
];

function pendingOf({
  environment,
  projectDir,
  repository,
  commit,
  fireAt,
}: DestroySchedule): Pending {
  return { environment, projectDir, repository, commit, fireAt };
}

describe.each(STORES)('SchedulePort on %s', (_name, open) => {
  it('has nothing pending until a schedule is upserted, then exactly that', async () => {
    const { schedules, pending } = await open();
    expect(await pending()).toEqual([]);

    await schedules.upsert(destroySchedule());

    expect(await pending()).toEqual([pendingOf(destroySchedule())]);
  });

  it('keeps one schedule per environment and project: a second upsert moves it', async () => {
    const { schedules, pending } = await open();
    await schedules.upsert(destroySchedule());

    const moved = destroySchedule({ fireAt: '2030-01-01T08:30:00.000Z', createdBy: 'run-ttl-2' });
    await schedules.upsert(moved);

    expect(await pending()).toEqual([pendingOf(moved)]);
  });

  it('keeps schedules per environment and project', async () => {
    const { schedules, pending } = await open();
    const app = destroySchedule();
    const network = destroySchedule({ projectDir: 'infra/network' });
    const other = destroySchedule({ environment: 'pr-8' });
    for (const s of [other, network, app]) await schedules.upsert(s);

    expect(await pending()).toEqual([app, network, other].map(pendingOf));
  });

  it('removes a schedule so that it never fires; the others stay', async () => {
    const { schedules, pending } = await open();
    const app = destroySchedule();
    const other = destroySchedule({ environment: 'pr-8' });
    await schedules.upsert(app);
    await schedules.upsert(other);

    await schedules.remove(app.environment, app.projectDir);

    expect(await pending()).toEqual([pendingOf(other)]);
  });

  it('is fine removing a schedule that is gone or never was', async () => {
    const { schedules, pending } = await open();
    await schedules.upsert(destroySchedule());
    await schedules.remove('pr-7', 'infra/app');

    await expect(schedules.remove('pr-7', 'infra/app')).resolves.toBeUndefined();
    await expect(schedules.remove('pr-404', 'infra/app')).resolves.toBeUndefined();
    expect(await pending()).toEqual([]);
  });

  it('schedules again after a remove', async () => {
    const { schedules, pending } = await open();
    await schedules.upsert(destroySchedule());
    await schedules.remove('pr-7', 'infra/app');

    const again = destroySchedule({ fireAt: '2030-01-02T00:00:00.000Z' });
    await schedules.upsert(again);

    expect(await pending()).toEqual([pendingOf(again)]);
  });

  it('reads back the pending schedule of an environment and project, and none once removed', async () => {
    const { schedules } = await open();
    const app = destroySchedule({ fireAt: '2030-01-01T08:30:00.000Z', createdBy: 'run-ttl-2' });
    await schedules.upsert(app);
    await schedules.upsert(destroySchedule({ projectDir: 'infra/network' }));

    expect(await schedules.pending(app.environment, app.projectDir)).toEqual(app);
    expect(await schedules.pending(app.environment, 'infra/other')).toBeUndefined();
    expect(await schedules.pending('pr-404', app.projectDir)).toBeUndefined();

    await schedules.remove(app.environment, app.projectDir);
    expect(await schedules.pending(app.environment, app.projectDir)).toBeUndefined();
  });

  it('keeps the projects of a run of several, with their workspaces, var files and layers', async () => {
    const { schedules } = await open();
    const projects = [
      {
        name: 'network',
        dir: 'infra/network',
        layer: 0,
        varFiles: ['infra/network/envs/pr.tfvars'],
      },
      { name: 'app', dir: 'infra/app', layer: 1, workspace: 'pr-7', varFiles: [] },
    ];
    const run = destroySchedule({ projectDir: 'infra', projects, protectedEnvironment: true });
    await schedules.upsert(run);
    expect(await schedules.pending(run.environment, 'infra')).toEqual(run);

    // A move keeps them.
    const moved = { ...run, fireAt: '2030-01-03T00:00:00.000Z', createdBy: 'run-ttl-3' };
    await schedules.upsert(moved);
    expect(await schedules.pending(run.environment, 'infra')).toEqual(moved);
  });
});
