// What a plan-apply passes through, on either interpreter: the states it enters, in order,
// and the status events it sends. Asserted by the CLI, the emulated-AWS and the approval tests
// alike, and used by the memory benchmark as a realistic run.

/** Every plan-apply starts so: the lock, the plan job and whether it changes anything. */
const PLANNED = [
  'PrepareRun',
  'LockEnvironment',
  'NotifyStarted',
  'RunPlanJob',
  'CollectPlan',
  'HasChanges',
];

/** The shared outcome tail, from the outcome's Pass state to its terminal state. */
export function outcomeTail(outcome: string, terminal: string = outcome): string[] {
  return [
    `Outcome${outcome}`,
    'NotifyOutcome',
    'RecordOutcome',
    'UnlockEnvironment',
    'EndForOutcome',
    terminal,
  ];
}

/** A plan with changes, up to the wait for its approval. */
const AWAITING_APPROVAL = [...PLANNED, 'NotifyPlanned', 'NeedsApproval', 'RequestApproval'];

/** From the approval (or straight from NeedsApproval) through the apply job's result. */
function applied(approved: boolean): string[] {
  return [
    ...(approved
      ? [...AWAITING_APPROVAL, 'NotifyApproved']
      : [...PLANNED, 'NotifyPlanned', 'NeedsApproval']),
    'NotifyApplying',
    'RunApplyJob',
    'CollectApply',
  ];
}

/** The states of plan-apply, PrepareRun to Applied; `approved` adds the approval's wait. */
export function appliedPlanApplyStates(approved: boolean): string[] {
  return [...applied(approved), ...outcomeTail('Applied')];
}

/** From the apply's failure through the rollback job's result. */
const ROLLING_BACK = ['DecideRollback', 'NotifyRollingBack', 'RunRollbackJob', 'CollectRollback'];

/** A plan-apply whose apply changed the state and failed, and whose last good commit was re-applied. */
export function rolledBackPlanApplyStates(approved: boolean): string[] {
  return [...applied(approved), ...ROLLING_BACK, ...outcomeTail('RolledBack')];
}

/**
 * A plan-apply whose apply failed without changing the state (a refused plan: stale, foreign,
 * tampered): it fails at once, with no rollback.
 */
export function refusedPlanApplyStates(approved: boolean): string[] {
  return [...applied(approved), ...outcomeTail('Failed')];
}

/** A plan-apply whose apply changed the state and failed, and whose rollback failed too. */
export function rollbackFailedPlanApplyStates(approved: boolean): string[] {
  return [...applied(approved), ...ROLLING_BACK, ...outcomeTail('RollbackFailed')];
}

/** A plan-apply whose approval was not decided before its timeout. */
export const EXPIRED_PLAN_APPLY_STATES = [...AWAITING_APPROVAL, ...outcomeTail('Expired')];

/** The states of a plan-apply whose plan has nothing to change. */
export const NO_CHANGES_PLAN_APPLY_STATES = [...PLANNED, ...outcomeTail('NoChanges')];

/** The status event phases of a plan-apply approved by someone and applied. */
export const APPROVED_APPLY_PHASES = [
  'started',
  'planned',
  'awaiting_approval',
  'approved',
  'applying',
  'applied',
];
