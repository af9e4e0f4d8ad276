import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  InvalidToken,
  SFNClient,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  TaskDoesNotExist,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { InvalidInput } from '../../core/errors.ts';
import {
  StepFunctionsTaskCallbackPort,
  TASK_CAUSE_LIMIT,
  TASK_ERROR_LIMIT,
  TaskNoLongerWaiting,
} from './sfn.ts';

const sfn = mockClient(SFNClient);
const callbacks = new StepFunctionsTaskCallbackPort(new SFNClient({ region: 'us-east-1' }));

beforeEach(() => {
  sfn.reset();
});

describe('StepFunctionsTaskCallbackPort', () => {
  it('sends SendTaskSuccess with the output as JSON', async () => {
    sfn.on(SendTaskSuccessCommand).resolves({});
    await callbacks.succeed('token-1', { approvedBy: 'ann', decidedAt: '2026-03-01T10:00:00Z' });
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input).toEqual({
      taskToken: 'token-1',
      output: '{"approvedBy":"ann","decidedAt":"2026-03-01T10:00:00Z"}',
    });
  });

  it('sends null for an undefined output, and refuses one over 256 KiB', async () => {
    sfn.on(SendTaskSuccessCommand).resolves({});
    await callbacks.succeed('t', undefined);
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.output).toBe('null');
    await expect(callbacks.succeed('t', 'x'.repeat(256 * 1024))).rejects.toThrow(InvalidInput);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
  });

  it('sends SendTaskFailure with the error and cause', async () => {
    sfn.on(SendTaskFailureCommand).resolves({});
    await callbacks.fail('token-1', 'ApprovalRejected', 'rejected by bob');
    expect(sfn.commandCalls(SendTaskFailureCommand)[0]!.args[0].input).toEqual({
      taskToken: 'token-1',
      error: 'ApprovalRejected',
      cause: 'rejected by bob',
    });
  });

  it('cuts error and cause to the API limits', async () => {
    sfn.on(SendTaskFailureCommand).resolves({});
    await callbacks.fail('t', 'E'.repeat(1000), 'c'.repeat(100_000));
    const input = sfn.commandCalls(SendTaskFailureCommand)[0]!.args[0].input;
    expect(input.error).toHaveLength(TASK_ERROR_LIMIT);
    expect(input.error!.endsWith('…')).toBe(true);
    expect(input.cause).toHaveLength(TASK_CAUSE_LIMIT);
  });

  it.each([
    ['TaskTimedOut', new TaskTimedOut({ message: 'x', $metadata: {} }), 'timed-out'],
    ['InvalidToken', new InvalidToken({ message: 'x', $metadata: {} }), 'invalid-token'],
    ['TaskDoesNotExist', new TaskDoesNotExist({ message: 'x', $metadata: {} }), 'no-such-task'],
  ])('maps %s to TaskNoLongerWaiting', async (_name, error, reason) => {
    sfn.on(SendTaskSuccessCommand).rejects(error);
    sfn.on(SendTaskFailureCommand).rejects(error);
    for (const call of [callbacks.succeed('t', {}), callbacks.fail('t', 'E', 'c')]) {
      const thrown: unknown = await call.catch((e: unknown) => e);
      expect(thrown).toBeInstanceOf(TaskNoLongerWaiting);
      expect(thrown).toMatchObject({ name: 'TaskNoLongerWaiting', kind: 'usage', reason });
    }
  });

  it('passes other errors through', async () => {
    sfn.on(SendTaskSuccessCommand).rejects(new Error('ThrottlingException'));
    await expect(callbacks.succeed('t', {})).rejects.toThrow('ThrottlingException');
  });
});
