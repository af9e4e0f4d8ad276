// An ephemeral environment's TTL runs out and the local scheduler destroys it, for real:
// while a scheduler runs, and at the next start when it came due while nothing was running.
// The engine API is used directly there, since the CLI refuses TTLs under a minute. Then the
// ttl workflow through the CLI: it moves or cancels the scheduled destroy, and refuses what it
// cannot change before any run exists.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunContext } from '../../core/contracts/workflow-input.ts';
import { LocalEngine } from '../../local/engine/local-engine.ts';
import { fireDueSchedules } from '../../local/engine/scheduler.ts';
import type { LocalSchedule } from '../../local/engine/store/sqlite-schedules.ts';
import { STATUS_EVENT } from '../../core/contracts/status-event.ts';
import {
  type CliResult,
  HELLO_RESOURCES,
  PROJECT,
  type RunJson,
  type Workspace,
  cliEnv,
  helloWorkspace,
  parseJson,
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
  expect(store.locks.locksOf(environment)).toEqual([]);
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

describe('stepform ttl: the ttl workflow on a live ephemeral environment', () => {
  const HOUR_MS = 3_600_000;
  type TtlJson = RunJson & { schedule: { fireAt: string | null } };
  // A workspace of its own: only the CLI and this suite's one store connection touch it.
  let ws: Workspace;
  beforeAll(async () => {
    ws = await helloWorkspace();
  });
  afterAll(() => {
    ws.close();
  });

  function ok(result: CliResult): TtlJson {
    if (result.exitCode !== 0) throw new Error(`exit ${result.exitCode}:\n${result.stderr}`);
    return parseJson(result) as TtlJson;
  }

  it('creates pr-9 through the CLI with a TTL of 1h', async () => {
    const created = ok(
      await ws.cli(['ephemeral', '--dir', PROJECT, '--env', 'pr-9', '--ttl', '1h', '--json']),
    );
    expect(created).toMatchObject({ workflow: 'ephemeral', status: 'succeeded' });
    expect(ws.store().schedules.list('pr-9')).toMatchObject([{ status: 'pending' }]);
  });

  it('ttl pr-9 3h moves the destroy to now + 3h: schedule, record and a ttl_changed event', async () => {
    const store = ws.store();
    const before = Date.now();
    const run = ok(await ws.cli(['ttl', 'pr-9', '3h', '--json']));
    expect(run).toMatchObject({
      workflow: 'ttl',
      status: 'succeeded',
      phase: 'ttl_changed',
      environment: 'pr-9',
      projectDir: PROJECT,
      commit: ws.commit,
    });
    const fireAt = run.schedule.fireAt ?? '';
    expect(Date.parse(fireAt)).toBeGreaterThanOrEqual(before + 3 * HOUR_MS - 1000);
    expect(Date.parse(fireAt)).toBeLessThanOrEqual(Date.now() + 3 * HOUR_MS + 1000);
    expect(store.schedules.list('pr-9')).toMatchObject([
      { status: 'pending', fireAt, createdBy: run.runId },
    ]);
    expect(store.records.getEnvironment('pr-9', PROJECT)).toMatchObject({
      status: 'active',
      ttlExpiresAt: fireAt,
    });
    const events = store.outbox.list(run.runId).map((o) => STATUS_EVENT.parse(o.body));
    expect(events).toMatchObject([{ phase: 'ttl_changed', workflow: 'ttl', environment: 'pr-9' }]);
    expect(store.locks.locksOf('pr-9')).toEqual([]);
  });

  it.each([
    [['ttl', 'pr-9', '31d'], 'DURATION: '],
    [['ttl', 'pr-9', '10s'], 'DURATION: '],
    [['ttl', 'pr-9', 'soon'], 'DURATION: '],
    [['ttl', 'nope', '2h'], 'ENV: no live ephemeral environment named nope'],
    [['ttl', 'Bad Name', '2h'], 'ENV: '],
    [['ttl', 'pr-9', '2h', '--cancel'], 'arguments: ttl --cancel takes ENV only'],
    [['ttl', 'pr-9', '--dir', 'elsewhere', '2h'], 'ENV: '],
  ])('%j exits 2 naming the field, and records no run', async (args, message) => {
    const store = ws.store();
    const runsBefore = store.runs.list(1000).length;
    const schedulesBefore = store.schedules.list();
    const result = await ws.cli(args);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`InvalidInput: ${message}`);
    expect(store.runs.list(1000)).toHaveLength(runsBefore);
    expect(store.schedules.list()).toEqual(schedulesBefore);
  });

  it('ttl pr-9 --cancel keeps it until destroyed by hand: no schedule, no expiry, still there', async () => {
    const store = ws.store();
    const run = ok(await ws.cli(['ttl', 'pr-9', '--cancel', '--json']));
    expect(run).toMatchObject({ workflow: 'ttl', status: 'succeeded', phase: 'ttl_changed' });
    expect(run.schedule).toEqual({ fireAt: null });
    expect(store.schedules.list('pr-9')).toMatchObject([{ status: 'deleted' }]);
    expect(store.records.getEnvironment('pr-9', PROJECT)).toMatchObject({
      status: 'active',
      ttlExpiresAt: null,
    });
    expect(ws.resources('pr-9')).toEqual(HELLO_RESOURCES);

    // No longer ephemeral: its TTL can be neither moved nor cancelled again.
    const runsBefore = store.runs.list(1000).length;
    const again = await ws.cli(['ttl', 'pr-9', '2h']);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain('InvalidInput: ENV: pr-9 (stack) is not ephemeral');
    expect(store.runs.list(1000)).toHaveLength(runsBefore);
  });
});
