// What a plan-apply passes through, on either interpreter: the states it enters, in order,
// and the status events it sends. Asserted by the CLI, the emulated-AWS and the approval tests
// alike, and used by the memory benchmark as a realistic run.

/**
 * Every plan-apply starts so: the lock, the plans (a Map state of one iteration per project,
 * here one) and whether they change anything.
 */
const PLANNED = [
  'PrepareRun',
  'LockEnvironment',
  'NotifyStarted',
  'PlanProjects',
  'RunPlanJob',
  'CollectPlan',
  'ProjectPlanned',
  'CollectPlans',
  'AnyPlanFailed',
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

/** A plan with changes that no blocking policy stops, up to whether it needs an approval. */
const CHANGES_PLANNED = [...PLANNED, 'PolicyBlocked', 'NotifyPlanned', 'NeedsApproval'];

/** A plan with changes, up to the wait for its approval. */
const AWAITING_APPROVAL = [...CHANGES_PLANNED, 'RequestApproval'];

/**
 * From the approval (or straight from NeedsApproval) through the apply job's result: the
 * first (here the only) layer, ApplyLayer's one iteration.
 */
function applied(approved: boolean): string[] {
  return [
    ...(approved ? [...AWAITING_APPROVAL, 'NotifyApproved'] : CHANGES_PLANNED),
    'NotifyApplying',
    'StartApplying',
    'NextLayer',
    'ApplyNext',
    'ApplyLayer',
    'RunApplyJob',
    'CollectApply',
  ];
}

/** How an iteration ended, then NextLayer finding no layer left (or one not applied everywhere). */
function layerEnded(projectOutcome: string): string[] {
  return [projectOutcome, 'NextLayer', 'ApplyNext'];
}

/** The states of plan-apply, PrepareRun to Applied; `approved` adds the approval's wait. */
export function appliedPlanApplyStates(approved: boolean): string[] {
  return [...applied(approved), ...layerEnded('ProjectApplied'), ...outcomeTail('Applied')];
}

/** From the apply's failure through the rollback job's result. */
const ROLLING_BACK = ['DecideRollback', 'NotifyRollingBack', 'RunRollbackJob', 'CollectRollback'];

/** A plan-apply whose apply changed the state and failed, and whose last good commit was re-applied. */
export function rolledBackPlanApplyStates(approved: boolean): string[] {
  return [
    ...applied(approved),
    ...ROLLING_BACK,
    ...layerEnded('ProjectRolledBack'),
    ...outcomeTail('RolledBack'),
  ];
}

/**
 * A plan-apply whose apply failed without changing the state (a refused plan: stale, foreign,
 * tampered): it fails at once, with no rollback.
 */
export function refusedPlanApplyStates(approved: boolean): string[] {
  return [
    ...applied(approved),
    ...layerEnded('ProjectApplyFailed'),
    ...outcomeTail('ApplyFailed', 'Failed'),
  ];
}

/** A plan-apply whose apply changed the state and failed, and whose rollback failed too. */
export function rollbackFailedPlanApplyStates(approved: boolean): string[] {
  return [
    ...applied(approved),
    ...ROLLING_BACK,
    ...layerEnded('ProjectRollbackFailed'),
    ...outcomeTail('RollbackFailed'),
  ];
}

/** A plan-apply whose approval was not decided before its timeout. */
export const EXPIRED_PLAN_APPLY_STATES = [...AWAITING_APPROVAL, ...outcomeTail('Expired')];

/** The states of a plan-apply whose plan has nothing to change. */
export const NO_CHANGES_PLAN_APPLY_STATES = [...PLANNED, ...outcomeTail('NoChanges')];

/** A plan with changes that a blocking policy stopped, up to the owners' override request. */
const POLICY_BLOCKED = [...PLANNED, 'PolicyBlocked', 'CanOverridePolicy', 'RequestPolicyOverride'];

/**
 * A plan-apply stopped by a blocking policy whose owner overrode it: the override is told,
 * then the plans wait for their own approval and apply.
 */
export const OVERRIDDEN_PLAN_APPLY_STATES = [
  ...POLICY_BLOCKED,
  'NotifyPolicyOverridden',
  ...appliedPlanApplyStates(true).slice(PLANNED.length + 1),
];

/** A plan-apply stopped by a blocking policy whose override was refused or timed out. */
export const POLICY_REFUSED_PLAN_APPLY_STATES = [...POLICY_BLOCKED, ...outcomeTail('PolicyFailed')];

/** A plan-apply whose override could not be requested (the function failed past its retries). */
export const OVERRIDE_FAILED_PLAN_APPLY_STATES = [...POLICY_BLOCKED, ...outcomeTail('Failed')];

/** The status event phases of a plan-apply whose blocking policy an owner overrode. */
export const OVERRIDDEN_APPLY_PHASES = [
  'started',
  'awaiting_policy_override',
  'policy_overridden',
  'planned',
  'awaiting_approval',
  'approved',
  'applying',
  'applied',
];

/** The status event phases of a plan-apply approved by someone and applied. */
export const APPROVED_APPLY_PHASES = [
  'started',
  'planned',
  'awaiting_approval',
  'approved',
  'applying',
  'applied',
];

/**
 * The state a progress label names: the local engine labels a Map iteration's states with the
 * project they work on (`RunApplyJob [network]`); moto's history names the state alone.
 */
export function stateNamed(label: string | null): string {
  return (label ?? '').replace(/ \[[^\]]*\]$/, '');
}
