// The Notify Task states on AWS: status event to SQS FIFO, Slack, and GitHub when configured;
// a channel that failed after its retries is logged, never fatal to the run.
import { taskHandler } from './runtime.ts';

export const handler = taskHandler('Notify');
