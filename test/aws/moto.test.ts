// The AWS adapters against a real AWS-compatible server: moto, started on loopback by this
// suite, with real SDK clients. What the mocks cannot show is shown here: that conditional
// writes really are exclusive (the lock race, the single-use approval race), that the FIFO
// queue keeps an environment's events in order, that Scheduler's conflict path updates.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CreateTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateScheduleGroupCommand,
  GetScheduleCommand,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoApprovalPort } from '../../adapters/aws/dynamodb/dynamo-approvals.ts';
import { DynamoLockPort } from '../../adapters/aws/dynamodb/dynamo-locks.ts';
import { DynamoRecordPort } from '../../adapters/aws/dynamodb/dynamo-records.ts';
import { DynamoRunPort } from '../../adapters/aws/dynamodb/dynamo-runs.ts';
import { S3ArtifactPort } from '../../adapters/aws/s3.ts';
import { EventBridgeSchedulePort, scheduleName } from '../../adapters/aws/scheduler.ts';
import { SecretsManagerSecretPort } from '../../adapters/aws/secrets.ts';
import { SqsStatusPort } from '../../adapters/aws/sqs.ts';
import { LockHeld, LockNotOwned } from '../../core/errors.ts';
import type { StoredApproval } from '../../core/ports.ts';
import { RUN_INPUT } from '../../core/contracts/workflow-input.ts';
import { type Phase, statusEvent } from '../../core/contracts/status-event.ts';
import { type MotoServer, startMotoServer } from './moto-server.ts';
import { jobResult } from '../support/job-result.ts';

const TABLE = 'stepform-test';
const BUCKET = 'stepform-artifacts';
const GROUP = 'stepform-ttl';
const COMMIT = 'd'.repeat(40);
const T0 = new Date('2026-03-01T10:00:00.000Z');
const HOUR = 3_600_000;

