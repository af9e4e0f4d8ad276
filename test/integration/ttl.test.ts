// An ephemeral environment's TTL runs out and the local scheduler destroys it, for real:
// while a scheduler runs, and at the next start when it came due while nothing was running.
// The engine API is used directly, since the CLI refuses TTLs under a minute.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunContext } from '../../core/contracts/workflow-input.ts';
import { LocalEngine } from '../../local/engine/local-engine.ts';
import { fireDueSchedules } from '../../local/engine/scheduler.ts';
import type { LocalSchedule } from '../../local/engine/store/sqlite-schedules.ts';
import {
  HELLO_RESOURCES,
  PROJECT,
  type Workspace,
  cliEnv,
  helloWorkspace,
} from '../support/cli.ts';

const TTL_SECONDS = 2;

let ws: Workspace;
const engines: LocalEngine[] = [];

beforeAll(async () => {
  ws = await helloWorkspace();
});

afterAll(() => {
  for (const engine of engines) engine.close();
  ws.close();
});

function newEngine(): LocalEngine {
  const engine = new LocalEngine({ home: ws.home, env: cliEnv(), print: () => undefined });
  engines.push(engine);
  return engine;
}

function ephemeral(environment: string): RunContext {
  return {
    runId: LocalEngine.newRunId(),
    workflow: 'ephemeral',
    repository: ws.repo.dir,
    commit: ws.commit,
    projectDir: PROJECT,
    environment,
    autoApprove: true,
    approvalTimeoutSeconds: 3600,
    ttlSeconds: TTL_SECONDS,
  };
}

/** Creates the environment and returns its pending schedule. */
async function createEphemeral(engine: LocalEngine, environment: string): Promise<LocalSchedule> {
  const before = Date.now();
  const created = await engine.run(ephemeral(environment));
  expect(created.status).toBe('succeeded');
  expect(created.run.phase).toBe('applied');
  expect(ws.resources(environment)).toEqual(HELLO_RESOURCES);
  const schedules = engine.stores.schedules.list(environment);
  expect(schedules).toHaveLength(1);
  const schedule = schedules[0]!;
  expect(schedule).toMatchObject({ status: 'pending', createdBy: created.run.runId });
  const fireAt = Date.parse(schedule.fireAt);
  expect(fireAt).toBeGreaterThanOrEqual(before + TTL_SECONDS * 1000);
  expect(fireAt).toBeLessThanOrEqual(Date.now() + TTL_SECONDS * 1000);
  return schedule;
}

async function untilPast(iso: string): Promise<void> {
  const wait = Date.parse(iso) - Date.now() + 50;
  if (wait > 0) await sleep(wait);
}

/** What a destroy run fired by a schedule must leave behind. */
function expectDestroyed(environment: string, destroyRunId: string): void {
  const store = ws.store();
  expect(store.records.getEnvironment(environment, PROJECT)).toMatchObject({
    status: 'destroyed',
    lastRunId: destroyRunId,
  });
  expect(store.schedules.list(environment)).toMatchObject([{ status: 'deleted' }]);
  expect(store.locks.getLock(environment)).toBeUndefined();
  expect(ws.resources(environment)).toEqual([]);
}

describe('the TTL of an ephemeral environment', () => {
  it('runs out while the scheduler runs: the destroy fires once and succeeds', async () => {
    const engine = newEngine();
    const schedule = await createEphemeral(engine, 'pr-1');

    // Not yet due: nothing fires.
    const early = new Date(Date.parse(schedule.fireAt) - 1);
    expect(fireDueSchedules(engine, early)).toEqual([]);
    expect(engine.stores.schedules.list('pr-1')[0]?.status).toBe('pending');

    await untilPast(schedule.fireAt);
    const fired = fireDueSchedules(engine, new Date());
    expect(fired).toHaveLength(1);
    const [destroy] = fired;
    expect(destroy!.schedule).toMatchObject({ environment: 'pr-1', fireAt: schedule.fireAt });
    expect(destroy!.run).toMatchObject({
      workflow: 'destroy',
      environment: 'pr-1',
      projectDir: PROJECT,
      commit: ws.commit,
    });
    // Claimed before the destroy ends: a second tick meanwhile fires nothing.
    expect(fireDueSchedules(engine, new Date())).toEqual([]);

    const outcome = await destroy!.outcome;
    expect(outcome.status).toBe('succeeded');
    expect(outcome.run).toMatchObject({
      runId: destroy!.run.runId,
      workflow: 'destroy',
      status: 'succeeded',
      phase: 'destroyed',
    });
    expect(outcome.run.details.summary).toEqual({ add: 0, change: 0, destroy: 3 });
    expectDestroyed('pr-1', destroy!.run.runId);
    expect(fireDueSchedules(engine, new Date())).toEqual([]);
  });

  it('came due while nothing ran: the next start fires it, exactly once', async () => {
    const first = newEngine();
    const schedule = await createEphemeral(first, 'pr-2');
    first.close();
    engines.splice(engines.indexOf(first), 1);

    // Nothing runs while the TTL runs out.
    await untilPast(schedule.fireAt);
    expect(ws.store().schedules.list('pr-2')[0]?.status).toBe('pending');

    // The next start: its first check fires the overdue destroy; later checks, in this
    // process or another, do not fire it again.
    const next = newEngine();
    const fired = fireDueSchedules(next, new Date());
    expect(fired.map((f) => f.schedule.environment)).toEqual(['pr-2']);
    expect(fireDueSchedules(next, new Date())).toEqual([]);
    expect(fireDueSchedules(newEngine(), new Date())).toEqual([]);

    const outcome = await fired[0]!.outcome;
    expect(outcome.status).toBe('succeeded');
    expect(outcome.run.phase).toBe('destroyed');
    expectDestroyed('pr-2', fired[0]!.run.runId);
    expect(fireDueSchedules(next, new Date())).toEqual([]);
    // pr-1's finished schedule stays finished.
    expect(ws.store().schedules.list('pr-1')).toMatchObject([{ status: 'deleted' }]);
  });
});
