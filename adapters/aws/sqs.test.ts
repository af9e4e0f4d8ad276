import { beforeEach, describe, expect, it } from '@jest/globals';
import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { InvalidInput } from '../../core/errors.ts';
import { type StatusEvent, statusEvent } from '../../core/contracts/status-event.ts';
import { SqsStatusPort } from './sqs.ts';

const sqs = mockClient(SQSClient);
const client = new SQSClient({ region: 'us-east-1' });
const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/stepform-status.fifo';

const FIELDS = {
  runId: 'run-1',
  workflow: 'plan-apply',
  environment: 'dev',
  projects: [{ name: 'app', dir: 'infra/app', summary: { add: 2, change: 0, destroy: 1 } }],
  commit: 'a'.repeat(40),
  phase: 'awaiting_approval',
} as const;
const event = statusEvent(FIELDS, new Date('2026-03-01T10:00:00.000Z'));

beforeEach(() => {
  sqs.reset();
});

describe('SqsStatusPort', () => {
  it('sends the event as JSON with group = environment and dedup id = run + phase + projects', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    await new SqsStatusPort(client, QUEUE).publish(event);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
    expect(sqs.commandCalls(SendMessageCommand)[0]!.args[0].input).toEqual({
      QueueUrl: QUEUE,
      MessageBody: JSON.stringify(event),
      MessageGroupId: 'dev',
      MessageDeduplicationId: 'run-1:awaiting_approval:app',
    });
    expect(JSON.parse(sqs.commandCalls(SendMessageCommand)[0]!.args[0].input.MessageBody!)).toEqual(
      { schemaVersion: 2, ...FIELDS, at: '2026-03-01T10:00:00.000Z' },
    );
  });

  it('refuses a queue that is not FIFO, or not a URL', () => {
    expect(
      () => new SqsStatusPort(client, 'https://sqs.us-east-1.amazonaws.com/123456789012/status'),
    ).toThrow(InvalidInput);
    expect(() => new SqsStatusPort(client, 'stepform-status.fifo')).toThrow(InvalidInput);
  });

  it('refuses a malformed event before sending it', async () => {
    const bad = { ...event, environment: 'dev; rm -rf /' } as StatusEvent;
    await expect(new SqsStatusPort(client, QUEUE).publish(bad)).rejects.toThrow(InvalidInput);
    expect(sqs.calls()).toHaveLength(0);
  });

  it('passes send errors through (the SDK has retried them)', async () => {
    sqs.on(SendMessageCommand).rejects(new Error('QueueDoesNotExist'));
    await expect(new SqsStatusPort(client, QUEUE).publish(event)).rejects.toThrow(
      'QueueDoesNotExist',
    );
  });
});
