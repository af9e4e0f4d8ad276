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

/** An approved plan-apply whose apply failed and whose last good commit was re-applied. */
export const ROLLED_BACK_PLAN_APPLY_STATES = [
  ...applied(true),
  'DecideRollback',
  'NotifyRollingBack',
  'RunRollbackJob',
  'CollectRollback',
  ...outcomeTail('RolledBack'),
];

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
