// On AWS, an EventBridge rule calls this when a locking workflow's execution ends FAILED,
// TIMED_OUT or ABORTED: such an execution may never reach its Unlock state, and its lock must
// not wait for its expiry. The local engine does the same when a run ends, with the same core
// function (releaseLeftoverLock).
import { releaseAfterExecution } from '../core/steps.ts';
import { awsRuntime, instrument } from './runtime.ts';

export const handler = instrument('ExecutionEnded', async (event: unknown) =>
  releaseAfterExecution(event, awsRuntime().locks, new Date()),
);
