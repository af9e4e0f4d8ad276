// The Rollback Task state on AWS: the core step over the AWS adapters.
import { rollbackStep } from '../core/steps.ts';
import { awsRuntime, instrument } from './runtime.ts';

export const handler = instrument('Rollback', async (event: unknown) => {
  const runtime = awsRuntime();
  return rollbackStep(event, runtime.records);
});
