// A failing apply through the real CLI: with a last good commit, Stepform re-applies it and
// says so (exit 1); with none, the run fails cleanly. Commit B adds to the hello example the
// failing time_static of test/fixtures/failing-apply (its postcondition can only be checked,
// and fails, after apply). Both fixtures pin hashicorp/time 0.14.2, so the lock file holds.
// Independent environments run side by side to keep the suite short: `dev` (rollback, --json),
// `staging` (the same rollback, text output) and `fresh` (no last good commit).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { stateKey } from '../../core/contracts/job-input.ts';
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
  waitFor,
} from '../support/cli.ts';
import { HELLO_EXAMPLE, REPO_ROOT, helloWithFailingRollback } from '../support/repo.ts';
import { stateNamed } from '../support/workflow-paths.ts';

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
    expect(store.locks.locksOf('dev')).toEqual([]);
    const phases = store.outbox.list(run.runId).map((o) => o.phase);
    expect(phases).toEqual(['started', 'planned', 'applying', 'rolling_back', 'rolled_back']);
    // The state is A's again: B's resources are gone, A's are as A left them.
    expect(ws.resources('dev')).toEqual(HELLO_RESOURCES);
    expect(resourcesOf(ws.state('dev'))).toEqual(resourcesOf(stateA));
    // The Terraform error is in the logs.
    const logs = await ws.cli(['logs', run.runId, '--json']);
    const events = (parseJson(logs) as { events: RunEventRow[] }).events;
    expect(
      events.some((e) => stateNamed(e.state) === 'RunRollbackJob' && e.type === 'exited'),
    ).toBe(true);
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
    expect(ws.store().locks.locksOf('staging')).toEqual([]);
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
    const decide = events.find(
      (e) => stateNamed(e.state) === 'DecideRollback' && e.type === 'failed',
    );
    expect(decide?.detail).toMatch(/^NoRollbackTarget: /);
    expect(events.some((e) => stateNamed(e.state) === 'RunRollbackJob')).toBe(false);
    expect(outbox.map((o) => o.phase)).toEqual(['started', 'planned', 'applying', 'failed']);

    const store = ws.store();
    expect(store.locks.locksOf('fresh')).toEqual([]);
    expect(store.locks.lockHistory('fresh').map((l) => l.owner)).toEqual([run.runId]);
    expect(await store.records.getLastGood('fresh', PROJECT)).toBeUndefined();
    // What the failed apply created before failing stays, as Terraform left it.
    expect(ws.resources('fresh')).toContain('terraform_data.before');
    // dev is untouched.
    expect((await store.records.getLastGood('dev', PROJECT))?.commit).toBe(commitA);
  });
});

/** A run's state events and status events, from `stepform logs --json`. */
async function logsOf(runId: string): Promise<{
  events: RunEventRow[];
  outbox: { phase: string; message?: string }[];
}> {
  const logs = await ws.cli(['logs', runId, '--json']);
  exited(logs, 0);
  return parseJson(logs) as Awaited<ReturnType<typeof logsOf>>;
}

/** The PR comment the run left (no GitHub configured: a file in the run's folder). */
async function prCommentOf(runId: string): Promise<string> {
  return readFile(join(ws.home, 'runs', runId, 'pr-comment.md'), 'utf8');
}