let moto: MotoServer;
let dynamo: DynamoDBClient;
let s3: S3Client;
let sqs: SQSClient;
let secretsClient: SecretsManagerClient;
let scheduler: SchedulerClient;
/** What afterAll undoes: only what beforeAll got as far as making. */
const cleanup: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  moto = await startMotoServer();
  cleanup.push(moto.stop);
  dynamo = new DynamoDBClient(moto.clientConfig);
  s3 = new S3Client({ ...moto.clientConfig, forcePathStyle: true });
  sqs = new SQSClient(moto.clientConfig);
  secretsClient = new SecretsManagerClient(moto.clientConfig);
  scheduler = new SchedulerClient(moto.clientConfig);
  for (const client of [dynamo, s3, sqs, secretsClient, scheduler]) {
    cleanup.unshift(() => {
      client.destroy();
    });
  }
  await dynamo.send(
    new CreateTableCommand({
      TableName: TABLE,
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await dynamo.send(
    new UpdateTimeToLiveCommand({
      TableName: TABLE,
      TimeToLiveSpecification: { AttributeName: 'expiresAtEpoch', Enabled: true },
    }),
  );
}, 300_000);

afterAll(async () => {
  for (const step of cleanup.splice(0)) await step();
});

describe('DynamoDB adapters on moto', () => {
  it('lets exactly one of two racing acquirers take a lock; the other gets LockHeld', async () => {
    const locks = new DynamoLockPort(dynamo, TABLE);
    for (let round = 0; round < 10; round += 1) {
      const environment = `race-${round}`;
      const owners = ['run-a', 'run-b', 'run-c'];
      const settled = await Promise.allSettled(
        owners.map(async (owner) => locks.acquire(environment, owner, T0, HOUR)),
      );
      const won = settled.filter((result) => result.status === 'fulfilled');
      const lost = settled.filter((result) => result.status === 'rejected');
      expect(won).toHaveLength(1);
      const winner = won[0]!.value.owner;
      for (const loss of lost) {
        expect(loss.reason).toBeInstanceOf(LockHeld);
        expect((loss.reason as Error).message).toContain(`locked by run ${winner}`);
      }
      expect((await locks.getLock(environment))?.owner).toBe(winner);
    }
  });

  it('renews a lock for its owner, and lets another run take it over once expired', async () => {
    const locks = new DynamoLockPort(dynamo, TABLE);
    const first = await locks.acquire('expiry', 'run-old', T0, 1_000);
    const renewed = await locks.acquire('expiry', 'run-old', new Date(T0.getTime() + 500), 1_000);
    expect(renewed.acquiredAt).toBe(first.acquiredAt);
    expect(renewed.expiresAt).toBe('2026-03-01T10:00:01.500Z');

    await expect(
      locks.acquire('expiry', 'run-new', new Date(T0.getTime() + 1_000), HOUR),
    ).rejects.toThrow(LockHeld);
    const takeover = await locks.acquire('expiry', 'run-new', new Date(T0.getTime() + 1_500), HOUR);
    expect(takeover).toEqual({
      environment: 'expiry',
      owner: 'run-new',
      acquiredAt: '2026-03-01T10:00:01.500Z',
      expiresAt: '2026-03-01T11:00:01.500Z',
    });

    await expect(
      locks.release('expiry', 'run-old', new Date(T0.getTime() + 2_000)),
    ).rejects.toThrow(LockNotOwned);
    await locks.release('expiry', 'run-new', new Date(T0.getTime() + 3_000));
    await locks.release('expiry', 'run-new', new Date(T0.getTime() + 4_000)); // idempotent
    expect(await locks.getLock('expiry')).toBeUndefined();
    expect(await locks.lockHistory('expiry')).toEqual([
      {
        owner: 'run-new',
        acquiredAt: '2026-03-01T10:00:01.500Z',
        releasedAt: '2026-03-01T10:00:03.000Z',
      },
    ]);
  });

  it('round-trips the last good commit, environments and run details', async () => {
    const records = new DynamoRecordPort(dynamo, TABLE);
    const runs = new DynamoRunPort(dynamo, TABLE);
    expect(await records.getLastGood('dev', 'infra/app')).toBeUndefined();
    const good = { commit: COMMIT, runId: 'run-2', at: '2026-03-01T10:00:00.000Z' };
    await records.setLastGood('dev', 'infra/app', good);
    expect(await records.getLastGood('dev', 'infra/app')).toEqual(good);
    // An older write (a late retry) does not move it back; a newer one does.
    await records.setLastGood('dev', 'infra/app', {
      ...good,
      commit: 'e'.repeat(40),
      at: '2026-03-01T09:00:00.000Z',
    });
    expect(await records.getLastGood('dev', 'infra/app')).toEqual(good);
    const newer = { commit: 'f'.repeat(40), runId: 'run-3', at: '2026-03-01T11:00:00.000Z' };
    await records.setLastGood('dev', 'infra/app', newer);
    expect(await records.getLastGood('dev', 'infra/app')).toEqual(newer);
    expect(await records.getLastGood('dev', 'infra/other')).toBeUndefined();

    const environment = {
      environment: 'dev',
      projectDir: 'infra/app',
      status: 'active',
      ttlExpiresAt: null,
      lastRunId: 'run-3',
      updatedAt: '2026-03-01T11:00:00.000Z',
    };
    await records.setEnvironment(environment);
    expect(await records.getEnvironment('dev', 'infra/app')).toEqual(environment);
    await records.setEnvironment({ ...environment, ttlExpiresAt: '2026-03-02T00:00:00.000Z' });
    expect((await records.getEnvironment('dev', 'infra/app'))?.ttlExpiresAt).toBe(
      '2026-03-02T00:00:00.000Z',
    );

    await runs.addRunDetails('run-3', {
      outcome: 'planned',
      error: { name: 'E', stack: undefined },
    });
    await runs.addRunDetails('run-3', { outcome: 'applied', rollback: { commit: COMMIT } });
    expect(await runs.getRunDetails('run-3')).toEqual({
      outcome: 'applied',
      error: { name: 'E' },
      rollback: { commit: COMMIT },
    });
    // Two first writes racing on a new run: both keys end up in the map.
    await Promise.all([
      runs.addRunDetails('run-4', { a: 1 }),
      runs.addRunDetails('run-4', { b: 2 }),
    ]);
    expect(await runs.getRunDetails('run-4')).toEqual({ a: 1, b: 2 });
  });

  it('makes a decision single use: of two racing decisions exactly one wins', async () => {
    const approvals = new DynamoApprovalPort(dynamo, TABLE);
    for (let round = 0; round < 10; round += 1) {
      const approval: StoredApproval = {
        id: `approval-${round}`,
        runId: `run-${round}`,
        taskToken: `token-${round}`,
        environment: 'prod',
        projectDir: 'infra/app',
        commit: COMMIT,
        planSha256: 'a'.repeat(64),
        status: 'pending',
        requestedAt: T0.toISOString(),
        expiresAt: new Date(T0.getTime() + HOUR).toISOString(),
      };
      await approvals.create(approval);
      await expect(approvals.create(approval)).rejects.toThrow(/already exists/);
      expect(await approvals.get(approval.id)).toEqual(approval);

      const at = new Date(T0.getTime() + 60_000).toISOString();
      const [approved, rejected] = await Promise.all([
        approvals.decide(approval.id, 'approved', 'ann', at),
        approvals.decide(approval.id, 'rejected', 'bob', at),
      ]);
      expect([approved, rejected].filter(Boolean)).toHaveLength(1);
      const decided = await approvals.get(approval.id);
      expect(decided).toEqual({
        ...approval,
        status: approved ? 'approved' : 'rejected',
        decidedBy: approved ? 'ann' : 'bob',
        decidedAt: at,
      });
      // Replayed later: refused.
      expect(await approvals.decide(approval.id, 'expired', null, at)).toBe(false);
    }
    expect(await approvals.get('no-such-approval')).toBeUndefined();
    expect(await approvals.decide('no-such-approval', 'approved', 'ann', T0.toISOString())).toBe(
      false,
    );
  });
});

describe('S3 adapter on moto', () => {
  it('reads back the result the executor uploaded, encrypted; a missing one is undefined', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const artifacts = new S3ArtifactPort(s3);
    const location = `s3://${BUCKET}/runs/run-1/plan`;
    const result = jobResult({ hasChanges: false });
    const uri = await artifacts.putArtifact(location, 'result.json', JSON.stringify(result));
    expect(uri).toBe(`s3://${BUCKET}/runs/run-1/plan/result.json`);
    expect(await artifacts.readResult(location)).toEqual(result);
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: BUCKET, Key: 'runs/run-1/plan/result.json' }),
    );
    expect(head.ServerSideEncryption).toBe('AES256');
    expect(head.ContentType).toBe('application/json');

    expect(await artifacts.readResult(`s3://${BUCKET}/runs/run-1/apply`)).toBeUndefined();
    const mapped = new S3ArtifactPort(s3, { bucket: BUCKET, keyPrefix: 'runs' });
    expect(await mapped.readResult('/run-1/plan')).toEqual(result);
  });
});

