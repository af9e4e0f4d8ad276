// RequestApproval on AWS (lambda:invoke.waitForTaskToken): stores the approval with the task
// token and sends the signed links; the workflow waits until the callback decides.
import { InvalidInput } from '../core/errors.ts';
import { notifyStep } from '../core/notify.ts';
import { requestApprovalStep } from '../core/steps.ts';
import { awsRuntime, instrument, logger } from './runtime.ts';

function requireApprovalUrl(url: string | undefined): string {
  if (url === undefined)
    throw new InvalidInput('env.APPROVAL_URL', 'is required to send approval links');
  return url;
}

export const handler = instrument('RequestApproval', async (event: unknown) => {
  const runtime = awsRuntime();
  const now = new Date();
  const { run, approval, links, plan } = await requestApprovalStep(event, runtime.approvals, {
    now,
    signingKey: await runtime.signingKey(),
    baseUrl: requireApprovalUrl(runtime.config.APPROVAL_URL),
  });
  const report = await notifyStep(
    { run, phase: 'awaiting_approval', result: plan, links, approvalId: approval.id },
    await runtime.notifyPorts(),
    now,
  );
  if (report.failed.length > 0)
    logger.warn('approval request notifications failed', { failed: report.failed });
  return { approvalId: approval.id, expiresAt: approval.expiresAt };
});
