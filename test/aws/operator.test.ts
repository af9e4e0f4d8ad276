// What the operator's CLI reads and does on a deployed stack (`stepform --stack`), on moto:
// executions started by run id, described, listed newest first and stopped; the table's
// locks and environments listed (a Scan, paginated); job artifacts listed by folder. And how
// an execution's history reads as state steps (pure).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { type HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
import { DynamoLockPort } from '../../adapters/aws/dynamodb/dynamo-locks.ts';
import { DynamoRecordPort } from '../../adapters/aws/dynamodb/dynamo-records.ts';
import { DynamoApprovalPort } from '../../adapters/aws/dynamodb/dynamo-approvals.ts';
import { S3ArtifactPort } from '../../adapters/aws/s3.ts';
import { StepFunctionsExecutions, executionArnOf, stateEvents } from '../../adapters/aws/sfn.ts';
import { rejection } from '../support/caught.ts';
import { createStepformTable } from '../support/dynamo-table.ts';
import { storedApproval } from '../support/store-fixtures.ts';
import { type MotoServer, startMotoServer, waitingStateMachine } from './moto-server.ts';

let moto: MotoServer;
let sfn: SFNClient;
let dynamo: DynamoDBClient;
let s3: S3Client;
let stateMachineArn: string;
const TABLE = 'stepform-operator';
const NOW = new Date('2030-01-01T00:00:00.000Z');

beforeAll(async () => {
  moto = await startMotoServer();
  sfn = new SFNClient(moto.clientConfig);
  dynamo = new DynamoDBClient(moto.clientConfig);
  s3 = new S3Client({ ...moto.clientConfig, forcePathStyle: true });
  stateMachineArn = await waitingStateMachine(sfn, 'Stepform-plan');
  await createStepformTable(dynamo, TABLE);
  await s3.send(new CreateBucketCommand({ Bucket: 'stepform-artifacts' }));
}, 120_000);

afterAll(async () => {
  for (const client of [sfn, dynamo, s3]) client.destroy();
  await moto.stop();
});

describe('StepFunctionsExecutions', () => {
  it('starts an execution named by its run id, describes, lists and stops it', async () => {
    const executions = new StepFunctionsExecutions(sfn);
    const input = { runId: 'cli-1', workflow: 'plan' };
    const arn = await executions.start(stateMachineArn, 'cli-1', input);
    expect(arn).toBe(executionArnOf(stateMachineArn, 'cli-1'));
    await executions.start(stateMachineArn, 'cli-2', { runId: 'cli-2' });

    expect(await executions.describe(arn)).toMatchObject({
      name: 'cli-1',
      status: 'RUNNING',
      stateMachineArn,
      input: JSON.stringify(input),
    });
    const listed = await executions.list(stateMachineArn, 10);
    expect(listed.map((e) => e.name).sort()).toEqual(['cli-1', 'cli-2']);
    expect(listed[0]!.startDate >= listed[1]!.startDate).toBe(true);

    await executions.stop(arn, 'cancelled by ops@cli');
    expect((await executions.describe(arn))?.status).toBe('ABORTED');
    expect(await executions.describe(executionArnOf(stateMachineArn, 'never'))).toBeUndefined();
  });

  it('refuses a second execution of the same run id, naming runId', async () => {
    const executions = new StepFunctionsExecutions(sfn);
    await executions.start(stateMachineArn, 'cli-3', { runId: 'cli-3' });
    const error = await rejection(executions.start(stateMachineArn, 'cli-3', { other: true }));
    expect(error).toMatchObject({ name: 'InvalidInput', field: 'runId' });
  });
});

