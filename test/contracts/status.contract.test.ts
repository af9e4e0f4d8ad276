// The StatusPort contract, on both sides: the outbox table locally and the SQS FIFO queue on
// AWS (on moto). Every published event comes back whole, one environment's in the order they
// were published; a malformed event is refused (InvalidInput) and nothing is sent.
import { describe, expect, it } from '@jest/globals';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { SqsStatusPort } from '../../adapters/aws/sqs.ts';
import { InvalidInput } from '../../core/errors.ts';
import { type Phase, type StatusEvent, statusEvent } from '../../core/contracts/status-event.ts';
import type { StatusPort } from '../../core/ports.ts';
import { contractBackends, uniqueName } from './backends.ts';

const backends = contractBackends();

interface StatusUnderTest {
  readonly status: StatusPort;
  /** Every event published so far that has not been read yet, in delivery order. */
  readonly delivered: (expected: number) => Promise<unknown[]>;
}

async function drain(sqs: SQSClient, queueUrl: string, expected: number): Promise<unknown[]> {
  const bodies: unknown[] = [];
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
      }),
    );
    for (const message of Messages) {
      bodies.push(JSON.parse(message.Body ?? 'null'));
      await sqs.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    }
    // Past what was expected, one empty receive shows nothing more is there.
    if (Messages.length === 0) {
      if (bodies.length >= expected) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return bodies;
}

const STORES: [string, () => Promise<StatusUnderTest>][] = [
  [
    'SQLite outbox',
    async () => {
      const { outbox } = await backends.sqlite();
      let read = 0;
      return {
        status: outbox,
        delivered: async () => {
          const bodies = outbox.list().map((row) => row.body);
          const unread = bodies.slice(read);
          read = bodies.length;
          return unread;
        },
      };
    },
  ],
  [
    'SQS FIFO',
    async () => {
      const sqs = new SQSClient(backends.moto().clientConfig);
      const { QueueUrl } = await sqs.send(
        new CreateQueueCommand({
          QueueName: `${uniqueName('stepform-status')}.fifo`,
          Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' },
        }),
      );
      if (QueueUrl === undefined) throw new Error('moto made no queue');
      return {
        status: new SqsStatusPort(sqs, QueueUrl),
        delivered: async (expected) => drain(sqs, QueueUrl, expected),
      };
    },
  ],
];

const T0 = new Date('2030-01-01T00:00:00.000Z');

function event(runId: string, phase: Phase, second: number, environment = 'staging'): StatusEvent {
  return statusEvent(
    {
      runId,
      workflow: 'plan-apply',
      environment,
      projects: [{ name: 'app', dir: 'infra/app', summary: { add: 2, change: 0, destroy: 1 } }],
      commit: 'c'.repeat(40),
      phase,
      message: `${phase} at ${second}`,
    },
    new Date(T0.getTime() + second * 1000),
  );
}

describe.each(STORES)('StatusPort on %s', (_name, open) => {
  it('delivers every event whole, in the order published', async () => {
    const { status, delivered } = await open();
    const phases: Phase[] = ['started', 'planned', 'awaiting_approval', 'approved', 'applied'];
    const events = phases.map((phase, i) => event('run-7', phase, i));

    for (const e of events) await status.publish(e);

    expect(await delivered(events.length)).toEqual(events);
  });

  it('keeps each environment’s events in order when environments interleave', async () => {
    const { status, delivered } = await open();
    const events = [
      event('run-1', 'started', 0, 'dev'),
      event('run-2', 'started', 1, 'prod'),
      event('run-1', 'planned', 2, 'dev'),
      event('run-2', 'planned', 3, 'prod'),
      event('run-1', 'applied', 4, 'dev'),
    ];

    for (const e of events) await status.publish(e);

    const received = (await delivered(events.length)) as StatusEvent[];
    expect([...received].sort((a, b) => a.at.localeCompare(b.at))).toEqual(events);
    for (const environment of ['dev', 'prod']) {
      expect(received.filter((e) => e.environment === environment)).toEqual(
        events.filter((e) => e.environment === environment),
      );
    }
  });

  it('refuses a malformed event, naming the field, and sends nothing', async () => {
    const { status, delivered } = await open();
    const malformed = {
      ...event('run-9', 'started', 0),
      phase: 'exploded',
    } as unknown as StatusEvent;

    const publishing = status.publish(malformed);

    await expect(publishing).rejects.toThrow(InvalidInput);
    await expect(publishing).rejects.toMatchObject({ field: 'event.phase' });
    expect(await delivered(0)).toEqual([]);
  });

  it('refuses an event whose project is malformed, naming it, and sends nothing', async () => {
    const { status, delivered } = await open();
    const malformed = {
      ...event('run-9', 'started', 0),
      projects: [{ name: 'app', dir: '../elsewhere' }],
    } as StatusEvent;

    const publishing = status.publish(malformed);

    await expect(publishing).rejects.toMatchObject({ field: 'event.projects.0.dir' });
    expect(await delivered(0)).toEqual([]);
  });

  it('delivers the events of a run of several projects, and one per project of the same phase', async () => {
    const { status, delivered } = await open();
    const at = (second: number) => new Date(T0.getTime() + second * 1000);
    const fields = {
      runId: 'run-5',
      workflow: 'plan-apply',
      environment: 'staging',
      commit: 'c'.repeat(40),
    } as const;
    const events = [
      statusEvent(
        {
          ...fields,
          phase: 'applying',
          projects: [
            { name: 'network', dir: 'infra/network', status: 'planned', summary: PLANNED },
            { name: 'app', dir: 'infra/app', status: 'planned', summary: PLANNED },
          ],
        },
        at(0),
      ),
      // Each project rolling back tells of itself, in the same run and phase: two events.
      ...['network', 'app'].map((name, i) =>
        statusEvent(
          {
            ...fields,
            phase: 'rolling_back',
            projects: [{ name, dir: `infra/${name}` }],
            message: `${name} rolling back`,
          },
          at(1 + i),
        ),
      ),
    ];

    for (const e of events) await status.publish(e);

    expect(await delivered(events.length)).toEqual(events);
  });
});

const PLANNED = { add: 2, change: 0, destroy: 1 };
