// The project's error classes. Each sets a stable `name`: the state machines match these
// names in Retry/Catch, the executor writes them into its result, and the CLI maps them to
// exit codes. Rename one only together with every ASL file and consumer that uses it.

export type ErrorKind = 'usage' | 'failure';

export abstract class StepformError extends Error {
  /** `usage` errors are the caller's fault (exit code 2, HTTP 4xx); `failure`s are not. */
  abstract readonly kind: ErrorKind;

  toJSON(): { name: string; message: string } {
    return { name: this.name, message: this.message };
  }
}

/** A field of some input failed validation. `field` names it, as a dotted path. */
export class InvalidInput extends StepformError {
  override readonly name = 'InvalidInput';
  readonly kind = 'usage';
  readonly field: string;

  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

/** A pass-through Terraform command that is not on the allowlist, or has unsafe arguments. */
export class CommandNotAllowed extends StepformError {
  override readonly name = 'CommandNotAllowed';
  readonly kind = 'usage';
}

/** No usable Terraform or OpenTofu binary, provider mirror, or build toolchain. */
export class ToolchainMissing extends StepformError {
  override readonly name = 'ToolchainMissing';
  readonly kind = 'failure';
}

/** The repository could not be cloned or does not contain the requested commit. */
export class CheckoutFailed extends StepformError {
  override readonly name = 'CheckoutFailed';
  readonly kind = 'failure';
}

/** The project directory is missing at that commit, or resolves outside the repository. */
export class ProjectDirInvalid extends StepformError {
  override readonly name = 'ProjectDirInvalid';
  readonly kind = 'failure';
}

/** A var file of the job is missing at that commit, is not a file, or resolves outside it. */
export class VarFileInvalid extends StepformError {
  override readonly name = 'VarFileInvalid';
  readonly kind = 'failure';
}

/** A Terraform subcommand exited non-zero. */
export class TerraformFailed extends StepformError {
  override readonly name = 'TerraformFailed';
  readonly kind = 'failure';
  readonly subcommand: string;
  readonly exitCode: number | null;

  constructor(subcommand: string, exitCode: number | null, detail?: string) {
    super(
      // Terraform's own lines stay lines: a multi-line detail starts on a line of its own.
      `terraform ${subcommand} failed (exit ${exitCode ?? 'signal'})${detail ? `:${detail.includes('\n') ? '\n' : ' '}${detail}` : ''}`,
    );
    this.subcommand = subcommand;
    this.exitCode = exitCode;
  }
}

/** The saved plan to apply is missing or its metadata is unreadable. */
export class PlanNotFound extends StepformError {
  override readonly name = 'PlanNotFound';
  readonly kind = 'failure';
}

/** The plan file's SHA-256 is not the approved digest: it was changed after review. */
export class PlanDigestMismatch extends StepformError {
  override readonly name = 'PlanDigestMismatch';
  readonly kind = 'failure';
}

/** The plan was made from another commit, environment, project or repository. */
export class ForeignPlan extends StepformError {
  override readonly name = 'ForeignPlan';
  readonly kind = 'failure';
}

/** The state changed (serial or lineage) since the plan was made. */
export class StalePlan extends StepformError {
  override readonly name = 'StalePlan';
  readonly kind = 'failure';
}

/** The job was stopped by a signal (Batch termination, Ctrl-C) before it finished. */
export class JobInterrupted extends StepformError {
  override readonly name = 'JobInterrupted';
  readonly kind = 'failure';
}

/** The executor cannot create the job's artifacts folder, so nothing of the job can run. */
export class ArtifactsUnwritable extends StepformError {
  override readonly name = 'ArtifactsUnwritable';
  readonly kind = 'failure';
}

/**
 * Another run holds the lock of a project in the environment. Workflows retry it with
 * backoff, then fail.
 */
export class LockHeld extends StepformError {
  override readonly name = 'LockHeld';
  readonly kind = 'failure';
  /** The lock as the store found it (a LockRecord), when it could read it. */
  readonly holder?: {
    readonly environment: string;
    readonly project: string;
    readonly owner: string;
    readonly acquiredAt: string;
    readonly expiresAt: string;
  };

  constructor(message: string, holder?: LockHeld['holder']) {
    super(message);
    if (holder !== undefined) this.holder = holder;
  }

