// The embedded engine: runs the very ASL files CDK deploys, with aws-local-stepfunctions,
// each Task state answered by its local adapter. Every state's entry, exit, duration and
// error go to the store (for `stepform logs`) and to the caller as progress.
import { StateMachine } from 'aws-local-stepfunctions';
import { renderAuditNote } from '../../core/audit.ts';
import { describeError } from '../../core/errors.ts';
import type { RunContext } from '../../core/contracts/workflow-input.ts';
import type { AslDefinition } from '../../state-machines/workflows.ts';
import { loadLocalDefinition, localFunctionName } from './asl.ts';
import { appendAuditNote } from './audit-notes.ts';
import { type HandlerContext, type TaskHandler, localBatch, localFunctions } from './handlers.ts';
import { releaseLeftoverLock } from '../../core/steps.ts';
import type { RunRow } from './store/sqlite-runs.ts';

export interface StateProgress {
  readonly runId: string;
  readonly type: 'entered' | 'exited' | 'failed' | 'retried' | 'caught';
  readonly state: string;
  readonly durationMs?: number;
  readonly error?: string;
}

/** Makes a state's adapter fail a given number of times before it works (scenario tests). */
export interface FaultInjection {
  readonly times: number;
  readonly error: string;
  readonly message?: string;
}

export interface EngineOptions extends Omit<HandlerContext, 'signal'> {
  readonly onProgress?: (progress: StateProgress) => void;
  readonly faults?: Readonly<Record<string, FaultInjection>>;
  /** Milliseconds to wait before each retry, by state name (tests make lock waits short). */
  readonly retryIntervalOverrides?: Readonly<Record<string, number>>;
  /** Skip the git note (the repository is not local or not writable). */
  readonly auditNotes?: boolean;
}

export interface RunOutcome {
  readonly status: 'succeeded' | 'failed';
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
  return async (input) => {
    if (failures < fault.times) {
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
  for (const [name, state] of Object.entries(definition.States)) {
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
async function releaseLeftovers(run: RunContext, options: EngineOptions): Promise<void> {
  const { stores } = options;
  const now = options.now();
  if (await releaseLeftoverLock(stores.locks, run, now)) {
    const detail = 'lock released by the engine: the execution ended without releasing it';
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
  const approval = stores.approvals.forRun(run.runId);
  if (approval?.status === 'pending')
    await stores.approvals.decide(approval.id, 'expired', null, now.toISOString());
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
  const controller = new AbortController();
  const ctx: HandlerContext = { ...options, signal: controller.signal };
  const overrides = taskOverrides(definition, localFunctions(ctx), localBatch(ctx), options.faults);
  const machine = new StateMachine(definition as never, {
    validationOptions: { checkPaths: true },
  });
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

  const entered = new Map<string, number>();
  const record = async () => {
    for await (const event of execution.eventLogs) {
      const e = event as {
        type: string;
        timestamp: number;
        state?: { name: string };
        Error?: string;
        Cause?: unknown;
      };
      const state = e.state?.name;
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
    outcome = { status: 'failed', error: describeError(cause) };
  } finally {
    controller.abort();
  }
  await recording;
  await releaseLeftovers(run, options);
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
    await appendAuditNote(
      run.repository,
      run.commit,
      renderAuditNote({
        runId: run.runId,
        workflow: run.workflow,
        environment: run.environment,
        projectDir: run.projectDir,
        commit: run.commit,
        status: outcome.status,
        phases,
        startedAt: row.startedAt,
        finishedAt,
      }),
    ).catch((error: unknown) => {
      options.onProgress?.({
        runId: run.runId,
        type: 'failed',
        state: 'AuditNote',
        error: describeError(error).message,
      });
    });
  }
  return { ...outcome, run: row };
}
