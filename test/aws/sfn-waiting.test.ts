// Whether the execution behind an approval still waits, asked of Step Functions served by
// moto on loopback: DescribeExecution answers RUNNING for a running execution, ABORTED once
// it was stopped, and ExecutionDoesNotExist for one that never ran. Only RUNNING lets a
// decision be recorded.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import type { StoredApproval } from '../../core/ports.ts';
import { StepFunctionsTaskCallbackPort } from '../../adapters/aws/sfn.ts';
import { rejection } from '../support/caught.ts';
import { type MotoServer, startMotoServer, waitingStateMachine } from './moto-server.ts';

let moto: MotoServer;
let sfn: SFNClient;
let stateMachineArn: string;

const APPROVAL: StoredApproval = {
  id: 'apr-1',
  runId: 'run-1',
  taskToken: 'token',
  environment: 'prod',
  projectDir: '.',
  commit: 'a'.repeat(40),
  planSha256: 'b'.repeat(64),
  status: 'pending',
  requestedAt: '2026-12-02T00:00:00.000Z',
  expiresAt: '2026-12-02T01:00:00.000Z',
};

beforeAll(async () => {
  moto = await startMotoServer();
  sfn = new SFNClient(moto.clientConfig);
  stateMachineArn = await waitingStateMachine(sfn, 'Stepform-plan-apply');
});

afterAll(async () => {
  await moto.stop();
});

async function started(name: string): Promise<string> {
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({ stateMachineArn, name, input: '{}' }),
  );
  return executionArn ?? '';
}

describe('StepFunctionsTaskCallbackPort.ensureWaiting', () => {
  const callbacks = () => new StepFunctionsTaskCallbackPort(sfn);

  it('lets a decision through while the execution runs', async () => {
    const executionArn = await started('run-running');
    await expect(callbacks().ensureWaiting({ ...APPROVAL, executionArn })).resolves.toBeUndefined();
  });

  it('refuses with RunNotWaiting once the execution was stopped', async () => {
    const executionArn = await started('run-stopped');
    await sfn.send(new StopExecutionCommand({ executionArn }));
    const error = await rejection(callbacks().ensureWaiting({ ...APPROVAL, executionArn }));
    expect(error).toMatchObject({
      name: 'RunNotWaiting',
      message: 'run run-1 is not waiting for a decision: its execution is ABORTED',
    });
  });

  it('refuses with RunNotWaiting an execution that does not exist', async () => {
    const executionArn = stateMachineArn
      .replace(':stateMachine:', ':execution:')
      .concat(':never-ran');
    const error = await rejection(callbacks().ensureWaiting({ ...APPROVAL, executionArn }));
    expect(error).toMatchObject({
      name: 'RunNotWaiting',
      message: expect.stringContaining('gone'),
    });
  });

  it('does not ask about an approval stored before approvals named their execution', async () => {
    await expect(callbacks().ensureWaiting(APPROVAL)).resolves.toBeUndefined();
  });
});
