// The local adapters behind each Task state. Each one does what its Lambda does on AWS, by
// calling the same core function with the local ports (SQLite, files, child processes).
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { approvalLink, newApprovalId } from '../../lambdas/core/approval.ts';
import { ApprovalExpired, ApprovalRejected, InvalidInput } from '../../lambdas/core/errors.ts';
import { DEFAULT_LOCK_TTL_MS } from '../../lambdas/core/locks.ts';
import {
  type JobSettings,
  OUTCOMES,
  RUN_INPUT,
  collectJobResult,
  environmentStatusAfter,
  planRollback,
  prepareRun,
  setsLastGood,
} from '../../lambdas/core/run.ts';
import { parseInput } from '../../lambdas/core/validation.ts';
import { JOB, type JobInput } from '../../executor-image/src/job.ts';
import { readResult, runExecutorProcess } from '../executor-process.ts';
import type { LocalNotifier } from './notifier.ts';
import type { Store } from './store.ts';

export interface ApprovalRequest {
  runId: string;
  approvalId: string;
  approveUrl: string;
  rejectUrl: string;
  expiresAt: string;
}

export interface HandlerContext {
  readonly store: Store;
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

const LOCK_INPUT = z.strictObject({ runId: z.string(), environment: z.string() });
const COLLECT_INPUT = z.strictObject({ job: JOB });
const RECORD_INPUT = z.looseObject({ run: RUN_INPUT, outcome: z.enum(OUTCOMES) });
const ROLLBACK_INPUT = z.looseObject({ run: RUN_INPUT, job: JOB });
const SCHEDULE_INPUT = z.strictObject({ action: z.enum(['upsert', 'delete']), run: RUN_INPUT });
const APPROVAL_INPUT = z.looseObject({
  taskToken: z.string(),
  run: RUN_INPUT,
  plan: z.looseObject({ plan: z.strictObject({ dir: z.string(), sha256: z.string() }) }),
});
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

/** The Lambda functions, by the name their placeholder gives them (LockFunctionArn → Lock). */
export function localFunctions(ctx: HandlerContext): Record<string, TaskHandler> {
  const { store } = ctx;
  return {
    PrepareRun: async (input) => {
      const { input: runInput } = z.looseObject({ input: z.unknown() }).parse(input);
      return Promise.resolve(prepareRun(runInput, ctx.settings));
    },

    Lock: async (input) => {
      const { runId, environment } = parseInput(LOCK_INPUT, input, 'lock');
      const lock = store.acquireLock(environment, runId, ctx.now(), DEFAULT_LOCK_TTL_MS);
      return Promise.resolve({ owner: lock.owner, expiresAt: lock.expiresAt });
    },

    Unlock: async (input) => {
      const { runId, environment } = parseInput(LOCK_INPUT, input, 'unlock');
      store.releaseLock(environment, runId, ctx.now());
      return Promise.resolve({ released: true });
    },

    CollectJobResult: async (input) => {
      const { job } = parseInput(COLLECT_INPUT, input, 'collect');
      return collectJobResult(job, await readResult(job.artifactsDir));
    },

    Notify: async (input) => ctx.notifier.notify(input, ctx.now()),

    Record: async (input) => {
      const record = parseInput(RECORD_INPUT, input, 'record');
      const { run, outcome } = record;
      const at = ctx.now().toISOString();
      if (setsLastGood(outcome))
        store.setLastGood(run.environment, run.projectDir, run.commit, run.runId, at);
      const status = environmentStatusAfter(outcome);
      const schedule = z.looseObject({ fireAt: z.string() }).optional().parse(record.schedule);
      if (status) {
        store.setEnvironment({
          environment: run.environment,
          projectDir: run.projectDir,
          status,
          ttlExpiresAt: schedule?.fireAt ?? null,
          lastRunId: run.runId,
          updatedAt: at,
        });
      }
      store.addRunDetails(run.runId, {
        outcome,
        ...(record.rollback ? { rollback: record.rollback } : {}),
        ...(record.error ? { error: record.error } : {}),
      });
      return Promise.resolve({ recorded: outcome });
    },

    Rollback: async (input) => {
      const { run, job } = parseInput(ROLLBACK_INPUT, input, 'rollback');
      const lastGood = store.getLastGood(run.environment, run.projectDir);
      return Promise.resolve(planRollback(run, job, lastGood?.commit));
    },

    Schedule: async (input) => {
      const { action, run } = parseInput(SCHEDULE_INPUT, input, 'schedule');
      if (action === 'delete') {
        store.setScheduleStatus(run.environment, run.projectDir, 'deleted');
        return { deleted: true };
      }
      if (run.ttlSeconds === undefined)
        throw new InvalidInput('run.ttlSeconds', 'is required to schedule');
      const fireAt = new Date(ctx.now().getTime() + run.ttlSeconds * 1000).toISOString();
      store.upsertSchedule({
        environment: run.environment,
        projectDir: run.projectDir,
        repository: run.repository,
        commit: run.commit,
        fireAt,
        status: 'pending',
        createdBy: run.runId,
      });
      return Promise.resolve({ fireAt });
    },

    RequestApproval: (input) => requestApproval(ctx, input),
  };
}

/**
 * The waitForTaskToken step: records the approval with a token of its own (the local engine
 * gives one token per run, so each waiting task mints its own), sends the signed links, and
 * waits until the approval is decided in the store, or expires.
 */
async function requestApproval(ctx: HandlerContext, input: unknown): Promise<unknown> {
  const { run, plan } = parseInput(APPROVAL_INPUT, input, 'approval');
  const now = ctx.now();
  const id = newApprovalId();
  const expiresAt = new Date(now.getTime() + run.approvalTimeoutSeconds * 1000);
  ctx.store.createApproval({
    id,
    runId: run.runId,
    taskToken: randomUUID(),
    environment: run.environment,
    projectDir: run.projectDir,
    commit: run.commit,
    planSha256: plan.plan.sha256,
    status: 'pending',
    requestedAt: now.toISOString(),
    expiresAt: expiresAt.toISOString(),
    decidedBy: null,
    decidedAt: null,
  });
  const link = (action: 'approve' | 'reject') =>
    approvalLink(ctx.approvalBaseUrl, { id, action, expiresAt }, ctx.signingKey);
  const links = { approve: link('approve'), reject: link('reject') };
  await ctx.notifier.notify({ run, phase: 'awaiting_approval', result: plan, links }, now);
  ctx.onApprovalRequested?.({
    runId: run.runId,
    approvalId: id,
    approveUrl: links.approve,
    rejectUrl: links.reject,
    expiresAt: expiresAt.toISOString(),
  });
  for (;;) {
    // The execution is over (timed out or stopped): leave without touching the store.
    if (ctx.signal.aborted) throw new ApprovalExpired('the run stopped waiting for a decision');
    const approval = ctx.store.getApproval(id);
    if (approval?.status === 'approved')
      return { approvedBy: approval.decidedBy, decidedAt: approval.decidedAt };
    if (approval?.status === 'rejected') {
      throw new ApprovalRejected(
        `rejected by ${approval.decidedBy ?? 'someone'} at ${approval.decidedAt ?? '?'}`,
      );
    }
    if (ctx.now() > expiresAt) {
      ctx.store.decideApproval(id, 'expired', null, ctx.now().toISOString());
      throw new ApprovalExpired(`no decision before ${expiresAt.toISOString()}`);
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
