// A failing apply through the real CLI: with a last good commit, Stepform re-applies it and
// says so (exit 1); with none, the run fails cleanly. Commit B adds to the hello example the
// failing time_static of test/fixtures/failing-apply (its postcondition can only be checked,
// and fails, after apply). Both fixtures pin hashicorp/time 0.14.2, so the lock file holds.
// Independent environments run side by side to keep the suite short: `dev` (rollback, --json),
// `staging` (the same rollback, text output) and `fresh` (no last good commit).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunEventRow } from '../../local/engine/store/sqlite-runs.ts';
import {
  type CliResult,
  HELLO_RESOURCES,
  PROJECT,
  type RunJson,
  type RunningCli,
  type TfState,
  type Workspace,
  helloWorkspace,
  parseJson,
} from '../support/cli.ts';
import { HELLO_EXAMPLE, REPO_ROOT } from '../support/repo.ts';

const FAILING = join(REPO_ROOT, 'test', 'fixtures', 'failing-apply');

let ws: Workspace;
/** The hello example, applied cleanly. */
let commitA: string;
/** Hello plus a resource whose apply fails. */
let commitB: string;
/** The apply of B in `fresh`, which has no last good commit: started with the others. */
let freshApply: RunningCli;

beforeAll(async () => {
  ws = await helloWorkspace();
  commitA = ws.commit;
  const [hello, failing, helloLock, failingLock] = await Promise.all([
    readFile(join(HELLO_EXAMPLE, 'main.tf'), 'utf8'),
    readFile(join(FAILING, 'main.tf'), 'utf8'),
    readFile(join(HELLO_EXAMPLE, '.terraform.lock.hcl'), 'utf8'),
    readFile(join(FAILING, '.terraform.lock.hcl'), 'utf8'),
  ]);
  // The lock file of `stack` stays valid: it already covers what the fixture uses.
  expect(failingLock).toBe(helloLock);
  const failingResources = failing.slice(failing.indexOf('resource "terraform_data" "before"'));
  expect(failingResources).toContain('resource "time_static" "fails"');
  expect(failingResources).toContain('postcondition');
  commitB = await ws.repo.commitFiles(
    { [`${PROJECT}/main.tf`]: `${hello}\n${failingResources}` },
    'add a resource whose apply fails',
  );
  freshApply = ws.start([
    'apply',
    '--dir',
    PROJECT,
    '--env',
    'fresh',
    '--commit',
    commitB,
    '--auto-approve',
    '--json',
  ]);
});

afterAll(() => {
  ws.close();
});

function exited(result: CliResult, code: number): void {
  if (result.exitCode !== code) {
    throw new Error(`expected exit ${code}, got ${result.exitCode}:\n${result.stderr}`);
  }
}

/** The state's managed resources, without what changes on every write. */
function resourcesOf(state: TfState | undefined): unknown {
  return state?.resources.filter((r) => r.mode === 'managed');
}

