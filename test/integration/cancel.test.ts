// Ctrl-C at the terminal cancels a run: Terraform stops gracefully, the run ends `cancelled`
// (exit 130) with its lock released and everyone told, and nothing of it keeps running. A
// run whose CLI was killed outright is found by the next command, and its approval can no
// longer be decided.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { STATUS_EVENT } from '../../core/contracts/status-event.ts';
import {
  PROJECT,
  type RunJson,
  type RunningCli,
  type Workspace,
  helloWorkspace,
  parseJson,
  startApplyAwaitingApproval,
  waitFor,
} from '../support/cli.ts';
import { descendants, isTerraform, processes } from '../support/processes.ts';
import { REPO_ROOT } from '../support/repo.ts';

let ws: Workspace;

beforeAll(async () => {
  ws = await helloWorkspace();
  // A resource whose creation takes a minute: the cancel lands in the middle of the apply.
  await ws.repo.commitDir(join(REPO_ROOT, 'test', 'fixtures', 'slow-apply'), 'slow');
});

afterAll(() => ws.close());

/** Waits until the CLI's run is applying: a Terraform apply runs below it. */
async function whenApplying(cli: RunningCli): Promise<void> {
  const pid = cli.child.pid ?? 0;
  await waitFor(
    () => `a terraform apply below the CLI; stderr so far:\n${cli.stderr()}`,
    () =>
      descendants(pid).some((p) => isTerraform(p) && / apply /.test(` ${p.command} `))
        ? true
        : undefined,
    120_000,
  );
}

function workFolders(): string[] {
  const dir = join(ws.home, 'work');
  return existsSync(dir) ? readdirSync(dir) : [];
}

describe('Ctrl-C during an apply', () => {
  let result: Awaited<RunningCli['done']>;
  let run: RunJson;

  beforeAll(async () => {
    const cli = ws.start(['apply', '--dir', 'slow', '--env', 'dev', '--auto-approve', '--json']);
    await whenApplying(cli);
    cli.child.kill('SIGINT');
    result = await cli.done;
    run = parseJson(result) as RunJson;
  }, 180_000);

  it('ends the run cancelled with exit 130, and says how to stop it at once', () => {
    expect(result.exitCode).toBe(130);
    expect(run).toMatchObject({ status: 'cancelled', phase: 'cancelled' });
    expect(run.error).toMatchObject({ name: 'RunCancelled', message: 'cancelled by SIGINT' });
    expect(result.stderr).toContain(
      `SIGINT: cancelling run ${run.runId}; Terraform stops gracefully`,
    );
  });

  it('releases the lock, tells everyone, and rolls nothing back', () => {
    const store = ws.store();
    expect(store.locks.locksOf('dev')).toEqual([]);
    const phases = store.outbox.list(run.runId).map((o) => STATUS_EVENT.parse(o.body).phase);
    expect(phases.at(-1)).toBe('cancelled');
    expect(phases).not.toContain('rolling_back');
  });

  it('leaves no Terraform process and no work folder behind', () => {
    const living = processes().filter((p) => isTerraform(p) && (p.cwd ?? '').startsWith(ws.home));
    expect(living).toEqual([]);
    expect(workFolders()).toEqual([]);
  });
});

describe('a CLI killed while its run waits for approval', () => {
  let runId: string;

  beforeAll(async () => {
    const waiting = await startApplyAwaitingApproval(ws, 'qa');
    runId = waiting.runId;
    const { cli } = waiting;
    cli.child.kill('SIGKILL');
    await cli.done;
  }, 180_000);

  it('cannot be approved: exit 1, RunNotWaiting, nothing recorded as approved', async () => {
    const approve = await ws.cli(['approve', runId, '--json']);
    expect(approve.exitCode).toBe(1);
    expect(parseJson(approve)).toMatchObject({
      error: { name: 'RunNotWaiting', message: expect.stringContaining('its process is gone') },
    });
    expect(ws.store().approvals.forRun(runId)?.status).not.toBe('approved');
  });

  it('is closed by that command: failed, RunInterrupted, its lock on qa released', async () => {
    const runs = await ws.cli(['runs', '--json']);
    const closed = (parseJson(runs) as { runs: RunJson[] }).runs.find((r) => r.runId === runId);
    expect(closed).toMatchObject({ status: 'failed' });
    expect(JSON.stringify(closed?.error)).toContain('RunInterrupted');
    expect(ws.store().locks.locksOf('qa')).toEqual([]);
    expect(ws.store().approvals.forRun(runId)?.status).toBe('expired');
  });

  it('does not hold up the next apply of qa, which finds the lock free', async () => {
    const next = await ws.cli([
      'apply',
      '--dir',
      PROJECT,
      '--env',
      'qa',
      '--auto-approve',
      '--json',
    ]);
    expect(next.exitCode).toBe(0);
    expect(parseJson(next)).toMatchObject({ status: 'succeeded', phase: 'applied' });
  });
});
