// The verbs against a deployed stack (`--stack OUTPUTS.json`): what they read and change is on
// AWS (Step Functions, the table, the artifacts bucket), and what they print is rendered by
// the very functions the local verbs use.
import { BATCH_ARTIFACTS_ROOT, RUN_ID } from '../../../core/contracts/job-input.ts';
import { LOG_FILE } from '../../../core/contracts/job-result.ts';
import { InvalidInput, NotFound, RunNotWaiting } from '../../../core/errors.ts';
import { decideStep } from '../../../core/steps.ts';
import { parseInput } from '../../../core/validation.ts';
import { renderDecision } from '../approve.ts';
import { type RunLog, renderLog, renderRuns } from '../history.ts';
import type { Io } from '../io.ts';
import type { CliValues } from '../main.ts';
import {
  cliIdentity,
  renderCancelled,
  renderEnvironments,
  renderLocks,
  renderUnlock,
  type Cleared,
  locksToClear,
  unlockArguments,
  unlockDetail,
} from '../operate.ts';
import { renderShow } from '../show.ts';
import { stackConsoleSource } from './console-source.ts';
import { stackPolicyResults } from './policy-results.ts';
import { type StackOperator, withStack } from './stack.ts';
import { runArtifactsFolder } from '../../../core/run.ts';

/** The one run id a verb takes, checked. */
function oneRunId(verb: string, positionals: readonly string[]): string {
  if (positionals.length !== 1)
    throw new InvalidInput('RUN_ID', `${verb} takes exactly one run id`);
  return parseInput(RUN_ID, positionals[0], 'RUN_ID');
}

export async function stackRunsVerb(values: CliValues, io: Io): Promise<number> {
  return withStack(values, io, async (stack) => {
    renderRuns(await stack.runs(), values, io);
    return 0;
  });
}

/** The executor's log of each job of the run, from the artifacts bucket. */
async function jobLogs(stack: StackOperator, runId: string) {
  const folder = runArtifactsFolder(BATCH_ARTIFACTS_ROOT, runId);
  const names = await stack.aws.artifacts.listArtifacts(folder);
  const logs: { name: string; text: string }[] = [];
  for (const name of names.filter((n) => n === LOG_FILE || n.endsWith(`/${LOG_FILE}`))) {
    const body = await stack.aws.artifacts.getArtifact(folder, name);
    if (body) logs.push({ name, text: Buffer.from(body).toString('utf8') });
  }
  return logs;
}

export async function stackLogsVerb(
  positionals: readonly string[],
  values: CliValues,
  io: Io,
): Promise<number> {
  const runId = oneRunId('logs', positionals);
  return withStack(values, io, async (stack) => {
    const found = await stack.run(runId);
    const log: RunLog = {
      run: await stack.row(found),
      events: await stack.events(found.execution.executionArn),
      jobLogs: await jobLogs(stack, runId),
      approval: await stack.aws.approvals.latestForRun(runId),
      policy: await stackPolicyResults(stack.aws.artifacts, runId),
    };
    renderLog(log, values, io);
    return 0;
  });
}

/** `show --stack`: the run's plan diffs and policy verdicts, from the artifacts bucket. */
export async function stackShowVerb(
  positionals: readonly string[],
  values: CliValues,
  io: Io,
): Promise<number> {
  const runId = oneRunId('show', positionals);
  return withStack(values, io, async (stack) => {
    const row = await stack.row(await stack.run(runId));
    renderShow(
      runId,
      await stackConsoleSource(stack).planDiffs(row),
      await stackPolicyResults(stack.aws.artifacts, runId),
      values,
      io,
    );
    return 0;
  });
}

export async function stackLocksVerb(values: CliValues, io: Io): Promise<number> {
  return withStack(values, io, async (stack) => {
    renderLocks(await stack.locks(), values, io);
    return 0;
  });
}

export async function stackEnvsVerb(values: CliValues, io: Io): Promise<number> {
  return withStack(values, io, async (stack) => {
    renderEnvironments(await stack.environments(), values, io);
    return 0;
  });
}

/**
 * Clears locks whose run's execution no longer runs (--force: any): with --project, the named
 * projects' locks in ENV; without, every stale lock of ENV (see locksToClear). Who cleared
 * each is kept in the lock's run item (`unlocked`), beside its details. An environment the
 * stack never ran is a usage error naming ENV.
 */
