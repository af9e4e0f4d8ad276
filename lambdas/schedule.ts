// The Schedule Task state on AWS: the core step over the AWS adapters.
import { scheduleStep } from '../core/steps.ts';
import { awsRuntime, instrument } from './runtime.ts';

export const handler = instrument('Schedule', async (event: unknown) => {
  const runtime = awsRuntime();
  return scheduleStep(event, runtime.schedules, new Date());
});
