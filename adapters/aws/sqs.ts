// The SQS adapter of the status port: one message per run and phase on a FIFO queue. The
// message group is the environment, so one environment's events arrive in order while
// environments do not wait on each other; the deduplication id is run + phase + the event's
// projects, so a retried step never sends the same event twice (within SQS's five-minute
// deduplication window).
import { type SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { InvalidInput } from '../../core/errors.ts';
import type { StatusPort } from '../../core/ports.ts';
import {
  STATUS_EVENT,
  type StatusEvent,
  deduplicationId,
  messageGroupId,
} from '../../core/contracts/status-event.ts';
import { parseInput } from '../../core/validation.ts';

export class SqsStatusPort implements StatusPort {
  readonly #sqs: SQSClient;
  readonly queueUrl: string;

  /** `queueUrl` must be a FIFO queue's (its name ends in ".fifo"): ordering depends on it. */
  constructor(client: SQSClient, queueUrl: string) {
    let path: string;
    try {
      path = new URL(queueUrl).pathname;
    } catch {
      throw new InvalidInput('queueUrl', 'must be an SQS queue URL');
    }
    if (!path.endsWith('.fifo')) {
      throw new InvalidInput('queueUrl', 'must be a FIFO queue (its name ends in ".fifo")');
    }
    this.#sqs = client;
    this.queueUrl = queueUrl;
  }

  /** Sends the event (validated again: nothing malformed reaches consumers) as JSON. */
  async publish(event: StatusEvent): Promise<void> {
    const checked = parseInput(STATUS_EVENT, event, 'event');
    await this.#sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(checked),
        MessageGroupId: messageGroupId(checked.environment),
        MessageDeduplicationId: deduplicationId(checked),
      }),
    );
  }
}
