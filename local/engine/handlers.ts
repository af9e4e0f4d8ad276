// The local side of each Task state: the same table of core steps the Lambdas run
// (core/task-steps.ts), over the local ports (SQLite, files, child processes), and the Batch
// integration as an executor child process.
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ApprovalExpired, ApprovalRejected, InvalidInput } from '../../core/errors.ts';
import type { JobSettings } from '../../core/run.ts';
import {
  type ApproverLinks,
  approvedOutput,
  newTaskToken,
  rejectedCause,
} from '../../core/steps.ts';
import { type AnnouncedApproval, TASK_STEPS, type TaskPorts } from '../../core/task-steps.ts';
import { parseInput } from '../../core/validation.ts';
import type { JobInput } from '../../core/contracts/job-input.ts';
import { type ExecutorRun, runExecutorProcess } from '../executor-process.ts';
import { STOP_TIMINGS, type StopTimings, stopGroup } from './processes.ts';
import { localPorts } from './local-ports.ts';
import type { LocalNotifier } from './notifier.ts';
import type { LocalStores } from './store/local-stores.ts';

export interface ApprovalRequest {
  runId: string;
  approvalId: string;
  /** The bare links: only without an approver list. */
  approveUrl?: string;
  rejectUrl?: string;
  /** With an approver list: each approver's own links, for the terminal that ran the run. */
  approverLinks?: readonly ApproverLinks[];
  expiresAt: string;
  /** A policy override: the blocking sets, and the owners who alone may decide it. */
  policyOverride?: { readonly blockedBy: readonly string[]; readonly owners: readonly string[] };
}

export interface HandlerContext {
  readonly stores: LocalStores;
  readonly settings: JobSettings;
  readonly notifier: LocalNotifier;
  readonly signingKey: Buffer;
  /** Where `stepform serve` answers approval links. */
  readonly approvalBaseUrl: string;
  /** STEPFORM_APPROVERS: when set, each approver gets links of their own. */
  readonly approvers?: readonly string[];
  /** Environment of the executor child processes. */
  readonly executorEnv: NodeJS.ProcessEnv;
  readonly now: () => Date;
  /** Aborted when the execution ends: stops an approval wait that nobody answers. */
  readonly signal: AbortSignal;
  /** The run this engine runs (its jobs' process groups are recorded on it). */
  readonly runId: string;
  /** Aborted when the run is cancelled: the job gets SIGINT and stops gracefully. */
  readonly cancel: AbortSignal;
  /** Aborted when stopping must not wait any longer (a second Ctrl-C): SIGKILL. */
  readonly force: AbortSignal;
  /** The work folder root of this run's jobs, removed after each job. */
  readonly workRoot: string;
  /** Every job still running or stopping: the engine waits for them before it unlocks. */
  readonly jobs: Set<Promise<unknown>>;
  readonly stopTimings?: StopTimings;
  readonly approvalPollMs?: number;
  readonly onApprovalRequested?: (request: ApprovalRequest) => void;
}

export type TaskHandler = (input: unknown) => Promise<unknown>;

const BATCH_INPUT = z.looseObject({
  JobName: z.string(),
  ContainerOverrides: z.looseObject({
    Environment: z.array(z.strictObject({ Name: z.string(), Value: z.string() })),
  }),
});

/** Errors that the Batch integration reports as States.TaskFailed on AWS. */
class BatchJobFailed extends Error {
  override readonly name = 'States.TaskFailed';
}

/** The Task steps' ports over the local adapters. */
function localTaskPorts(ctx: HandlerContext): TaskPorts {
  return {
    ...localPorts(ctx.stores),
    now: () => ctx.now(),
    jobSettings: ctx.settings,
    notifyPorts: async () => Promise.resolve(ctx.notifier.ports()),
    // The CLI's --auto-approve: whoever runs the engine decides for their own machine.
    allowAutoApprove: true,
    // Locally any repository is the user's own: none is refused, and no code host is asked
    // whether a commit is merged (the user applies what they chose to).
    repositoryPin: { kind: 'any' },
    defaultBranchCheck: async () => Promise.resolve('not-required' as const),
    approvalSigning: async () =>
      Promise.resolve({
        signingKey: ctx.signingKey,
        baseUrl: ctx.approvalBaseUrl,
        ...(ctx.approvers ? { approvers: ctx.approvers } : {}),
      }),
    taskToken: newTaskToken,
    awaitDecision: async (request) => awaitDecision(ctx, request),
    // A failed channel is in the Notify state's output, which the run's log keeps.
    warn: () => undefined,
  };
}

/**
 * The Lambda functions, by the name their placeholder gives them (LockFunctionArn → Lock):
 * the Task steps' table (core/task-steps.ts), the same the Lambdas run, over the local ports.
 */