describe('SQS adapter on moto', () => {
  it('delivers an environment’s events in order, in its message group, once each', async () => {
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: 'stepform-status.fifo',
        Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' },
      }),
    );
    const status = new SqsStatusPort(sqs, QueueUrl!);
    const phases: Phase[] = ['started', 'planned', 'awaiting_approval', 'approved', 'applied'];
    const event = (phase: Phase, i: number) =>
      statusEvent(
        {
          runId: 'run-7',
          workflow: 'plan-apply',
          environment: 'staging',
          project: 'infra/app',
          commit: COMMIT,
          phase,
        },
        new Date(T0.getTime() + i * 1000),
      );
    for (const [i, phase] of phases.entries()) await status.publish(event(phase, i));
    await status.publish(event('planned', 1)); // a retried step: deduplicated

    const received: Message[] = [];
    const deadline = Date.now() + 20_000;
    while (received.length < phases.length + 1 && Date.now() < deadline) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ['MessageGroupId', 'MessageDeduplicationId'],
        }),
      );
      for (const message of Messages) {
        received.push(message);
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message.ReceiptHandle! }),
        );
      }
      if (Messages.length === 0) {
        if (received.length >= phases.length) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    expect(received.map((m) => (JSON.parse(m.Body!) as { phase: string }).phase)).toEqual(phases);
    for (const message of received) {
      expect(message.Attributes?.MessageGroupId).toBe('staging');
    }
    expect(received[2]!.Attributes?.MessageDeduplicationId).toBe('run-7:awaiting_approval');
    expect(JSON.parse(received[0]!.Body!)).toEqual(event('started', 0));
  });
});

