// The Record Task state on AWS: the core step over the AWS adapters.
import { recordStep } from '../core/steps.ts';
import { awsRuntime, instrument } from './runtime.ts';

export const handler = instrument('Record', async (event: unknown) => {
  const runtime = awsRuntime();
  return recordStep(event, { records: runtime.records, runs: runtime.runs }, new Date());
});
