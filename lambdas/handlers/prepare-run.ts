// PrepareRun on AWS: validates the run and builds its jobs; a plan-apply must be of a commit
// on the default branch (checked through GitHub, failing closed).
import { assertOnDefaultBranch, prepareStep } from '../core/steps.ts';
import { awsRuntime, instrument } from './runtime.ts';

export const handler = instrument('PrepareRun', async (event: unknown) => {
  const runtime = awsRuntime();
  const prepared = prepareStep(event, runtime.jobSettings);
  const codeHost = await runtime.codeHost();
  if (codeHost) await assertOnDefaultBranch(prepared.run, codeHost);
  return prepared;
});
