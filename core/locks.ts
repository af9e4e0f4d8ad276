// Locks per (environment, project). A lock is owned by one run and expires, so a crashed run
// cannot hold a project of an environment forever. A run takes the locks of all its projects
// (core/steps.ts acquireProjectLocks), all or none, in the order lockProjectNames gives. These functions decide what to write; the store writes it with a
// condition (DynamoDB conditional write, SQLite transaction) that the lock is still as read.
// Pure.
import { InvalidInput, LockHeld, LockNotOwned } from './errors.ts';

export interface LockRecord {
  readonly environment: string;
  /** The project's name (stepform.yaml's, or its folder for a repository without one). */
  readonly project: string;
  /** The run id that holds the lock. */
  readonly owner: string;
  /** ISO-8601. */
  readonly acquiredAt: string;
  /** ISO-8601. */
  readonly expiresAt: string;
}

export interface LockRequest {
  readonly environment: string;
  readonly project: string;
  readonly owner: string;
  readonly now: Date;
  readonly ttlMs: number;
}

/**
 * The project of an environment-wide lock an older version left in a store (its locks were per
 * environment): listed, cleared by `stepform unlock ENV` once stale, and excluding every
 * project of its environment while it lives.
 */
export const WHOLE_ENVIRONMENT_PROJECT = '*';

/** The longest a Terraform job may run: every Batch task's TimeoutSeconds (a graph test checks). */
export const LONGEST_JOB_MS = 4 * 60 * 60 * 1000;

/**
 * How long a lock lasts from its last renewal: the longest job and an hour for the steps
 * around it. A run renews it where it waits longer (RequestApproval: until the approval
 * expires, then this again), so a lock never expires under a live run.
 */
export const DEFAULT_LOCK_TTL_MS = LONGEST_JOB_MS + 60 * 60 * 1000;

function expiryMs(lock: LockRecord): number {
  const ms = Date.parse(lock.expiresAt);
  if (Number.isNaN(ms)) throw new InvalidInput('lock.expiresAt', 'is not an ISO date');
  return ms;
}

/** True once the lock's expiry has come: from then on anyone may take it. */
export function isLockExpired(lock: LockRecord, now: Date): boolean {
  return now.getTime() >= expiryMs(lock);
}

/**
 * An environment-wide lock an older version wrote (project WHOLE_ENVIRONMENT_PROJECT) still
 * excludes every other run from every project of its environment while it lives: LockHeld,
 * naming its holder. Both stores call this before they decide a project's lock.
 */
export function assertNoWholeEnvironmentLock(
  whole: LockRecord | undefined,
  owner: string,
  now: Date,
): void {
  if (whole !== undefined && whole.owner !== owner && !isLockExpired(whole, now)) {
    throw LockHeld.heldBy(whole);
  }
}

/**
 * The lock record to write for a request: a new lock when the environment is free or its
 * lock has expired, the same lock renewed (same acquiredAt, later expiresAt) when its owner
 * asks again; LockHeld, naming the owner and the expiry, when another run holds it.
 */
export function decideLock(existing: LockRecord | undefined, request: LockRequest): LockRecord {
  const { environment, project, owner, now, ttlMs } = request;
  if (environment === '') throw new InvalidInput('environment', 'must not be empty');
  if (project === '') throw new InvalidInput('project', 'must not be empty');
  if (owner === '') throw new InvalidInput('owner', 'must not be empty');
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new InvalidInput('ttlMs', 'must be a positive whole number of milliseconds');
  }
  if (!Number.isFinite(now.getTime())) throw new InvalidInput('now', 'is not a valid date');
  if (existing !== undefined && existing.environment !== environment) {
    throw new InvalidInput('environment', `the lock read is for ${existing.environment}`);
  }
  if (existing !== undefined && existing.project !== project) {
    throw new InvalidInput('project', `the lock read is for ${existing.project}`);
  }
  const expiresAt = new Date(now.getTime() + ttlMs).toISOString();
  if (existing === undefined || isLockExpired(existing, now)) {
    return { environment, project, owner, acquiredAt: now.toISOString(), expiresAt };
  }
  if (existing.owner === owner) return { ...existing, expiresAt };
  throw LockHeld.heldBy(existing);
}

/**
 * Refuses (LockNotOwned) to release a lock another run holds. Releasing an absent lock is
 * fine: a release is idempotent.
 */
export function assertCanRelease(existing: LockRecord | undefined, owner: string): void {
  if (existing === undefined || existing.owner === owner) return;
  throw new LockNotOwned(
    `run ${owner} cannot release the lock on ${existing.project} in ${existing.environment}: run ${existing.owner} holds it`,
  );
}

/**
 * The projects whose locks a run takes, in the one order every run takes them (sorted, each
 * once): two runs sharing projects queue on the first they share instead of each holding one
 * the other waits for.
 */
export function lockProjectNames(names: readonly string[]): string[] {
  const unique = [...new Set(names)];
  if (unique.length === 0) throw new InvalidInput('projects', 'a run locks at least one project');
  for (const name of unique) {
    if (name === '') throw new InvalidInput('projects', 'a project name must not be empty');
  }
  return unique.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
