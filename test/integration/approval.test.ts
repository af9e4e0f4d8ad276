// The approval step through the real CLI: `stepform apply` waits in one process while
// `stepform approve|reject RUN_ID` decides in another; and a request nobody answers expires.
// One repository and home; each test has its own environment, so they never share a lock.
import { APPROVED_APPLY_PHASES } from '../support/workflow-paths.ts';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { STATUS_EVENT } from '../../core/contracts/status-event.ts';
import { parseAuditNote } from '../../core/audit.ts';
import type { RunEventRow } from '../../local/engine/store/sqlite-runs.ts';
import {
  HELLO_RESOURCES,
  PROJECT,
  type RunJson,
  type RunningCli,
  type Workspace,
  helloWorkspace,
  parseJson,
  waitFor,
} from '../support/cli.ts';

let ws: Workspace;
/** The three applies, each in its own environment, started together to keep the suite short. */
let toApprove: RunningCli;
let toReject: RunningCli;
let toExpire: RunningCli;

function startApply(environment: string, approvalTimeout: string): RunningCli {
  return ws.start([
    'apply',
    '--dir',
    PROJECT,
    '--env',
    environment,
    '--approval-timeout',
    approvalTimeout,
    '--json',
  ]);
}

beforeAll(async () => {
  ws = await helloWorkspace();
  toApprove = startApply('approved', '2m');
  toReject = startApply('rejected', '2m');
  toExpire = startApply('expired', '3s');
});

afterAll(() => {
  ws.close();
});

/** Waits until the apply in `environment` awaits a decision and has said how to give one. */
async function awaitingApproval(running: RunningCli, environment: string): Promise<string> {
  const store = ws.store();
  return waitFor(
    () => `a pending approval in ${environment}\n${running.stderr()}`,
    () => {
      const run = store.runs.list(1000).find((r) => r.environment === environment);
      if (!run || store.approvals.forRun(run.runId)?.status !== 'pending') return undefined;
      return running.stderr().includes(`reject:  npx stepform reject ${run.runId}`)
        ? run.runId
        : undefined;
    },
    90_000,
  );
}

