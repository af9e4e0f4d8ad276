// PrepareRun on AWS: validates the run and builds its jobs. A plan-apply must be of a commit
// on the default branch (checked through GitHub, failing closed), and may skip approval only
// where the deployment allows it.
import { InvalidInput } from '../core/errors.ts';
import { assertOnDefaultBranch, prepareStep } from '../core/steps.ts';
import { awsRuntime, instrument } from './runtime.ts';

export const handler = instrument('PrepareRun', async (event: unknown) => {
  const runtime = awsRuntime();
  const prepared = prepareStep(event, runtime.jobSettings);
  const skipsApproval = prepared.run.workflow === 'plan-apply' && prepared.run.autoApprove;
  if (skipsApproval && runtime.config.ALLOW_AUTO_APPROVE !== 'true') {
    throw new InvalidInput(
      'input.autoApprove',
      'is not allowed by this deployment: every apply needs an approval',
    );
  }
  const codeHost = await runtime.codeHost();
  if (codeHost) await assertOnDefaultBranch(prepared.run, codeHost);
  return prepared;
});