describe('stateEvents', () => {
  const at = (s: number) => new Date(NOW.getTime() + s * 1000);
  const event = (id: number, s: number, fields: Partial<HistoryEvent>): HistoryEvent => ({
    id,
    timestamp: at(s),
    type: 'x' as HistoryEvent['type'],
    ...fields,
  });

  it('reads entered, failed, retried, caught and exited with durations, as the local engine reports', () => {
    const steps = stateEvents([
      event(1, 0, { type: 'ExecutionStarted' }),
      event(2, 0, { type: 'TaskStateEntered', stateEnteredEventDetails: { name: 'Lock' } }),
      event(3, 0, { type: 'LambdaFunctionScheduled' }),
      event(4, 1, {
        type: 'LambdaFunctionFailed',
        lambdaFunctionFailedEventDetails: { error: 'LockHeld', cause: 'held by run-9' },
      }),
      event(5, 3, { type: 'LambdaFunctionScheduled' }),
      event(6, 4, {
        type: 'LambdaFunctionFailed',
        lambdaFunctionFailedEventDetails: { error: 'LockHeld', cause: 'held by run-9' },
      }),
      event(7, 4, { type: 'TaskStateExited', stateExitedEventDetails: { name: 'Lock' } }),
      event(8, 4, { type: 'PassStateEntered', stateEnteredEventDetails: { name: 'Outcome' } }),
      event(9, 5, { type: 'PassStateExited', stateExitedEventDetails: { name: 'Outcome' } }),
      event(10, 6, {
        type: 'ExecutionAborted',
        executionAbortedEventDetails: { error: 'RunCancelled' },
      }),
    ]);
    expect(
      steps.map(({ type, state, durationMs, error }) => ({ type, state, durationMs, error })),
    ).toEqual([
      { type: 'entered', state: 'Lock', durationMs: undefined, error: undefined },
      { type: 'failed', state: 'Lock', durationMs: 1000, error: 'LockHeld: held by run-9' },
      { type: 'retried', state: 'Lock', durationMs: undefined, error: undefined },
      { type: 'failed', state: 'Lock', durationMs: 4000, error: 'LockHeld: held by run-9' },
      { type: 'caught', state: 'Lock', durationMs: undefined, error: undefined },
      { type: 'entered', state: 'Outcome', durationMs: undefined, error: undefined },
      { type: 'exited', state: 'Outcome', durationMs: 1000, error: undefined },
      { type: 'failed', state: 'Execution', durationMs: undefined, error: 'RunCancelled' },
    ]);
    expect(steps.map((s) => s.id)).toEqual([2, 4, 5, 6, 7, 8, 9, 10]);
  });
});

describe('the listings of the table and the bucket', () => {
  it('lists every lock and every environment, and nothing else of the table', async () => {
    const locks = new DynamoLockPort(dynamo, TABLE);
    const records = new DynamoRecordPort(dynamo, TABLE);
    await locks.acquire('prod', 'app', 'run-2', NOW, 60_000);
    await locks.acquire('dev', 'net', 'run-1', NOW, 60_000);
    await locks.acquire('dev', 'app', 'run-4', NOW, 60_000);
    await locks.acquire('qa', 'app', 'run-3', NOW, 60_000);
    await locks.release('qa', 'app', 'run-3', NOW); // leaves a lock-history item behind
    for (const [environment, projectDir] of [
      ['prod', 'app'],
      ['dev', 'net'],
      ['dev', 'app'],
    ] as const) {
      await records.setEnvironment({
        environment,
        projectDir,
        status: 'active',
        ttlExpiresAt: null,
        lastRunId: 'run-1',
        updatedAt: NOW.toISOString(),
      });
    }
    await records.setLastGood('dev', 'app', { commit: 'c'.repeat(40), runId: 'run-1', at: 'x' });
    await new DynamoApprovalPort(dynamo, TABLE).create(storedApproval());

    expect((await locks.list()).map((l) => [l.environment, l.project, l.owner])).toEqual([
      ['dev', 'app', 'run-4'],
      ['dev', 'net', 'run-1'],
      ['prod', 'app', 'run-2'],
    ]);
    expect(
      (await records.listEnvironments()).map((e) => `${e.environment}/${e.projectDir}`),
    ).toEqual(['dev/app', 'dev/net', 'prod/app']);
  });

  it("lists a run's artifacts by folder", async () => {
    const artifacts = new S3ArtifactPort(s3, {
      bucket: 'stepform-artifacts',
      keyPrefix: 'artifacts',
    });
    await artifacts.putArtifact('/artifacts/run-1/plan', 'executor.log', 'planned\n');
    await artifacts.putArtifact('/artifacts/run-1/apply', 'executor.log', 'applied\n');
    await artifacts.putArtifact('/artifacts/run-10/plan', 'executor.log', 'other run\n');
    expect(await artifacts.listArtifacts('/artifacts/run-1')).toEqual([
      'apply/executor.log',
      'plan/executor.log',
    ]);
    expect(await artifacts.listArtifacts('/artifacts/run-2')).toEqual([]);
  });
});