describe('an apply refused before it changed anything', () => {
  it('fails with the real error and no rollback, and a hotfix applied meanwhile stands', async () => {
    exited(
      await ws.cli([
        'apply',
        '--dir',
        PROJECT,
        '--env',
        'hotfix',
        '--commit',
        commitA,
        '--auto-approve',
      ]),
      0,
    );
    // B is planned against A's state and waits for its approval...
    const applyB = ws.start([
      'apply',
      '--dir',
      PROJECT,
      '--env',
      'hotfix',
      '--commit',
      commitB,
      '--json',
    ]);
    const store = ws.store();
    const runId = await waitFor(
      () => `a pending approval in hotfix\n${applyB.stderr()}`,
      () => {
        const run = store.runs
          .list(1000)
          .find((r) => r.environment === 'hotfix' && r.commit === commitB);
        return run && store.approvals.forRun(run.runId)?.status === 'pending'
          ? run.runId
          : undefined;
      },
      90_000,
    );
    // ...while someone applies a hotfix by hand: the state moves on.
    const path = join(ws.home, 'state', stateKey('hotfix', PROJECT));
    const state = JSON.parse(await readFile(path, 'utf8')) as TfState & {
      outputs: Record<string, { value: unknown; type: unknown }>;
    };
    const hotfix = {
      ...state,
      serial: state.serial + 1,
      outputs: { ...state.outputs, greeting: { value: 'hotfix', type: 'string' } },
    };
    await writeFile(path, JSON.stringify(hotfix));
    exited(await ws.cli(['approve', runId]), 0);

    const result = await applyB.done;
    exited(result, 1);
    const run = parseJson(result) as RunJson;
    expect(run).toMatchObject({
      runId,
      status: 'failed',
      phase: 'failed',
      error: {
        name: 'JobFailed',
        message: expect.stringMatching(/^apply failed: StalePlan: the state changed/),
      },
    });
    expect(run.rollback).toBeUndefined();
    // The hotfix stands, A is still the last good commit, and the lock is free.
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(hotfix);
    expect((await store.records.getLastGood('hotfix', PROJECT))?.commit).toBe(commitA);
    expect(store.locks.locksOf('hotfix')).toEqual([]);

    const { events, outbox } = await logsOf(runId);
    expect(
      events.some(
        (e) => stateNamed(e.state) === 'DecideRollback' || stateNamed(e.state) === 'RunRollbackJob',
      ),
    ).toBe(false);
    expect(
      events.find((e) => stateNamed(e.state) === 'CollectApply' && e.type === 'failed')?.detail,
    ).toMatch(/^NothingApplied: apply failed: StalePlan: /);
    expect(outbox.map((o) => o.phase)).toEqual([
      'started',
      'planned',
      'awaiting_approval',
      'approved',
      'applying',
      'failed',
    ]);
    expect(outbox.at(-1)?.message).toContain('NothingApplied: apply failed: StalePlan: ');
    expect(await prCommentOf(runId)).toContain('StalePlan');
    // Slack (printed, as none is configured) says so too.
    expect(result.stderr).toMatch(/\[slack\] .*failed.*StalePlan/);
  });
});

describe('a rollback that fails', () => {
  it('ends rollback_failed with the rollback job’s error everywhere, never "rolled back"', async () => {
    const fragile = await ws.repo.commitFiles(
      helloWithFailingRollback('last-good', PROJECT),
      'a fragile resource',
    );
    const unrollable = await ws.repo.commitFiles(
      helloWithFailingRollback('failing', PROJECT),
      'replace it, and fail',
    );
    const apply = (commit: string) =>
      ws.cli([
        'apply',
        '--dir',
        PROJECT,
        '--env',
        'brittle',
        '--commit',
        commit,
        '--auto-approve',
        '--json',
      ]);
    exited(await apply(fragile), 0);

    const result = await apply(unrollable);
    exited(result, 1);
    const run = parseJson(result) as RunJson & { rollback?: { applyError?: unknown } };
    expect(run).toMatchObject({
      status: 'failed',
      phase: 'rollback_failed',
      commit: unrollable,
      error: {
        name: 'RollbackFailed',
        message: expect.stringMatching(
          /^plan-apply failed: TerraformFailed: [\s\S]*deliberate-destroy-failure/,
        ),
      },
      rollback: {
        commit: fragile,
        failedCommit: unrollable,
        applyError: {
          Error: 'JobFailed',
          Cause: expect.stringContaining('Deliberate apply failure'),
        },
      },
    });
    const { events, outbox } = await logsOf(run.runId);
    expect(outbox.map((o) => o.phase)).toEqual([
      'started',
      'planned',
      'applying',
      'rolling_back',
      'rollback_failed',
    ]);
    const said = `the rollback to the last good commit ${fragile} failed: JobFailed: plan-apply failed: TerraformFailed: `;
    expect(outbox.at(-1)?.message).toContain(said);
    expect(
      events.find((e) => stateNamed(e.state) === 'CollectRollback' && e.type === 'failed')?.detail,
    ).toContain('deliberate-destroy-failure');
    const comment = await prCommentOf(run.runId);
    expect(comment).toContain('rollback\\_failed');
    expect(comment).toContain(said);
    expect(comment).toContain('deliberate-destroy-failure');
    expect(result.stderr).toMatch(/\[slack\] .*rollback failed/);
    // Nothing claims the rollback happened.
    const everything = [
      result.stdout,
      result.stderr,
      comment,
      ...outbox.map((o) => o.message ?? ''),
      JSON.stringify(events),
    ].join('\n');
    expect(everything).not.toContain('rolled back');

    const store = ws.store();
    expect(store.records.getEnvironment('brittle', PROJECT)).toMatchObject({
      status: 'rollback_failed',
      lastRunId: run.runId,
    });
    expect((await store.records.getLastGood('brittle', PROJECT))?.commit).toBe(fragile);
    expect(store.locks.locksOf('brittle')).toEqual([]);
  });
});

