// The embedded engine: runs the very ASL files CDK deploys, with aws-local-stepfunctions,
// each Task state answered by its local adapter. Every state's entry, exit, duration and
// error go to the store (for `stepform logs`) and to the caller as progress.
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeError } from '../../core/errors.ts';
import type { RunContext } from '../../core/contracts/workflow-input.ts';
import { type AslDefinition, allStates } from '../../state-machines/workflows.ts';
import { loadLocalDefinition, localFunctionName, localStateMachine } from './asl.ts';
import { noteRunEnded } from './audit-notes.ts';
import { notifyEnded } from './notifier.ts';
import { type HandlerContext, type TaskHandler, localBatch, localFunctions } from './handlers.ts';
import { releaseRunLeftovers } from '../../core/steps.ts';
import { HEARTBEAT_INTERVAL_MS } from '../../core/liveness.ts';
import { thisProcess } from './processes.ts';
import type { RunRow } from './store/sqlite-runs.ts';

export interface StateProgress {
  readonly runId: string;
  readonly type: 'entered' | 'exited' | 'failed' | 'retried' | 'caught';
  readonly state: string;
  readonly durationMs?: number;
  readonly error?: string;
  /**
   * A failed state's error name alone: the progress line shows it, since the run's end shows
   * its error once, whole (the store keeps `error` for `stepform logs`).
   */
  readonly errorName?: string;
}

/** Makes a state's adapter fail a given number of times before it works (scenario tests). */
export interface FaultInjection {
  readonly times: number;
  readonly error: string;
  readonly message?: string;
  /** How many calls work before the faults start (0 by default): the third project's, say. */
  readonly after?: number;
}

export interface EngineOptions extends Omit<
  HandlerContext,
  'signal' | 'runId' | 'cancel' | 'force' | 'jobs' | 'workRoot'
> {
  /** Where the run's jobs work (one folder each, removed after it): by default in tmpdir. */
  readonly workRoot?: string;
  /**
   * Cancels the run (Ctrl-C, SIGTERM): the execution stops, its job is stopped gracefully, then
   * the lock is released, the approval expired, and the run ends `cancelled`; no rollback.
   */
  readonly cancel?: AbortSignal;
  /** Stops the job at once (SIGKILL to its process group) instead of waiting for it. */
  readonly force?: AbortSignal;
  readonly onProgress?: (progress: StateProgress) => void;
  readonly faults?: Readonly<Record<string, FaultInjection>>;
  /** Milliseconds to wait before each retry, by state name (tests make lock waits short). */
  readonly retryIntervalOverrides?: Readonly<Record<string, number>>;
  /** Skip the git note (the repository is not local or not writable). */
  readonly auditNotes?: boolean;
}

export interface RunOutcome {
  readonly status: 'succeeded' | 'failed' | 'cancelled';
  readonly error?: { name: string; message: string };
  readonly run: RunRow;
}

class InjectedFault extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

function withFault(handler: TaskHandler, fault: FaultInjection | undefined): TaskHandler {
  if (!fault) return handler;
  let failures = 0;
  let calls = 0;
  return async (input) => {
    calls += 1;
    if (calls > (fault.after ?? 0) && failures < fault.times) {
      failures += 1;
      throw new InjectedFault(
        fault.error,
        fault.message ?? `injected failure ${failures} of ${fault.times}`,
      );
    }
    return handler(input);
  };
}

/** The local handler of every Task state of a definition, keyed by state name. */
export function taskOverrides(
  definition: AslDefinition,
  functions: Record<string, TaskHandler>,
  batch: TaskHandler,
  faults: Readonly<Record<string, FaultInjection>> = {},
): Record<string, TaskHandler> {
  const overrides: Record<string, TaskHandler> = {};
  for (const [name, state] of allStates(definition)) {
    if (state.Type !== 'Task') continue;
    const resource = state.Resource ?? '';
    let handler: TaskHandler;
    if (resource === 'arn:aws:states:::batch:submitJob.sync') {
      handler = batch;
    } else if (resource === 'arn:aws:states:::lambda:invoke.waitForTaskToken') {
      const fn = functions[localFunctionName(String(state.Parameters?.FunctionName)) ?? ''];
      if (!fn)
        throw new Error(
          `state ${name}: no local function for ${String(state.Parameters?.FunctionName)}`,
        );
      handler = async (input) => fn((input as { Payload: unknown }).Payload);
    } else {
      const fn = functions[localFunctionName(resource) ?? ''];
      if (!fn) throw new Error(`state ${name}: no local handler for ${resource}`);
      handler = fn;
    }
    overrides[name] = withFault(handler, faults[name]);
  }
  return overrides;
}