describe('Secrets Manager adapter on moto', () => {
  it('reads a secret once per TTL, and one call serves concurrent reads', async () => {
    await secretsClient.send(
      new CreateSecretCommand({ Name: 'stepform/slack-webhook', SecretString: 'value-1' }),
    );
    let calls = 0;
    const counted = new SecretsManagerClient(moto.clientConfig);
    counted.middlewareStack.add(
      (next) => async (args) => {
        calls += 1;
        return next(args);
      },
      { step: 'initialize', name: 'countCalls' },
    );
    let now = 0;
    const secrets = new SecretsManagerSecretPort(counted, { now: () => now });
    expect(
      await Promise.all([
        secrets.get('stepform/slack-webhook'),
        secrets.get('stepform/slack-webhook'),
      ]),
    ).toEqual(['value-1', 'value-1']);
    expect(calls).toBe(1);

    await secretsClient.send(
      new PutSecretValueCommand({ SecretId: 'stepform/slack-webhook', SecretString: 'value-2' }),
    );
    now += 60_000;
    expect(await secrets.get('stepform/slack-webhook')).toBe('value-1'); // cached
    expect(calls).toBe(1);
    now += 5 * 60_000;
    expect(await secrets.get('stepform/slack-webhook')).toBe('value-2'); // TTL passed
    expect(calls).toBe(2);
    await expect(secrets.get('stepform/nope')).rejects.toThrow('no secret stepform/nope');
    counted.destroy();
  });
});

describe('Scheduler adapter on moto', () => {
  it('creates a schedule, updates it on conflict, and deletes it', async () => {
    await scheduler.send(new CreateScheduleGroupCommand({ Name: GROUP }));
    const target = {
      groupName: GROUP,
      stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:stepform-destroy',
      roleArn: 'arn:aws:iam::123456789012:role/stepform-scheduler',
    };
    const schedules = new EventBridgeSchedulePort(scheduler, target);
    const schedule = {
      environment: 'pr-9',
      projectDir: 'infra/app',
      repository: 'https://github.com/acme/infra',
      commit: COMMIT,
      fireAt: '2030-01-01T04:00:00.000Z',
      createdBy: 'run-9',
    };
    const name = scheduleName('pr-9', 'infra/app');
    const get = async () =>
      scheduler.send(new GetScheduleCommand({ Name: name, GroupName: GROUP }));

    await schedules.upsert(schedule);
    const created = await get();
    expect(created).toMatchObject({
      Name: name,
      GroupName: GROUP,
      ScheduleExpression: 'at(2030-01-01T04:00:00)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      Target: { Arn: target.stateMachineArn, RoleArn: target.roleArn },
    });
    const input = RUN_INPUT.parse(JSON.parse(created.Target!.Input!));
    expect(input).toMatchObject({ workflow: 'destroy', environment: 'pr-9', commit: COMMIT });

    await schedules.upsert({ ...schedule, fireAt: '2030-01-01T08:30:00.000Z' }); // conflict → update
    const updated = await get();
    expect(updated.ScheduleExpression).toBe('at(2030-01-01T08:30:00)');
    expect(RUN_INPUT.parse(JSON.parse(updated.Target!.Input!)).runId).not.toBe(input.runId);

    await schedules.remove('pr-9', 'infra/app');
    await expect(get()).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await schedules.remove('pr-9', 'infra/app'); // already gone: fine
  });
});
