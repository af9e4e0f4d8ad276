// The Unlock Task state on AWS: the core step over the AWS adapters.
import { unlockStep } from '../core/steps.ts';
import { awsRuntime, instrument } from './runtime.ts';

export const handler = instrument('Unlock', async (event: unknown) => {
  const runtime = awsRuntime();
  return unlockStep(event, runtime.locks, new Date());
});
