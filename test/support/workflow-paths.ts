// What an approved plan-apply that applies passes through, on either interpreter: the states
// it enters, in order, and the status events it sends. Asserted by the CLI, the emulated-AWS
// and the approval tests alike, and used by the memory benchmark as a realistic run.

/** The states of plan-apply, PrepareRun to Applied; `approved` adds the approval's wait. */
export function appliedPlanApplyStates(approved: boolean): string[] {
  return [
    'PrepareRun',
    'LockEnvironment',
    'NotifyStarted',
    'RunPlanJob',
    'CollectPlan',
    'HasChanges',
    'NotifyPlanned',
    'NeedsApproval',
    ...(approved ? ['RequestApproval', 'NotifyApproved'] : []),
    'NotifyApplying',
    'RunApplyJob',
    'CollectApply',
    'OutcomeApplied',
    'NotifyOutcome',
    'RecordOutcome',
    'UnlockEnvironment',
    'EndForOutcome',
    'Applied',
  ];
}

/** The status event phases of a plan-apply approved by someone and applied. */
export const APPROVED_APPLY_PHASES = [
  'started',
  'planned',
  'awaiting_approval',
  'approved',
  'applying',
  'applied',
];
