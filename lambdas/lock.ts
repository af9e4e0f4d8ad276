// The Lock Task state on AWS: the core step over the AWS adapters.
import { lockStep } from '../core/steps.ts';
import { awsRuntime, instrument } from './runtime.ts';

export const handler = instrument('Lock', async (event: unknown) => {
  const runtime = awsRuntime();
  return lockStep(event, runtime.locks, new Date());
});