describe('approve', () => {
  let runId: string;
  let applied: RunJson;

  it('a second process approves: the waiting apply goes on and applies (exit 0)', async () => {
    runId = await awaitingApproval(toApprove, 'approved');
    const store = ws.store();
    // Nothing is applied while the run waits.
    expect(ws.state('approved')).toBeUndefined();
    expect(store.locks.locksOf('approved').map((lock) => lock.owner)).toEqual([runId]);
    expect(toApprove.stderr()).toContain(`approve: npx stepform approve ${runId}`);

    const approve = await ws.cli(['approve', runId, '--by', 'alice', '--json']);
    expect(approve.exitCode).toBe(0);
    expect(parseJson(approve) as Record<string, unknown>).toMatchObject({
      runId,
      status: 'approved',
      by: 'alice',
    });

    const result = await toApprove.done;
    if (result.exitCode !== 0)
      throw new Error(`apply exited ${result.exitCode}:\n${result.stderr}`);
    applied = parseJson(result) as RunJson;
    expect(applied).toMatchObject({
      runId,
      workflow: 'plan-apply',
      status: 'succeeded',
      environment: 'approved',
      phase: 'applied',
      summary: { add: 3, change: 0, destroy: 0 },
    });
    expect(ws.resources('approved')).toEqual(HELLO_RESOURCES);
    expect(store.approvals.forRun(runId)).toMatchObject({
      status: 'approved',
      decidedBy: 'alice',
      environment: 'approved',
      commit: ws.commit,
    });
    expect((await store.records.getLastGood('approved', PROJECT))?.commit).toBe(ws.commit);
    expect(store.locks.locksOf('approved')).toEqual([]);
  });

  it('a second approve of the same run exits 2 (ApprovalAlreadyDecided)', async () => {
    const again = await ws.cli(['approve', runId]);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain('ApprovalAlreadyDecided');
    const reject = await ws.cli(['reject', runId]);
    expect(reject.exitCode).toBe(2);
    expect(reject.stderr).toContain('ApprovalAlreadyDecided');
    expect(ws.store().approvals.forRun(runId)).toMatchObject({
      status: 'approved',
      decidedBy: 'alice',
    });
  });

  it('the outbox holds the phases in order, each a valid status event', () => {
    const outbox = ws.store().outbox.list(runId);
    expect(outbox.map((o) => o.phase)).toEqual(APPROVED_APPLY_PHASES);
    const events = outbox.map((o) => STATUS_EVENT.parse(o.body));
    for (const event of events) {
      expect(event).toMatchObject({
        schemaVersion: 2,
        runId,
        workflow: 'plan-apply',
        environment: 'approved',
        projects: [{ name: PROJECT, dir: PROJECT }],
        commit: ws.commit,
      });
    }
    expect(events.map((e) => e.phase)).toEqual(outbox.map((o) => o.phase));
    const times = events.map((e) => Date.parse(e.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(events.find((e) => e.phase === 'awaiting_approval')?.projects).toEqual([
      {
        name: PROJECT,
        dir: PROJECT,
        status: 'planned',
        summary: { add: 3, change: 0, destroy: 0 },
      },
    ]);
  });

  it('names who decided, when and where: every event after the decision, logs and the git note', async () => {
    const decided = ws.store().approvals.forRun(runId)!;
    expect(decided).toMatchObject({ decidedBy: 'alice', decidedVia: 'cli' });
    const actor = { name: 'alice', at: decided.decidedAt, channel: 'cli' };
    const events = ws
      .store()
      .outbox.list(runId)
      .map((o) => STATUS_EVENT.parse(o.body));
    expect(events.map((e) => [e.phase, e.actor])).toEqual([
      ['started', undefined],
      ['planned', undefined],
      ['awaiting_approval', undefined],
      ['approved', actor],
      ['applying', actor],
      ['applied', actor],
    ]);

    const logs = await ws.cli(['logs', runId]);
    expect(logs.stdout).toContain(`\napproved by alice via the CLI at ${decided.decidedAt}\n`);
    const logsJson = parseJson(await ws.cli(['logs', runId, '--json'])) as Record<string, unknown>;
    expect(logsJson).toMatchObject({ decision: 'approved', actor });

    const note = await ws.git(['notes', '--ref=refs/notes/stepform', 'show', ws.commit]);
    expect(parseAuditNote(note).find((block) => block['stepform-run'] === runId)).toMatchObject({
      'approved-by': 'alice',
      'decided-at': decided.decidedAt,
      'decided-via': 'cli',
    });
  });
});

describe('reject', () => {
  it('exits 1, applies nothing, releases the lock, and records the rejection', async () => {
    const runId = await awaitingApproval(toReject, 'rejected');
    expect(ws.state('rejected')).toBeUndefined();
    const reject = await ws.cli(['reject', runId, '--by', 'bob']);
    expect(reject.exitCode).toBe(0);
    expect(reject.stdout).toContain(`run ${runId}: rejected by bob`);

    const result = await toReject.done;
    expect(result.exitCode).toBe(1);
    const run = parseJson(result) as RunJson;
    expect(run).toMatchObject({
      runId,
      status: 'failed',
      phase: 'rejected',
      error: { name: 'ApprovalRejected' },
    });
    const store = ws.store();
    expect(ws.state('rejected')).toBeUndefined();
    expect(store.locks.locksOf('rejected')).toEqual([]);
    expect(store.locks.lockHistory('rejected').map((l) => l.owner)).toEqual([runId]);
    expect(await store.records.getLastGood('rejected', PROJECT)).toBeUndefined();
    expect(store.approvals.forRun(runId)).toMatchObject({ status: 'rejected', decidedBy: 'bob' });
    const phases = store.outbox.list(runId).map((o) => o.phase);
    expect(phases).toEqual(['started', 'planned', 'awaiting_approval', 'rejected']);
    expect(phases).not.toContain('applying');
    // The rejection names who rejected it, and where.
    expect(STATUS_EVENT.parse(store.outbox.list(runId).at(-1)?.body).actor).toMatchObject({
      name: 'bob',
      channel: 'cli',
    });
    // Approving after the rejection is refused.
    const late = await ws.cli(['approve', runId]);
    expect(late.exitCode).toBe(2);
    expect(late.stderr).toContain('ApprovalAlreadyDecided');
  });
});

describe('approval timeout', () => {
  it('with nobody answering, ends expired (exit 1), applies nothing, releases the lock', async () => {
    const result = await toExpire.done;
    expect(result.exitCode).toBe(1);
    const run = parseJson(result) as RunJson;
    expect(run).toMatchObject({
      status: 'failed',
      phase: 'expired',
      error: { name: 'ApprovalExpired' },
    });
    // It waited the 3 s it was given.
    const approval = ws.store().approvals.forRun(run.runId)!;
    expect(Date.parse(approval.expiresAt) - Date.parse(approval.requestedAt)).toBe(3_000);
    expect(Date.parse(run.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(approval.expiresAt));
    const store = ws.store();
    expect(ws.state('expired')).toBeUndefined();
    expect(store.locks.locksOf('expired')).toEqual([]);
    expect(await store.records.getLastGood('expired', PROJECT)).toBeUndefined();
    const expired = store.approvals.forRun(run.runId);
    expect(expired).toMatchObject({ status: 'expired' });
    expect(expired).not.toHaveProperty('decidedBy'); // nobody decided
    expect(store.outbox.list(run.runId).map((o) => o.phase)).toEqual([
      'started',
      'planned',
      'awaiting_approval',
      'expired',
    ]);
    const events: RunEventRow[] = store.runs.listEvents(run.runId);
    expect(events.some((e) => e.type === 'failed' && e.state === 'RequestApproval')).toBe(true);
    // A decision after the expiry is refused, and changes nothing.
    const late = await ws.cli(['approve', run.runId]);
    expect(late.exitCode).toBe(2);
    expect(late.stderr).toMatch(/ApprovalAlreadyDecided|ApprovalExpired/);
    expect(store.approvals.forRun(run.runId)?.status).toBe('expired');
  });
});
