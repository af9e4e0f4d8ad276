// Rollback after a failed apply: re-apply the last commit that applied cleanly in the
// environment, when there is one and it is not the failed commit itself. Pure.
import { InvalidInput, NoRollbackTarget } from './errors.ts';

export interface RollbackInput {
  readonly failedCommit: string;
  readonly lastGoodCommit: string | null;
}

export type RollbackDecision =
  | { readonly rollback: true; readonly commit: string }
  | { readonly rollback: false; readonly reason: string };

const COMMIT_PATTERN = /^[0-9a-f]{40}$/;

function checkCommit(value: string, field: string): string {
  const commit = value.toLowerCase();
  if (!COMMIT_PATTERN.test(commit)) {
    throw new InvalidInput(field, 'must be a full 40-character hex commit SHA');
  }
  return commit;
}

/** Whether to roll back, and to which commit; when not, why not. */
export function decideRollback(input: RollbackInput): RollbackDecision {
  const failed = checkCommit(input.failedCommit, 'failedCommit');
  if (input.lastGoodCommit === null) {
    return { rollback: false, reason: 'no commit has applied cleanly in this environment yet' };
  }
  const lastGood = checkCommit(input.lastGoodCommit, 'lastGoodCommit');
  if (lastGood === failed) {
    return {
      rollback: false,
      reason: `the last good commit ${lastGood.slice(0, 7)} is the failed commit itself`,
    };
  }
  return { rollback: true, commit: lastGood };
}

/** The commit to roll back to; NoRollbackTarget, with the reason, when there is none. */
export function assertRollbackTarget(input: RollbackInput): string {
  const decision = decideRollback(input);
  if (!decision.rollback) throw new NoRollbackTarget(decision.reason);
  return decision.commit;
}