describe('secrets on a first apply', () => {
  const CANARIES = [
    'canary-attribute-3c7a6e02',
    'canary-output-9d2f4a18',
    'canary-variable-5e1b0c77',
  ];

  /** Every file of the Stepform home but the Terraform states and the saved plans. */
  async function homeFiles(): Promise<string[]> {
    const entries = await readdir(ws.home, { recursive: true, withFileTypes: true });
    return entries
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name))
      .filter((path) => !relative(ws.home, path).startsWith('state/'))
      .filter((path) => !path.endsWith('.tfplan'));
  }

  it('masks what a failing provisioner prints in every channel and file, from the plan alone', async () => {
    const leaky = await ws.repo.commitDir(
      join(REPO_ROOT, 'test', 'fixtures', 'sensitive-failing-apply'),
      'leaky',
      'a first apply that prints its secrets',
    );
    const result = await ws.cli([
      'apply',
      '--dir',
      'leaky',
      '--env',
      'secrets',
      '--commit',
      leaky,
      '--auto-approve',
    ]);
    exited(result, 1);
    // The provisioner did print them, masked (in the run's error, on stderr).
    expect(result.stderr).toContain("Error running command '(sensitive value) (sensitive value)");
    const runId = /^run (\S+): failed/m.exec(result.stdout)?.[1] ?? '';
    expect(runId).not.toBe('');
    const logs = await ws.cli(['logs', runId, '--json']);
    const runs = await ws.cli(['runs', '--json']);
    const files = await homeFiles();
    expect(files.some((f) => f.endsWith('result.json'))).toBe(true);
    expect(files.some((f) => f.endsWith('executor.log'))).toBe(true);
    expect(files.some((f) => f.endsWith('pr-comment.md'))).toBe(true);
    expect(files.some((f) => f.endsWith('events.jsonl'))).toBe(true);
    expect(files.some((f) => f.endsWith('stepform.db'))).toBe(true);
    const leaks: string[] = [];
    for (const [where, text] of [
      ['apply stdout', result.stdout],
      ['apply stderr', result.stderr],
      ['logs', logs.stdout + logs.stderr],
      ['runs', runs.stdout + runs.stderr],
      ...(await Promise.all(
        files.map(async (f) => [relative(ws.home, f), (await readFile(f)).toString('latin1')]),
      )),
    ] as [string, string][]) {
      for (const canary of CANARIES) if (text.includes(canary)) leaks.push(`${canary} in ${where}`);
    }
    expect(leaks).toEqual([]);
  });
});