/**
 * A safety net under the state machine: Catch paths release the lock, but an error that no
 * Catch can match (States.Runtime, a bad path) ends the execution at once. Whatever the run
 * still holds is released here and recorded, so a lock never outlives its run locally. (On
 * AWS an EventBridge rule on ended executions runs the ExecutionEnded Lambda for the same.)
 */
async function releaseLeftovers(
  run: RunContext,
  options: EngineOptions,
  why = 'the execution ended without releasing it',
): Promise<void> {
  const { stores } = options;
  const now = options.now();
  const { released } = await releaseRunLeftovers(run, stores, now);
  if (released) {
    const detail = `lock released by the engine: ${why}`;
    stores.runs.addEvent({
      runId: run.runId,
      at: now.toISOString(),
      type: 'failed',
      state: 'Engine',
      durationMs: null,
      detail,
    });
    options.onProgress?.({ runId: run.runId, type: 'failed', state: 'Engine', error: detail });
  }
}

function cancelReason(options: EngineOptions): string {
  const reason: unknown = options.cancel?.reason;
  return typeof reason === 'string' ? reason : 'the run was cancelled';
}

/**
 * A state's name in progress lines and logs; inside a Map iteration, with the project it works
 * on (`RunPlanJob [network]`), so that the iterations' lines and durations stay apart.
 */
export function stateLabel(
  state: { name: string; input?: { project?: { name?: unknown } } },
  index: number | undefined,
): string {
  if (index === undefined) return state.name;
  const project = state.input?.project?.name;
  return `${state.name} [${typeof project === 'string' ? project : `#${index}`}]`;
}

/**
 * Runs one workflow to its end. The input must already be valid (the CLI checks it first, so
 * that bad input records no run); PrepareRun validates it again, as on AWS.
 */
