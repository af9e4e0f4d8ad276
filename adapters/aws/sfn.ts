// The Step Functions adapter of the task-callback port: resumes (SendTaskSuccess) or fails
// (SendTaskFailure) the workflow waiting on a task token, e.g. for an approval; and the
// executions the operator's CLI starts, watches, stops and lists (`stepform --stack`).
import {
  SendTaskFailureCommand,
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  SendTaskSuccessCommand,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { InvalidInput, RunNotWaiting, StepformError } from '../../core/errors.ts';
import type { StoredApproval, TaskCallbackPort } from '../../core/ports.ts';
import { cutCodePoints } from '../../core/text.ts';
import { awsErrorName } from './aws-errors.ts';

/** SendTaskFailure's limits: `error` 256 characters, `cause` 32,768. */
export const TASK_ERROR_LIMIT = 256;
export const TASK_CAUSE_LIMIT = 32_768;
/** SendTaskSuccess's `output`: at most 256 KiB of JSON. */
export const TASK_OUTPUT_LIMIT_BYTES = 256 * 1024;

export type WaitEndedReason = 'timed-out' | 'invalid-token' | 'no-such-task';

/**
 * The workflow no longer waits on that task token: the task timed out (an approval after its
 * timeout), the token is malformed, or the execution ended. Nothing was resumed.
 */
export class TaskNoLongerWaiting extends StepformError {
  override readonly name = 'TaskNoLongerWaiting';
  readonly kind = 'usage';
  readonly reason: WaitEndedReason;

  constructor(reason: WaitEndedReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

function mapCallbackError(error: unknown): unknown {
  switch (awsErrorName(error)) {
    case 'TaskTimedOut':
      return new TaskNoLongerWaiting(
        'timed-out',
        'the workflow stopped waiting: its task timed out before the decision',
      );
    case 'InvalidToken':
      return new TaskNoLongerWaiting('invalid-token', 'the stored task token is not valid');
    case 'TaskDoesNotExist':
      return new TaskNoLongerWaiting(
        'no-such-task',
        'the workflow is no longer waiting on this task (its execution ended)',
      );
    default:
      return error;
  }
}

export class StepFunctionsTaskCallbackPort implements TaskCallbackPort {
  readonly #sfn: SFNClient;

  constructor(client: SFNClient) {
    this.#sfn = client;
  }

  /**
   * The task waits while its execution runs: the approval is its only waitForTaskToken task,
   * and the endpoint checked that the approval is still pending. (SendTaskHeartbeat would ask
   * the task itself, but answers InvalidToken for a task without HeartbeatSeconds on
   * LocalStack's interpreter.) An approval stored before executionArn was kept is not checked.
   */
  async ensureWaiting(approval: StoredApproval): Promise<void> {
    if (approval.executionArn === undefined) return;
    let status: string | undefined;
    try {
      ({ status } = await this.#sfn.send(
        new DescribeExecutionCommand({ executionArn: approval.executionArn }),
      ));
    } catch (error) {
      if (awsErrorName(error) !== 'ExecutionDoesNotExist') throw error;
      status = 'gone';
    }
    if (status !== 'RUNNING') {
      throw new RunNotWaiting(
        `run ${approval.runId} is not waiting for a decision: its execution is ${status ?? 'unknown'}`,
      );
    }
  }

  /** Resumes the task with `output` as its JSON result. */
  async succeed(taskToken: string, output: unknown): Promise<void> {
    const json = JSON.stringify(output ?? null);
    if (Buffer.byteLength(json, 'utf8') > TASK_OUTPUT_LIMIT_BYTES) {
      throw new InvalidInput('output', 'is larger than the 256 KiB Step Functions accepts');
    }
    try {
      await this.#sfn.send(new SendTaskSuccessCommand({ taskToken, output: json }));
    } catch (error) {
      throw mapCallbackError(error);
    }
  }

  /** Fails the task with an error name (what Catch matches) and a cause, cut to the limits. */
  async fail(taskToken: string, error: string, cause: string): Promise<void> {
    try {
      await this.#sfn.send(
        new SendTaskFailureCommand({
          taskToken,
          error: cutCodePoints(error, TASK_ERROR_LIMIT),
          cause: cutCodePoints(cause, TASK_CAUSE_LIMIT),
        }),
      );
    } catch (thrown) {
      throw mapCallbackError(thrown);
    }
  }
}

/** An execution as ListExecutions and DescribeExecution tell it. */
export interface ExecutionSummary {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  /** The execution's name: Stepform names every execution by its run id. */
  readonly name: string;
  readonly status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';
  readonly startDate: string;
  readonly stopDate?: string;
}

export interface ExecutionDetail extends ExecutionSummary {
  /** The input it was started with (JSON text). */
  readonly input: string;
  readonly error?: string;
  readonly cause?: string;
}

/**
 * One state's step, read from the execution's history: entered, exited (with how long it
 * took), failed (an attempt's error), retried (a new attempt after a failure) or caught (left
 * after a failure, by a Catch). The same steps the local engine reports.
 */
export interface ExecutionStateEvent {
  readonly id: number;
  readonly at: string;
  readonly type: 'entered' | 'exited' | 'failed' | 'retried' | 'caught';
  readonly state: string;
  readonly durationMs?: number;
  readonly error?: string;
}

/** `arn:…:stateMachine:<name>` and an execution name → `arn:…:execution:<name>:<execution>`. */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

const FAILURE_EVENTS = /(Failed|TimedOut|Aborted)$/;
const ATTEMPT_EVENTS = /^(TaskScheduled|LambdaFunctionScheduled|ActivityScheduled)$/;

/**
 * The state steps of an execution's history events, in order. Pure: each call is given
 * every event so far (a retry or a catch is known from the failure before it).
 */
export function stateEvents(events: readonly HistoryEvent[]): ExecutionStateEvent[] {
  const steps: ExecutionStateEvent[] = [];
  let current: { state: string; enteredAt: number; failed: boolean } | undefined;
  for (const event of events) {
    const id = event.id ?? 0;
    const at = event.timestamp ?? new Date(0);
    const ms = at.getTime();
    const type = event.type ?? '';
    const base = { id, at: at.toISOString() };
    if (event.stateEnteredEventDetails?.name) {
      current = { state: event.stateEnteredEventDetails.name, enteredAt: ms, failed: false };
      steps.push({ ...base, type: 'entered', state: current.state });
    } else if (event.stateExitedEventDetails?.name) {
      const state = event.stateExitedEventDetails.name;
      const durationMs = current?.state === state ? ms - current.enteredAt : undefined;
      const caught = current?.state === state && current.failed;
      steps.push({
        ...base,
        type: caught ? 'caught' : 'exited',
        state,
        ...(caught || durationMs === undefined ? {} : { durationMs }),
      });
      current = undefined;
    } else if (current && ATTEMPT_EVENTS.test(type) && current.failed) {
      current.failed = false;
      steps.push({ ...base, type: 'retried', state: current.state });
    } else if (FAILURE_EVENTS.test(type)) {
      const detail = failureOf(event);
      const state = current?.state ?? 'Execution';
      if (current) current.failed = true;
      steps.push({
        ...base,
        type: 'failed',
        state,
        ...(current ? { durationMs: ms - current.enteredAt } : {}),
        error: `${detail.error ?? type}${detail.cause ? `: ${detail.cause}` : ''}`,
      });
    }
  }
  return steps;
}

function failureOf(event: HistoryEvent): { error?: string; cause?: string } {
  const details =
    event.taskFailedEventDetails ??
    event.taskTimedOutEventDetails ??
    event.lambdaFunctionFailedEventDetails ??
    event.lambdaFunctionTimedOutEventDetails ??
    event.executionFailedEventDetails ??
    event.executionAbortedEventDetails ??
    event.executionTimedOutEventDetails;
  return {
    ...(details?.error ? { error: details.error } : {}),
    ...(details?.cause ? { cause: details.cause } : {}),
  };
}

/**
 * Executions of the deployment's state machines, for the operator's CLI (`stepform --stack`):
 * start one named by its run id, describe it, read its history, stop it, list them.
 */
export class StepFunctionsExecutions {
  readonly #sfn: SFNClient;

  constructor(client: SFNClient) {
    this.#sfn = client;
  }

  /** Starts it; InvalidInput naming `runId` when an execution of that name exists. */
  async start(stateMachineArn: string, name: string, input: unknown): Promise<string> {
    try {
      const { executionArn } = await this.#sfn.send(
        new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }),
      );
      if (!executionArn) throw new Error(`StartExecution of ${name} returned no execution ARN`);
      return executionArn;
    } catch (error) {
      if (awsErrorName(error) === 'ExecutionAlreadyExists')
        throw new InvalidInput('runId', `an execution named ${name} exists already`);
      throw error;
    }
  }

  /** The execution; undefined when there is none of that ARN. */
  async describe(executionArn: string): Promise<ExecutionDetail | undefined> {
    try {
      const out = await this.#sfn.send(new DescribeExecutionCommand({ executionArn }));
      return {
        executionArn,
        stateMachineArn: out.stateMachineArn ?? '',
        name: out.name ?? '',
        status: out.status ?? 'RUNNING',
        startDate: (out.startDate ?? new Date(0)).toISOString(),
        ...(out.stopDate ? { stopDate: out.stopDate.toISOString() } : {}),
        input: out.input ?? '{}',
        ...(out.error ? { error: out.error } : {}),
        ...(out.cause ? { cause: out.cause } : {}),
      };
    } catch (error) {
      if (awsErrorName(error) === 'ExecutionDoesNotExist') return undefined;
      throw error;
    }
  }

  /** Every event of its history, oldest first, page after page. */
  async history(executionArn: string): Promise<HistoryEvent[]> {
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.#sfn.send(
        new GetExecutionHistoryCommand({
          executionArn,
          maxResults: 1000,
          ...(nextToken ? { nextToken } : {}),
        }),
      );
      events.push(...(page.events ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    return events;
  }

  /** Stops it (ABORTED): the ExecutionEnded rule then settles the run. */
  async stop(executionArn: string, cause: string): Promise<void> {
    await this.#sfn.send(
      new StopExecutionCommand({
        executionArn,
        error: 'RunCancelled',
        cause: cutCodePoints(cause, TASK_CAUSE_LIMIT),
      }),
    );
  }

  /** Its newest executions (at most `max`), newest first. */
  async list(stateMachineArn: string, max: number): Promise<ExecutionSummary[]> {
    const found: ExecutionSummary[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.#sfn.send(
        new ListExecutionsCommand({
          stateMachineArn,
          maxResults: Math.min(max - found.length, 1000),
          ...(nextToken ? { nextToken } : {}),
        }),
      );
      for (const e of page.executions ?? []) {
        found.push({
          executionArn: e.executionArn ?? '',
          stateMachineArn: e.stateMachineArn ?? stateMachineArn,
          name: e.name ?? '',
          status: e.status ?? 'RUNNING',
          startDate: (e.startDate ?? new Date(0)).toISOString(),
          ...(e.stopDate ? { stopDate: e.stopDate.toISOString() } : {}),
        });
      }
      nextToken = page.nextToken;
    } while (nextToken && found.length < max);
    return found.sort((a, b) => b.startDate.localeCompare(a.startDate));
  }
}
