// RequestApproval on AWS (lambda:invoke.waitForTaskToken): stores the approval with the task
// token and sends the signed links; the workflow waits until the callback decides.
import { taskHandler } from './runtime.ts';

export const handler = taskHandler('RequestApproval');