export async function runWorkflow(run: RunContext, options: EngineOptions): Promise<RunOutcome> {
  const { stores } = options;
  const definition = await loadLocalDefinition(run.workflow);
  const startedAt = options.now();
  stores.runs.create({
    runId: run.runId,
    workflow: run.workflow,
    environment: run.environment,
    projectDir: run.projectDir,
    repository: run.repository,
    commit: run.commit,
    startedAt: startedAt.toISOString(),
  });
  // Held by this process, which beats while it runs: a run whose process dies is found
  // interrupted by the next command (reaper.ts), and its lock taken over.
  stores.runs.hold(run.runId, thisProcess(startedAt));
  const heartbeat = setInterval(() => {
    stores.runs.heartbeat(run.runId, options.now().toISOString());
  }, HEARTBEAT_INTERVAL_MS);
  heartbeat.unref();
  const controller = new AbortController();
  const cancel = new AbortController();
  const ctx: HandlerContext = {
    ...options,
    signal: controller.signal,
    runId: run.runId,
    cancel: cancel.signal,
    force: options.force ?? new AbortController().signal,
    jobs: new Set(),
    workRoot: options.workRoot ?? join(tmpdir(), 'stepform-work', run.runId),
  };
  const overrides = taskOverrides(definition, localFunctions(ctx), localBatch(ctx), options.faults);
  const machine = await localStateMachine(definition, options.executorEnv);
  const execution = machine.run(run, {
    overrides: {
      taskResourceLocalHandlers: overrides as never,
      ...(options.retryIntervalOverrides
        ? { retryIntervalOverrides: { ...options.retryIntervalOverrides } }
        : {}),
    },
    context: {
      Execution: {
        Id: `arn:aws:states:us-east-1:000000000000:execution:stepform-local-${run.workflow}:${run.runId}`,
        Name: run.runId,
        Input: run,
        StartTime: startedAt.toISOString(),
      },
      Task: { Token: `local-${run.runId}` },
    },
  });

  const onCancel = () => {
    cancel.abort();
    controller.abort();
    execution.abort();
  };
  if (options.cancel?.aborted) onCancel();
  else options.cancel?.addEventListener('abort', onCancel, { once: true });

  const entered = new Map<string, number>();
  const record = async () => {
    for await (const event of execution.eventLogs) {
      const e = event as {
        type: string;
        timestamp: number;
        /** Set on the events of a Map state's iterations: which item. */
        index?: number;
        state?: { name: string; input?: { project?: { name?: unknown } } };
        Error?: string;
        Cause?: unknown;
      };
      const state = e.state ? stateLabel(e.state, e.index) : undefined;
      if (!state) continue;
      const at = new Date(e.timestamp).toISOString();
      let progress: StateProgress | undefined;
      switch (e.type) {
        case 'StateEntered':
          entered.set(state, e.timestamp);
          progress = { runId: run.runId, type: 'entered', state };
          break;
        case 'StateExited':
          progress = {
            runId: run.runId,
            type: 'exited',
            state,
            durationMs: e.timestamp - (entered.get(state) ?? e.timestamp),
          };
          break;
        case 'StateFailed':
          progress = {
            runId: run.runId,
            type: 'failed',
            state,
            durationMs: e.timestamp - (entered.get(state) ?? e.timestamp),
            error: `${e.Error ?? 'Error'}: ${typeof e.Cause === 'string' ? e.Cause : JSON.stringify(e.Cause ?? '')}`,
            errorName: e.Error ?? 'Error',
          };
          break;
        case 'StateRetried':
          progress = { runId: run.runId, type: 'retried', state };
          break;
        case 'StateCaught':
          progress = { runId: run.runId, type: 'caught', state };
          break;
        default:
          continue;
      }
      stores.runs.addEvent({
        runId: run.runId,
        at,
        type: progress.type,
        state,
        durationMs: progress.durationMs ?? null,
        detail: progress.error ?? null,
      });
      options.onProgress?.(progress);
    }
  };
  const recording = record();

  let outcome: Pick<RunOutcome, 'status' | 'error'>;
  try {
    await execution.result;
    outcome = { status: 'succeeded' };
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    outcome = cancel.signal.aborted
      ? { status: 'cancelled', error: { name: 'RunCancelled', message: cancelReason(options) } }
      : { status: 'failed', error: describeError(cause) };
  } finally {
    options.cancel?.removeEventListener('abort', onCancel);
    controller.abort();
  }
  // Nothing is unlocked while a process of the run may still change the state.
  await Promise.allSettled([...ctx.jobs]);
  await rm(ctx.workRoot, { recursive: true, force: true });
  clearInterval(heartbeat);
  await recording;
  if (outcome.status === 'cancelled') {
    await releaseLeftovers(run, options, 'the run was cancelled');
    await notifyEnded(run, 'cancelled', outcome.error, options);
  } else {
    await releaseLeftovers(run, options);
  }
  const finishedAt = options.now().toISOString();
  stores.runs.finish(
    run.runId,
    outcome.status,
    finishedAt,
    outcome.error ? `${outcome.error.name}: ${outcome.error.message}` : null,
  );
  const row = stores.runs.get(run.runId);
  if (!row) throw new Error(`run ${run.runId} vanished from the store`);
  if (options.auditNotes !== false) {
    const phases = stores.outbox.list(run.runId).map((o) => o.phase);
    const approvals = stores.approvals.listForRun(run.runId);
    await noteRunEnded(row, { status: outcome.status, phases, finishedAt }, approvals).catch(
      (error: unknown) => {
        options.onProgress?.({
          runId: run.runId,
          type: 'failed',
          state: 'AuditNote',
          error: describeError(error).message,
        });
      },
    );
  }
  return { ...outcome, run: row };
}
