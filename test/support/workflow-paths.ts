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
function tail(outcome: string, terminal: string): string[] {
  return [
    `Outcome${outcome}`,
    'NotifyOutcome',
    'RecordOutcome',
    'UnlockEnvironment',
    'EndForOutcome',
    terminal,
  ];
}

/** The states of plan-apply, PrepareRun to Applied; `approved` adds the approval's wait. */
export function appliedPlanApplyStates(approved: boolean): string[] {
  return [
    ...PLANNED,
    'NotifyPlanned',
    'NeedsApproval',
    ...(approved ? ['RequestApproval', 'NotifyApproved'] : []),
    'NotifyApplying',
    'RunApplyJob',
    'CollectApply',
    ...tail('Applied', 'Applied'),
  ];
}

/** The states of a plan-apply whose plan has nothing to change. */
export const NO_CHANGES_PLAN_APPLY_STATES = [...PLANNED, ...tail('NoChanges', 'NoChanges')];

/** The status event phases of a plan-apply approved by someone and applied. */
export const APPROVED_APPLY_PHASES = [
  'started',
  'planned',
  'awaiting_approval',
  'approved',
  'applying',
  'applied',
];
