// The Notify Task states on AWS: status event to SQS FIFO, Slack, and GitHub when configured.
import { notifyStep } from '../core/notify.ts';
import { awsRuntime, instrument, logger } from './runtime.ts';

export const handler = instrument('Notify', async (event: unknown) => {
  const report = await notifyStep(event, await awsRuntime().notifyPorts(), new Date());
  // A channel that failed after its retries is reported, never fatal to the run.
  if (report.failed.length > 0) logger.warn('some notifications failed', { failed: report.failed });
  return report;
});