export function localFunctions(ctx: HandlerContext): Record<string, TaskHandler> {
  // The ports are made when a step runs, so the table can be wired before the engine is
  // (the state-machines tests do).
  return Object.fromEntries(
    Object.entries(TASK_STEPS).map(([name, step]) => [
      name,
      async (input: unknown) => step(input, localTaskPorts(ctx)),
    ]),
  );
}

/**
 * The waitForTaskToken step, once its approval is requested: the local engine has no
 * callback, so the task itself waits until the approval is decided in the store, or expires.
 */
async function awaitDecision(ctx: HandlerContext, request: AnnouncedApproval): Promise<unknown> {
  const { run, approval, links, approverLinks, policyOverride } = request;
  const { approvals } = ctx.stores;
  ctx.onApprovalRequested?.({
    runId: run.runId,
    approvalId: approval.id,
    ...(links ? { approveUrl: links.approve, rejectUrl: links.reject } : {}),
    ...(approverLinks ? { approverLinks } : {}),
    ...(policyOverride ? { policyOverride } : {}),
    expiresAt: approval.expiresAt,
  });
  const expiresAt = new Date(approval.expiresAt);
  for (;;) {
    // The execution is over (timed out or stopped): leave without touching the store.
    if (ctx.signal.aborted) throw new ApprovalExpired('the run stopped waiting for a decision');
    const current = await approvals.get(approval.id);
    if (current?.status === 'approved') return approvedOutput(current);
    if (current?.status === 'rejected') {
      throw new ApprovalRejected(rejectedCause(current));
    }
    if (ctx.now() > expiresAt) {
      // Marking it expired can lose to a decision made at the last moment: then read that.
      if (await approvals.decide(approval.id, 'expired', null, ctx.now().toISOString())) {
        throw new ApprovalExpired(`no decision before ${approval.expiresAt}`);
      }
      continue;
    }
    await sleep(ctx.approvalPollMs ?? 250, undefined, { signal: ctx.signal }).catch(
      () => undefined,
    );
  }
}

/** The Batch submitJob.sync integration: the executor as a child process. */
export function localBatch(ctx: HandlerContext): TaskHandler {
  return async (input) => {
    const request = parseInput(BATCH_INPUT, input, 'batch');
    const value = request.ContainerOverrides.Environment.find(
      (e) => e.Name === 'STEPFORM_JOB',
    )?.Value;
    if (value === undefined)
      throw new InvalidInput('batch.ContainerOverrides', 'has no STEPFORM_JOB');
    const job = JSON.parse(value) as JobInput;
    const running = runJob(ctx, job);
    ctx.jobs.add(running);
    try {
      const ran = await running;
      if (ran.exitCode !== 0) {
        throw new BatchJobFailed(
          `job ${request.JobName} exited ${ran.exitCode}: ${ran.result?.error?.message ?? ran.stderr.trim().slice(0, 500)}`,
        );
      }
    } finally {
      ctx.jobs.delete(running);
    }
    return { JobId: randomUUID(), JobName: request.JobName, Status: 'SUCCEEDED' };
  };
}

/**
 * One executor process, and nothing of it left afterwards: once it exits (or dies), whatever
 * it left in its process group (a Terraform still applying after a SIGKILL of the executor)
 * is stopped, and its work folder removed, before the run goes on to its next state.
 */
async function runJob(ctx: HandlerContext, job: JobInput): Promise<ExecutorRun> {
  let group: number | undefined;
  const timings = ctx.stopTimings ?? STOP_TIMINGS;
  // Cancelled: SIGINT to the executor (by runExecutorProcess), then the group for good if it
  // takes longer than Terraform's graceful stop may, or at once on a second Ctrl-C.
  let escalation: NodeJS.Timeout | undefined;
  const forceStop = () => {
    if (group !== undefined) void stopGroup(group, { force: true });
  };
  const onCancel = () => {
    escalation = setTimeout(() => {
      if (group !== undefined) void stopGroup(group, { timings: { ...timings, interruptMs: 0 } });
    }, timings.interruptMs);
  };
  ctx.cancel.addEventListener('abort', onCancel, { once: true });
  ctx.force.addEventListener('abort', forceStop, { once: true });
  const workRoot = join(ctx.workRoot, randomUUID());
  try {
    return await runExecutorProcess(job, {
      env: {
        ...ctx.executorEnv,
        STEPFORM_WORK_ROOT: workRoot,
        // A plan job's checkout, initialised, for the run's apply job; removed with the run.
        STEPFORM_PREPARED_ROOT: join(ctx.workRoot, 'prepared'),
      },
      signal: ctx.cancel,
      onSpawn: (pid) => {
        group = pid;
        ctx.stores.runs.setJobGroup(ctx.runId, pid);
      },
    });
  } finally {
    clearTimeout(escalation);
    ctx.cancel.removeEventListener('abort', onCancel);
    ctx.force.removeEventListener('abort', forceStop);
    if (group !== undefined) await stopGroup(group, { timings });
    ctx.stores.runs.setJobGroup(ctx.runId, null);
    await rm(workRoot, { recursive: true, force: true });
  }
}
