// The CollectJobResult Task state on AWS: the core step over the AWS adapters.
import { collectStep } from '../core/steps.ts';
import { awsRuntime, instrument } from './runtime.ts';

export const handler = instrument('CollectJobResult', async (event: unknown) => {
  const runtime = awsRuntime();
  return collectStep(event, runtime.artifacts);
});