  /** The lock is held by `holder`'s run; says which project, whose and until when. */
  static heldBy(holder: NonNullable<LockHeld['holder']>): LockHeld {
    return new LockHeld(
      `project ${holder.project} in environment ${holder.environment} is locked by run ${holder.owner} until ${holder.expiresAt}`,
      holder,
    );
  }
}

/** A run tried to release or extend a lock it does not own. */
export class LockNotOwned extends StepformError {
  override readonly name = 'LockNotOwned';
  readonly kind = 'failure';
}

/** A Terraform job ended `failed`; its result says why. */
export class JobFailed extends StepformError {
  override readonly name = 'JobFailed';
  readonly kind = 'failure';
}

/**
 * A job that applies failed without changing the state: a refused plan (StalePlan,
 * PlanDigestMismatch, ForeignPlan, PlanNotFound), a plan that failed, or an apply that failed
 * before its first write. There is nothing to roll back: plan-apply ends failed with it.
 */
export class NothingApplied extends StepformError {
  override readonly name = 'NothingApplied';
  readonly kind = 'failure';
}

/** A Terraform job ended without writing a result (killed, out of memory, lost container). */
export class JobLost extends StepformError {
  override readonly name = 'JobLost';
  readonly kind = 'failure';
}

/** The approver said no. */
export class ApprovalRejected extends StepformError {
  override readonly name = 'ApprovalRejected';
  readonly kind = 'failure';
}

/** The approval link or request is past its expiry. */
export class ApprovalExpired extends StepformError {
  override readonly name = 'ApprovalExpired';
  readonly kind = 'usage';
}

/** The approval was already decided: a decision is single-use. */
export class ApprovalAlreadyDecided extends StepformError {
  override readonly name = 'ApprovalAlreadyDecided';
  readonly kind = 'usage';
}

/** The approval link's signature does not match: it was tampered with or forged. */
export class ApprovalSignatureInvalid extends StepformError {
  override readonly name = 'ApprovalSignatureInvalid';
  readonly kind = 'usage';
}

/** The person deciding is not on the approver allowlist. */
export class NotAnApprover extends StepformError {
  override readonly name = 'NotAnApprover';
  readonly kind = 'usage';
}

/** No approval, run, environment or schedule with that id. */
export class NotFound extends StepformError {
  override readonly name = 'NotFound';
  readonly kind = 'usage';
}

/** A failed apply cannot be rolled back: no last good commit, or it is the failed one. */
export class NoRollbackTarget extends StepformError {
  override readonly name = 'NoRollbackTarget';
  readonly kind = 'failure';
}

/**
 * The rollback after a failed apply failed too: the environment is in neither commit's state.
 * The run ends with the rollback job's own error.
 */
export class RollbackFailed extends StepformError {
  override readonly name = 'RollbackFailed';
  readonly kind = 'failure';
}

/** Slack, GitHub or the status queue could not be reached after retries (best effort). */
export class NotificationFailed extends StepformError {
  override readonly name = 'NotificationFailed';
  readonly kind = 'failure';
}

/**
 * The executor image's build on deploy ended without an image (failed, stopped, timed out, or
 * succeeded without pushing): its message carries the failed phase and the build log's tail.
 */
export class ImageBuildFailed extends StepformError {
  override readonly name = 'ImageBuildFailed';
  readonly kind = 'failure';
}

/** Whether the commit is on the default branch could not be checked: no apply (fail closed). */
export class DefaultBranchCheckFailed extends StepformError {
  override readonly name = 'DefaultBranchCheckFailed';
  readonly kind = 'failure';
}

/**
 * No usable GitHub credentials: the secret is unreadable or malformed, or GitHub refused the
 * App's JWT or its installation token request. The message never carries a key or a token.
 */
export class GitHubAuthFailed extends StepformError {
  override readonly name = 'GitHubAuthFailed';
  readonly kind = 'failure';
}

/** A plan-apply of a commit that is not on the default branch: unmerged code is never applied. */
export class UnmergedCommit extends StepformError {
  override readonly name = 'UnmergedCommit';
  readonly kind = 'usage';
}

/** The person at the terminal did not confirm a destroy: nothing was recorded or run. */
export class DestroyNotConfirmed extends StepformError {
  override readonly name = 'DestroyNotConfirmed';
  readonly kind = 'failure';
}

/**
 * A decision for a run that no longer waits for one (it ended, was cancelled, or its process
 * died): nothing is recorded (HTTP 409, exit 1).
 */
export class RunNotWaiting extends StepformError {
  override readonly name = 'RunNotWaiting';
  readonly kind = 'failure';
}

/**
 * A policy set cannot be evaluated as written: OPA refused a Rego file (the message names the
 * file, relative to the repository, and the line), the folder holds no Rego file or is not in
 * the repository, or a deny/warn rule yields something that is not a message.
 */
export class PolicyInvalid extends StepformError {
  override readonly name = 'PolicyInvalid';
  readonly kind = 'failure';
  /** The Rego file OPA named first, relative to the repository, and its line. */
  readonly file?: string;
  readonly line?: number;

  constructor(message: string, location?: { file: string; line?: number }) {
    super(message);
    if (location !== undefined) {
      this.file = location.file;
      if (location.line !== undefined) this.line = location.line;
    }
  }
}

/** OPA did not finish in time, crashed, or printed something that is not its JSON result. */
export class PolicyEvaluationFailed extends StepformError {
  override readonly name = 'PolicyEvaluationFailed';
  readonly kind = 'failure';
}

/** A policy set with `on_failure: block` failed on a plan: the run stopped before its approval. */
export class PolicyBlocked extends StepformError {
  override readonly name = 'PolicyBlocked';
  readonly kind = 'failure';
}

/**
 * The local engine reached a Task state that has no local handler: it would have invoked AWS
 * Lambda, which the local engine never does (not with whatever credentials lie around).
 */
export class LocalTaskUnhandled extends StepformError {
  override readonly name = 'LocalTaskUnhandled';
  readonly kind = 'failure';
}

/** Every error class by name, for checks that ASL error names exist. */
export const ERROR_CLASSES = {
  InvalidInput,
  PolicyBlocked,
  CommandNotAllowed,
  ToolchainMissing,
  ArtifactsUnwritable,
  CheckoutFailed,
  ProjectDirInvalid,
  VarFileInvalid,
  TerraformFailed,
  PlanNotFound,
  PlanDigestMismatch,
  ForeignPlan,
  StalePlan,
  JobInterrupted,
  LockHeld,
  LockNotOwned,
  JobFailed,
  NothingApplied,
  JobLost,
  ApprovalRejected,
  ApprovalExpired,
  ApprovalAlreadyDecided,
  ApprovalSignatureInvalid,
  NotAnApprover,
  NotFound,
  NoRollbackTarget,
  RollbackFailed,
  NotificationFailed,
  DefaultBranchCheckFailed,
  GitHubAuthFailed,
  UnmergedCommit,
  DestroyNotConfirmed,
  RunNotWaiting,
  ImageBuildFailed,
  PolicyInvalid,
  PolicyEvaluationFailed,
  LocalTaskUnhandled,
} as const;

/** Turns anything thrown into `{ name, message }` without leaking a stack. */
export function describeError(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}
