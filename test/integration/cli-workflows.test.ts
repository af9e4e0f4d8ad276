// Every workflow through the real `stepform` CLI, as a user runs it in a repository of their
// own: plan, apply (and apply with nothing to change), an ephemeral environment whose TTL is
// moved, destroy; then the history (runs, logs) and the audit notes in git. Bad input is in
// bad-input.test.ts.
// The tests share one repository and its default home (<repo>/.git/stepform) and run in order;
// the ephemeral environment `preview` is created while the `dev` tests run (it shares nothing
// with dev but the home), to keep the suite short.
import { appliedPlanApplyStates, stateNamed } from '../support/workflow-paths.ts';
import { existsSync, lstatSync, readFileSync, readdirSync } from 'node:fs';
import { LOG_FILE } from '../../core/contracts/job-result.ts';
import { readResult } from '../../local/executor-process.ts';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { STATUS_EVENT } from '../../core/contracts/status-event.ts';
import type { RunEventRow } from '../../local/engine/store/sqlite-runs.ts';
import {
  type CliResult,
  HELLO_RESOURCES,
  PROJECT,
  type RunJson,
  type RunningCli,
  type Workspace,
  helloWorkspace,
  parseJson,
} from '../support/cli.ts';

const HOUR_MS = 3_600_000;
/** Both processes read one clock; this only absorbs millisecond rounding. */
const CLOCK_SLACK_MS = 1_000;

let ws: Workspace;
/** Every run the tests made, by role. */
const runs: Record<string, RunJson> = {};
let ephemeral: RunningCli;
let ephemeralStartedAt: number;

beforeAll(async () => {
  ws = await helloWorkspace({ home: 'default' });
  // The first command makes the home; then this process holds the store open, so that the
  // two CLI processes below never both create it (see the store race in concurrency.test.ts).
  const empty = await ws.cli(['runs', '--json']);
  expect(empty.exitCode).toBe(0);
  expect(parseJson(empty)).toEqual({ runs: [] });
  ws.store();
  ephemeralStartedAt = Date.now();
  ephemeral = ws.start([
    'ephemeral',
    '--dir',
    PROJECT,
    '--env',
    'preview',
    '--ttl',
    '1h',
    '--json',
  ]);
});

afterAll(() => {
  ws.close();
});

function expectOk(result: CliResult): void {
  if (result.exitCode !== 0) throw new Error(`exit ${result.exitCode}:\n${result.stderr}`);
}

/** Runs a verb that must succeed and returns its --json run with the CLI's output. */
async function runOk(args: readonly string[]): Promise<{ result: CliResult; run: RunJson }> {
  const result = await ws.cli([...args]);
  expectOk(result);
  return { result, run: parseJson(result) as RunJson };
}

