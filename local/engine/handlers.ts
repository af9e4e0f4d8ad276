// The local adapters behind each Task state. Each one does what its Lambda does on AWS, by
// calling the same core function with the local ports (SQLite, files, child processes).
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ApprovalExpired, ApprovalRejected, InvalidInput } from '../../core/errors.ts';
import type { JobSettings } from '../../core/run.ts';
import {
  collectStep,
  lockStep,
  newTaskToken,
  prepareStep,
  recordStep,
  requestApprovalStep,
  rollbackStep,
  scheduleStep,
  unlockStep,
} from '../../core/steps.ts';
import { parseInput } from '../../core/validation.ts';
import type { JobInput } from '../../core/contracts/job-input.ts';
import { runExecutorProcess } from '../executor-process.ts';
import { type LocalPorts, localPorts } from './local-ports.ts';
import type { LocalNotifier } from './notifier.ts';
import type { LocalStores } from './store/local-stores.ts';

export interface ApprovalRequest {
  runId: string;
  approvalId: string;
  approveUrl: string;
  rejectUrl: string;
  expiresAt: string;
}

export interface HandlerContext {
  readonly stores: LocalStores;
  readonly settings: JobSettings;
  readonly notifier: LocalNotifier;
  readonly signingKey: Buffer;
  /** Where `stepform serve` answers approval links. */
  readonly approvalBaseUrl: string;
  /** Environment of the executor child processes. */
  readonly executorEnv: NodeJS.ProcessEnv;
  readonly now: () => Date;
  /** Aborted when the execution ends: stops an approval wait that nobody answers. */
  readonly signal: AbortSignal;
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

/**
 * The Lambda functions, by the name their placeholder gives them (LockFunctionArn → Lock):
 * the same core steps the Lambdas run, over the local ports.
 */
export function localFunctions(ctx: HandlerContext): Record<string, TaskHandler> {
  const ports = localPorts(ctx.stores);
  return {
    PrepareRun: async (input) => Promise.resolve(prepareStep(input, ctx.settings)),
    Lock: async (input) => lockStep(input, ports.locks, ctx.now()),
    Unlock: async (input) => unlockStep(input, ports.locks, ctx.now()),
    CollectJobResult: async (input) => collectStep(input, ports.artifacts),
    Notify: async (input) => ctx.notifier.notify(input, ctx.now()),
    Record: async (input) => recordStep(input, ports, ctx.now()),
    Rollback: async (input) => rollbackStep(input, ports.records),
    Schedule: async (input) => scheduleStep(input, ports.schedules, ctx.now()),
    RequestApproval: async (input) => requestApproval(ctx, ports, input),
  };
}

/**
 * The waitForTaskToken step. The local engine gives one token per run, so each waiting task
 * mints its own; then it waits until the approval is decided in the store, or expires.
 */
async function requestApproval(
  ctx: HandlerContext,
  ports: LocalPorts,
  input: unknown,
): Promise<unknown> {
  const now = ctx.now();
  const { run, approval, links, plan } = await requestApprovalStep(input, ports.approvals, {
    now,
    signingKey: ctx.signingKey,
    baseUrl: ctx.approvalBaseUrl,
    taskToken: newTaskToken(),
  });
  await ctx.notifier.notify(
    { run, phase: 'awaiting_approval', result: plan, links, approvalId: approval.id },
    now,
  );
  ctx.onApprovalRequested?.({
    runId: run.runId,
    approvalId: approval.id,
    approveUrl: links.approve,
    rejectUrl: links.reject,
    expiresAt: approval.expiresAt,
  });
  const expiresAt = new Date(approval.expiresAt);
  for (;;) {
    // The execution is over (timed out or stopped): leave without touching the store.
    if (ctx.signal.aborted) throw new ApprovalExpired('the run stopped waiting for a decision');
    const current = await ports.approvals.get(approval.id);
    if (current?.status === 'approved')
      return { approvedBy: current.decidedBy, decidedAt: current.decidedAt };
    if (current?.status === 'rejected') {
      throw new ApprovalRejected(
        `rejected by ${current.decidedBy ?? 'someone'} at ${current.decidedAt ?? '?'}`,
      );
    }
    if (ctx.now() > expiresAt) {
      // Marking it expired can lose to a decision made at the last moment: then read that.
      if (await ports.approvals.decide(approval.id, 'expired', null, ctx.now().toISOString())) {
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
    const ran = await runExecutorProcess(job, { env: ctx.executorEnv });
    if (ran.exitCode !== 0) {
      throw new BatchJobFailed(
        `job ${request.JobName} exited ${ran.exitCode}: ${ran.result?.error?.message ?? ran.stderr.trim().slice(0, 500)}`,
      );
    }
    return { JobId: randomUUID(), JobName: request.JobName, Status: 'SUCCEEDED' };
  };
}
