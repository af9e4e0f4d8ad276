// The AWS adapters against a real AWS-compatible server: moto, started on loopback by this
// suite, with real SDK clients. What the mocks cannot show is shown here: that the FIFO queue
// keeps an environment's events in order and drops a retried one, that Scheduler's conflict
// path updates. The DynamoDB stores, and what every store of a port promises, are proven by
// the contract suites (test/contracts/), on moto too.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
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
import { S3ArtifactPort } from '../../adapters/aws/s3.ts';
import {
  EventBridgeSchedulePort,
  START_EXECUTION_TARGET,
  scheduleName,
  scheduledExecution,
} from '../../adapters/aws/scheduler.ts';
import { SecretsManagerSecretPort } from '../../adapters/aws/secrets.ts';
import { SqsStatusPort } from '../../adapters/aws/sqs.ts';
import { RUN_INPUT } from '../../core/contracts/workflow-input.ts';
import { type Phase, statusEvent } from '../../core/contracts/status-event.ts';
import { type MotoServer, startMotoServer } from './moto-server.ts';
import { jobResult } from '../support/run-fixtures.ts';

const BUCKET = 'stepform-artifacts';
const GROUP = 'stepform-ttl';
const COMMIT = 'd'.repeat(40);
const T0 = new Date('2026-03-01T10:00:00.000Z');

let moto: MotoServer;
let s3: S3Client;
let sqs: SQSClient;
let secretsClient: SecretsManagerClient;
let scheduler: SchedulerClient;
/** What afterAll undoes: only what beforeAll got as far as making. */
const cleanup: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  moto = await startMotoServer();
  cleanup.push(moto.stop);
  s3 = new S3Client({ ...moto.clientConfig, forcePathStyle: true });
  sqs = new SQSClient(moto.clientConfig);
  secretsClient = new SecretsManagerClient(moto.clientConfig);
  scheduler = new SchedulerClient(moto.clientConfig);
  for (const client of [s3, sqs, secretsClient, scheduler]) {
    cleanup.unshift(() => {
      client.destroy();
    });
  }
}, 300_000);

afterAll(async () => {
  for (const step of cleanup.splice(0)) await step();
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
          projects: [{ name: 'app', dir: 'infra/app' }],
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
    expect(received[2]!.Attributes?.MessageDeduplicationId).toBe('run-7:awaiting_approval:app');
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
      Target: { Arn: START_EXECUTION_TARGET, RoleArn: target.roleArn },
    });
    const started = scheduledExecution(created.Target);
    const input = RUN_INPUT.parse(started.input);
    expect(input).toMatchObject({ workflow: 'destroy', environment: 'pr-9', commit: COMMIT });
    expect(started).toMatchObject({ stateMachineArn: target.stateMachineArn, name: input.runId });

    await schedules.upsert({ ...schedule, fireAt: '2030-01-01T08:30:00.000Z' }); // conflict → update
    const updated = await get();
    expect(updated.ScheduleExpression).toBe('at(2030-01-01T08:30:00)');
    expect(RUN_INPUT.parse(scheduledExecution(updated.Target).input).runId).not.toBe(input.runId);

    await schedules.remove('pr-9', 'infra/app');
    await expect(get()).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await schedules.remove('pr-9', 'infra/app'); // already gone: fine
  });
});