describe('the workflows, through the CLI', () => {
  it('plan: exit 0, plans the three adds, changes nothing', async () => {
    const { result, run } = await runOk(['plan', '--dir', PROJECT, '--json']);
    runs.plan = run;
    expect(run).toMatchObject({
      workflow: 'plan',
      status: 'succeeded',
      environment: 'dev',
      projectDir: PROJECT,
      commit: ws.commit,
      phase: 'planned',
      summary: { add: 3, change: 0, destroy: 0 },
    });
    expect(run.error).toBeUndefined();
    // Progress went to stderr, naming the run.
    expect(result.stderr).toContain(`(run ${run.runId})`);
    expect(ws.state('dev')).toBeUndefined();
    const store = ws.store();
    expect(store.locks.locksOf('dev')).toEqual([]);
    expect(store.outbox.list(run.runId).map((o) => o.phase)).toEqual(['started', 'planned']);
  });

  it('apply --auto-approve: exit 0, applied, last good commit recorded, lock released', async () => {
    const { run } = await runOk([
      'apply',
      '--dir',
      PROJECT,
      '--env',
      'dev',
      '--auto-approve',
      '--json',
    ]);
    runs.apply = run;
    expect(run).toMatchObject({
      workflow: 'plan-apply',
      status: 'succeeded',
      environment: 'dev',
      commit: ws.commit,
      phase: 'applied',
      summary: { add: 3, change: 0, destroy: 0 },
    });
    expect(ws.resources('dev')).toEqual(HELLO_RESOURCES);
    const store = ws.store();
    expect(store.approvals.forRun(run.runId)).toBeUndefined();
    expect(await store.records.getLastGood('dev', PROJECT)).toMatchObject({
      commit: ws.commit,
      runId: run.runId,
    });
    expect(store.records.getEnvironment('dev', PROJECT)).toMatchObject({
      status: 'active',
      lastRunId: run.runId,
    });
    expect(store.locks.locksOf('dev')).toEqual([]);
    expect(store.locks.lockHistory('dev').map((l) => l.owner)).toEqual([run.runId]);
    expect(store.outbox.list(run.runId).map((o) => o.phase)).toEqual([
      'started',
      'planned',
      'applying',
      'applied',
    ]);
    // The apply job took the plan job's checkout, initialised, and its plan's JSON: no
    // checkout, init or show -json of its own.
    const artifacts = join(ws.home, 'artifacts', run.runId);
    const planJob = await readResult(join(artifacts, 'plan'));
    const applyJob = await readResult(join(artifacts, 'apply'));
    expect(Object.keys(planJob?.timings ?? {})).toEqual(
      expect.arrayContaining(['checkout', 'init', 'show']),
    );
    expect(applyJob?.timings).toMatchObject({ apply: expect.any(Number) });
    for (const step of ['checkout', 'init', 'show'])
      expect(applyJob?.timings).not.toHaveProperty(step);
    const applyLog = readFileSync(join(artifacts, 'apply', LOG_FILE), 'utf8');
    expect(applyLog).toContain("reusing the plan job's checkout");
    expect(applyLog).toContain(
      `reusing the plan job's show -json of plan ${planJob?.plan?.sha256}`,
    );
    // Nothing of the run's work folder is left, the handed-on checkout included.
    expect(existsSync(join(ws.home, 'work', run.runId))).toBe(false);
  });

  // Outputs come from the apply's result, kept with the run by RecordOutcome.
  it('apply --auto-approve prints the outputs, the secret masked', () => {
    expect(runs.apply!.outputs).toMatchObject({
      greeting: { sensitive: false, value: 'hello, world' },
      secret: { sensitive: true, value: '(sensitive value)' },
    });
  });

  it('apply with nothing to change asks for no approval and exits 0 without --auto-approve', async () => {
    const { result, run } = await runOk(['apply', '--dir', PROJECT, '--env', 'dev', '--json']);
    runs.noChanges = run;
    expect(run).toMatchObject({
      workflow: 'plan-apply',
      status: 'succeeded',
      phase: 'no_changes',
      summary: { add: 0, change: 0, destroy: 0 },
    });
    const store = ws.store();
    expect(store.approvals.forRun(run.runId)).toBeUndefined();
    expect(store.outbox.list(run.runId).map((o) => o.phase)).toEqual(['started', 'no_changes']);
    expect(result.stderr).not.toContain('approval needed');
    expect(await store.records.getLastGood('dev', PROJECT)).toMatchObject({ commit: ws.commit });
    expect(store.locks.locksOf('dev')).toEqual([]);
    expect(ws.resources('dev')).toEqual(HELLO_RESOURCES);
  });

  it('ephemeral --env preview --ttl 1h: applied, outputs masked, destroy scheduled at now + 1h', async () => {
    const before = ephemeralStartedAt;
    const result = await ephemeral.done;
    const after = Date.now();
    expectOk(result);
    const run = parseJson(result) as RunJson;
    runs.ephemeral = run;
    expect(run).toMatchObject({
      workflow: 'ephemeral',
      status: 'succeeded',
      environment: 'preview',
      phase: 'applied',
      summary: { add: 3, change: 0, destroy: 0 },
    });
    expect(run.outputs).toMatchObject({
      greeting: { sensitive: false, value: 'hello, world' },
      secret: { sensitive: true, value: '(sensitive value)' },
    });
    expect(result.stdout).not.toContain('example-secret-value');
    expect(result.stderr).not.toContain('example-secret-value');

    const schedules = ws.store().schedules.list('preview');
    expect(schedules).toHaveLength(1);
    const [schedule] = schedules;
    expect(schedule).toMatchObject({
      environment: 'preview',
      projectDir: PROJECT,
      commit: ws.commit,
      status: 'pending',
      createdBy: run.runId,
    });
    const fireAt = Date.parse(schedule!.fireAt);
    expect(fireAt).toBeGreaterThanOrEqual(before + HOUR_MS - CLOCK_SLACK_MS);
    expect(fireAt).toBeLessThanOrEqual(after + HOUR_MS + CLOCK_SLACK_MS);
    expect(ws.store().records.getEnvironment('preview', PROJECT)).toMatchObject({
      status: 'active',
      ttlExpiresAt: schedule!.fireAt,
    });
    expect(ws.resources('preview')).toEqual(HELLO_RESOURCES);
    expect(ws.store().locks.locksOf('preview')).toEqual([]);
  });

  it('ttl preview 2h runs the ttl workflow: the scheduled destroy moves, its status event says so', async () => {
    const store = ws.store();
    const previous = store.schedules.list('preview')[0]!;
    const before = Date.now();
    const { run } = await runOk(['ttl', 'preview', '2h', '--json']);
    const after = Date.now();
    runs.ttl = run;
    const moved = run as RunJson & { schedule: { fireAt: string } };
    expect(moved).toMatchObject({
      workflow: 'ttl',
      status: 'succeeded',
      phase: 'ttl_changed',
      environment: 'preview',
      projectDir: PROJECT,
      commit: ws.commit,
    });
    const fireAt = Date.parse(moved.schedule.fireAt);
    expect(fireAt).toBeGreaterThanOrEqual(before + 2 * HOUR_MS - CLOCK_SLACK_MS);
    expect(fireAt).toBeLessThanOrEqual(after + 2 * HOUR_MS + CLOCK_SLACK_MS);

    const schedule = store.schedules.list('preview')[0]!;
    expect(schedule).toMatchObject({ status: 'pending', fireAt: moved.schedule.fireAt });
    expect(schedule.fireAt).not.toBe(previous.fireAt);
    expect(store.records.getEnvironment('preview', PROJECT)).toMatchObject({
      status: 'active',
      ttlExpiresAt: moved.schedule.fireAt,
    });
    const outbox = store.outbox.list(run.runId);
    expect(outbox.map((o) => o.phase)).toEqual(['ttl_changed']);
    expect(STATUS_EVENT.parse(outbox[0]?.body)).toMatchObject({
      phase: 'ttl_changed',
      environment: 'preview',
      workflow: 'ttl',
    });
    expect(store.locks.locksOf('preview')).toEqual([]);
  });

  it('ttl for an environment that is not ephemeral exits 2, naming ENV, and records no run', async () => {
    const schedulesBefore = ws.store().schedules.list();
    const runsBefore = ws.store().runs.list(1000).length;
    const result = await ws.cli(['ttl', 'dev', '2h']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('InvalidInput: ENV: dev (stack) is not ephemeral');
    expect(ws.store().schedules.list()).toEqual(schedulesBefore);
    expect(ws.store().runs.list(1000)).toHaveLength(runsBefore);
  });

  it('destroy without a terminal and without --yes: exit 2, nothing destroyed or recorded', async () => {
    const runsBefore = ws.store().runs.list(1000).length;
    const result = await ws.cli(['destroy', '--dir', PROJECT, '--env', 'preview']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--yes: destroy asks for confirmation on a terminal');
    expect(ws.store().runs.list(1000)).toHaveLength(runsBefore);
    expect(ws.resources('preview')).toEqual(HELLO_RESOURCES);
  });

  it('destroy on a terminal shows the resources, asks, and keeps everything when not confirmed', async () => {
    const runsBefore = ws.store().runs.list(1000).length;
    const result = await ws.onTerminal(
      ['destroy', '--dir', PROJECT, '--env', 'preview'],
      'to destroy it: ',
      'prod',
    );
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain(`destroy will remove 3 resources of preview (${PROJECT}):`);
    for (const address of HELLO_RESOURCES) expect(result.stdout).toContain(`  - ${address}`);
    expect(result.stdout).toContain(
      'DestroyNotConfirmed: not confirmed: preview was not destroyed',
    );
    expect(ws.store().runs.list(1000)).toHaveLength(runsBefore);
    expect(ws.resources('preview')).toEqual(HELLO_RESOURCES);
  });

  it('destroy --env preview --yes --auto-approve: destroyed, schedule deleted, lock released', async () => {
    const { run } = await runOk([
      'destroy',
      '--dir',
      PROJECT,
      '--env',
      'preview',
      '--yes',
      '--auto-approve',
      '--json',
    ]);
    runs.destroy = run;
    expect(run).toMatchObject({
      workflow: 'destroy',
      status: 'succeeded',
      environment: 'preview',
      phase: 'destroyed',
      summary: { add: 0, change: 0, destroy: 3 },
    });
    const store = ws.store();
    expect(store.records.getEnvironment('preview', PROJECT)).toMatchObject({
      status: 'destroyed',
      lastRunId: run.runId,
    });
    expect(store.schedules.list('preview')).toMatchObject([{ status: 'deleted' }]);
    expect(store.locks.locksOf('preview')).toEqual([]);
    expect(ws.resources('preview')).toEqual([]);
    // dev is untouched.
    expect(ws.resources('dev')).toEqual(HELLO_RESOURCES);
    expect(store.outbox.list(run.runId).map((o) => o.phase)).toEqual(['destroying', 'destroyed']);

    // The TTL of a destroyed environment can no longer be moved.
    const ttl = await ws.cli(['ttl', 'preview', '2h']);
    expect(ttl.exitCode).toBe(2);
    expect(ttl.stderr).toContain('InvalidInput: ENV: no live ephemeral environment named preview');
  });
});

describe('history and audit', () => {
  it('runs --json lists every run, newest first', async () => {
    const result = await ws.cli(['runs', '--json']);
    expectOk(result);
    const listed = (parseJson(result) as { runs: RunJson[] }).runs;
    expect(listed.map((r) => r.runId).sort()).toEqual(
      Object.values(runs)
        .map((r) => r.runId)
        .sort(),
    );
    for (const [index, run] of listed.entries()) {
      expect(run.status).toBe('succeeded');
      expect(run.finishedAt).not.toBeNull();
      const next = listed[index + 1];
      if (next) expect(run.startedAt >= next.startedAt).toBe(true);
    }
    // The runs made one after another come in the reverse order.
    const sequential = [runs.destroy, runs.noChanges, runs.apply, runs.plan].map((r) => r!.runId);
    expect(listed.map((r) => r.runId).filter((id) => sequential.includes(id))).toEqual(sequential);
    expect(listed[0]?.runId).toBe(runs.destroy!.runId);
  });

  it('logs RUN_ID --json has every state with its duration, and the status events', async () => {
    const applyRunId = runs.apply!.runId;
    const result = await ws.cli(['logs', applyRunId, '--json']);
    expectOk(result);
    const logs = parseJson(result) as RunJson & { events: RunEventRow[]; outbox: unknown[] };
    expect(logs).toMatchObject({ runId: applyRunId, workflow: 'plan-apply', phase: 'applied' });
    const entered = logs.events.filter((e) => e.type === 'entered');
    expect(entered.map((e) => stateNamed(e.state))).toEqual(appliedPlanApplyStates(false));
    const exited = logs.events.filter((e) => e.type === 'exited');
    for (const event of exited) {
      expect(typeof event.durationMs).toBe('number');
      expect(event.durationMs).toBeGreaterThanOrEqual(0);
      expect(Number.isNaN(Date.parse(event.at))).toBe(false);
    }
    // The Terraform jobs are the long states.
    const planJob = exited.find((e) => stateNamed(e.state) === 'RunPlanJob')!;
    const applyJob = exited.find((e) => stateNamed(e.state) === 'RunApplyJob')!;
    expect(planJob.durationMs).toBeGreaterThan(100);
    expect(applyJob.durationMs).toBeGreaterThan(100);
    expect(logs.events.filter((e) => e.type === 'failed')).toEqual([]);
    // Entered before exited, in sequence.
    expect(logs.events.map((e) => e.seq)).toEqual(logs.events.map((_e, i) => i + 1));
    expect(logs.outbox.map((body) => STATUS_EVENT.parse(body).phase)).toEqual([
      'started',
      'planned',
      'applying',
      'applied',
    ]);

    // The text form shows the same states with their timings.
    const text = await ws.cli(['logs', applyRunId]);
    expectOk(text);
    expect(text.stdout).toMatch(/exited +RunPlanJob \[stack\] \d+ ms/);
    expect(text.stdout).toMatch(/status succeeded \(applied\)/);
  });

  it('every run left a git note on its commit naming its run id', async () => {
    const note = await ws.git(['notes', '--ref=refs/notes/stepform', 'show', ws.commit]);
    const runIds = Object.values(runs).map((r) => r.runId);
    for (const runId of runIds) expect(note).toContain(`stepform-run: ${runId}`);
    expect(note.match(/^stepform-run: /gm)).toHaveLength(runIds.length);
    // The Stepform home stays out of the user's history.
    expect(await ws.git(['status', '--porcelain'])).toBe('');
  });

  it('keeps every file of the home private to its owner: states, saved plans, logs, the store', () => {
    const open: string[] = [];
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        if (entry.isFile()) files.push(path);
        if ((lstatSync(path).mode & 0o077) !== 0 && !entry.isSymbolicLink()) open.push(path);
      }
    };
    walk(ws.home);
    expect(open).toEqual([]);
    // What matters most is there: a state, a saved plan, a job log, the database.
    for (const part of [
      /\/state\/.*terraform\.tfstate$/,
      /\/plan\/plan\.tfplan$/,
      /executor\.log$/,
      /stepform\.db$/,
    ])
      expect(files.some((file) => part.test(file))).toBe(true);
  });

  it('git clean -xdf loses nothing: the home is in the git directory', async () => {
    const runsBefore = ws
      .store()
      .runs.list(1000)
      .map((r) => r.runId);
    await ws.git(['clean', '-xdfq']);
    const after = await ws.cli(['runs', '--json']);
    expect((parseJson(after) as { runs: RunJson[] }).runs.map((r) => r.runId)).toEqual(runsBefore);
    expect(ws.resources('dev')).toEqual(HELLO_RESOURCES);
  });
});
