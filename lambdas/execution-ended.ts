// On AWS, an EventBridge rule calls this when any workflow's execution ends FAILED, TIMED_OUT
// or ABORTED (`stepform cancel` stops one): such an execution may never reach its tail, so
// its lock is released, its pending approval expired, and (unless its tail did) the run is
// recorded cancelled or failed and everyone is told, through the same Notify step as the
// workflows. The local engine releases and expires with the same core function
// (releaseRunLeftovers).
import { settleEndedExecution } from '../core/steps.ts';
import { TASK_STEPS } from '../core/task-steps.ts';
import { awsRuntime, instrument } from './runtime.ts';

export const handler = instrument('ExecutionEnded', async (event: unknown) => {
  const runtime = awsRuntime();
  return settleEndedExecution(
    event,
    {
      locks: runtime.locks,
      approvals: runtime.approvals,
      runs: runtime.runs,
      notify: async (input) => TASK_STEPS.Notify(input, runtime),
    },
    new Date(),
  );
});