describe('rollback to the last good commit', () => {
  let stateA: TfState;
  /** The text-output apply of B in `staging`, started alongside the --json one in `dev`. */
  let stagingApply: RunningCli;

  it('applies commit A cleanly', async () => {
    const applyA = (environment: string) =>
      ws.cli([
        'apply',
        '--dir',
        PROJECT,
        '--env',
        environment,
        '--commit',
        commitA,
        '--auto-approve',
        '--json',
      ]);
    const results = await Promise.all([applyA('dev'), applyA('staging')]);
    for (const result of results) {
      exited(result, 0);
      expect(parseJson(result) as RunJson).toMatchObject({
        status: 'succeeded',
        phase: 'applied',
        commit: commitA,
      });
    }
    expect((await ws.store().records.getLastGood('dev', PROJECT))?.commit).toBe(commitA);
    expect((await ws.store().records.getLastGood('staging', PROJECT))?.commit).toBe(commitA);
    stateA = ws.state('dev')!;
    expect(ws.resources('dev')).toEqual(HELLO_RESOURCES);
  });

  it('a failing apply of B exits 1, rolls back to A and says so; A stays the last good commit', async () => {
    stagingApply = ws.start(['apply', '--dir', PROJECT, '--env', 'staging', '--auto-approve']);
    const result = await ws.cli([
      'apply',
      '--dir',
      PROJECT,
      '--env',
      'dev',
      '--auto-approve',
      '--json',
    ]);
    exited(result, 1);
    const run = parseJson(result) as RunJson;
    expect(run).toMatchObject({
      workflow: 'plan-apply',
      status: 'failed',
      environment: 'dev',
      commit: commitB,
      phase: 'rolled_back',
      rollback: { commit: commitA, failedCommit: commitB },
      error: { name: 'JobFailed' },
    });
    expect(run.rollback?.message).toBe(
      `apply of ${commitB} failed; rolled back to the last good commit ${commitA}`,
    );
    const store = ws.store();
    expect((await store.records.getLastGood('dev', PROJECT))?.commit).toBe(commitA);
    expect(store.records.getEnvironment('dev', PROJECT)).toMatchObject({
      status: 'rolled_back',
      lastRunId: run.runId,
    });
    expect(store.locks.getLock('dev')).toBeUndefined();
    const phases = store.outbox.list(run.runId).map((o) => o.phase);
    expect(phases).toEqual(['started', 'planned', 'applying', 'rolling_back', 'rolled_back']);
    // The state is A's again: B's resources are gone, A's are as A left them.
    expect(ws.resources('dev')).toEqual(HELLO_RESOURCES);
    expect(resourcesOf(ws.state('dev'))).toEqual(resourcesOf(stateA));
    // The Terraform error is in the logs.
    const logs = await ws.cli(['logs', run.runId, '--json']);
    const events = (parseJson(logs) as { events: RunEventRow[] }).events;
    expect(events.some((e) => e.state === 'RunRollbackJob' && e.type === 'exited')).toBe(true);
    expect(
      events.some(
        (e) => e.type === 'failed' && (e.detail ?? '').includes('Deliberate apply failure'),
      ),
    ).toBe(true);
  });

  it('the text output names the last good commit it rolled back to', async () => {
    const result = await stagingApply.done;
    exited(result, 1);
    expect(result.stdout).toMatch(/^run \S+: failed \(rolled_back\)/m);
    expect(result.stdout).toContain(
      `apply of ${commitB} failed; rolled back to the last good commit ${commitA}`,
    );
    expect((await ws.store().records.getLastGood('staging', PROJECT))?.commit).toBe(commitA);
    expect(ws.store().locks.getLock('staging')).toBeUndefined();
    expect(ws.resources('staging')).toEqual(HELLO_RESOURCES);
  });
});

describe('a failing apply with no last good commit', () => {
  it('exits 1 with a clear failure, NoRollbackTarget in the logs, and releases the lock', async () => {
    const result = await freshApply.done;
    exited(result, 1);
    const run = parseJson(result) as RunJson;
    expect(run).toMatchObject({
      status: 'failed',
      environment: 'fresh',
      commit: commitB,
      phase: 'failed',
      error: { name: 'JobFailed' },
    });
    expect(run.rollback).toBeUndefined();
    const error = run.error as { name: string; message: string };
    expect(error.message).toContain('Deliberate apply failure');

    const logs = await ws.cli(['logs', run.runId, '--json']);
    exited(logs, 0);
    const { events, outbox } = parseJson(logs) as {
      events: RunEventRow[];
      outbox: { phase: string }[];
    };
    const decide = events.find((e) => e.state === 'DecideRollback' && e.type === 'failed');
    expect(decide?.detail).toMatch(/^NoRollbackTarget: /);
    expect(events.some((e) => e.state === 'RunRollbackJob')).toBe(false);
    expect(outbox.map((o) => o.phase)).toEqual(['started', 'planned', 'applying', 'failed']);

    const store = ws.store();
    expect(store.locks.getLock('fresh')).toBeUndefined();
    expect(store.locks.lockHistory('fresh').map((l) => l.owner)).toEqual([run.runId]);
    expect(await store.records.getLastGood('fresh', PROJECT)).toBeUndefined();
    // What the failed apply created before failing stays, as Terraform left it.
    expect(ws.resources('fresh')).toContain('terraform_data.before');
    // dev is untouched.
    expect((await store.records.getLastGood('dev', PROJECT))?.commit).toBe(commitA);
  });
});