export async function stackUnlockVerb(
  positionals: readonly string[],
  values: CliValues,
  io: Io,
): Promise<number> {
  const { environment, projects, by } = unlockArguments(positionals, values, io);
  return withStack(values, io, async (stack) => {
    const locks = await stack.locks();
    if (!locks.some((view) => view.environment === environment)) {
      const known = (await stack.aws.records.listEnvironments()).some(
        (record) => record.environment === environment,
      );
      if (!known)
        throw new InvalidInput(
          'ENV',
          `the stack ${stack.config.name} has no environment ${environment}`,
        );
    }
    const chosen = locksToClear(locks, environment, projects, values);
    const now = new Date();
    const cleared: Cleared[] = [];
    for (const lock of chosen) {
      const released = await stack.aws.locks.release(environment, lock.project, lock.owner, now);
      await stack.aws.runs.addRunDetails(lock.owner, {
        unlocked: { by, at: now.toISOString(), detail: unlockDetail(lock, by) },
      });
      cleared.push({ lock, released });
    }
    renderUnlock(cleared, by, values, io);
    return 0;
  });
}

/** How long `cancel --stack` waits for ExecutionEnded to have settled the run. */
const SETTLE_WAIT_MS = 90_000;

/**
 * Stops the run's execution (ABORTED); the ExecutionEnded rule then releases its lock, expires
 * its approval, records it cancelled and tells everyone. Waits (up to 90 s) until its
 * item says so.
 */
export async function stackCancelVerb(
  positionals: readonly string[],
  values: CliValues,
  io: Io,
): Promise<number> {
  const runId = oneRunId('cancel', positionals);
  return withStack(values, io, async (stack) => {
    const found = await stack.run(runId);
    if (found.execution.status !== 'RUNNING') {
      const row = await stack.row(found);
      throw new RunNotWaiting(`run ${runId} already ended ${row.status}`);
    }
    await stack.aws.executions.stop(
      found.execution.executionArn,
      `cancelled by ${cliIdentity(io)}`,
    );
    const details = await stack.awaitDetails(
      runId,
      (recorded) => recorded.outcome === 'cancelled',
      SETTLE_WAIT_MS,
    );
    const phase = typeof details.phase === 'string' ? details.phase : null;
    const result = { runId, status: 'cancelled', phase };
    if (result.phase !== 'cancelled') {
      io.err(
        `warning: run ${runId} is stopped, but ExecutionEnded has not recorded it yet (its lock and approval are released when it does)\n`,
      );
    }
    renderCancelled(result, values, io);
    return 0;
  });
}

/**
 * Decides the run's pending approval: recorded in the table (single use, conditional) and sent
 * to the waiting execution (SendTaskSuccess / SendTaskFailure), by the core decideStep.
 *
 * Who decided: `--by`, else USER@cli. The proof is the caller's AWS credentials (only those
 * allowed to write the table and send task results can decide), not the name. A stack with
 * an approver list is decided only as a listed approver (`--by`), so that the record names
 * one; Slack interactivity remains the way that proves who clicked.
 */
export async function stackDecideVerb(
  verb: 'approve' | 'reject',
  positionals: readonly string[],
  values: CliValues,
  io: Io,
): Promise<number> {
  const runId = oneRunId(verb, positionals);
  return withStack(values, io, async (stack) => {
    const { approvers } = stack.config;
    if (approvers && values.by === undefined) {
      throw new InvalidInput(
        '--by',
        `the stack ${stack.config.name} has an approver list: name yourself, one of ${approvers.join(', ')}`,
      );
    }
    const by = values.by ?? cliIdentity(io);
    await stack.run(runId);
    const approval = await stack.aws.approvals.latestForRun(runId);
    if (!approval) throw new NotFound(`run ${runId} has no approval request`);
    const now = new Date();
    const decided = await decideStep(
      {
        approvalId: approval.id,
        action: verb,
        by,
        now,
        via: 'cli',
        ...(approvers ? { approvers } : {}),
        ...(values.reason === undefined ? {} : { reason: values.reason }),
      },
      { approvals: stack.aws.approvals, callbacks: stack.aws.callbacks },
    );
    renderDecision({ runId, approvalId: approval.id, status: decided.status, by, now }, values, io);
    return 0;
  });
}
