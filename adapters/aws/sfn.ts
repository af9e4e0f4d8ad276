// The Step Functions adapter of the task-callback port: resumes (SendTaskSuccess) or fails
// (SendTaskFailure) the workflow waiting on a task token, e.g. for an approval.
import {
  SendTaskFailureCommand,
  DescribeExecutionCommand,
  SendTaskSuccessCommand,
  type SFNClient,
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
