// Environment locks. A lock is owned by one run and expires, so a crashed run cannot hold an
// environment forever. These functions decide what to write; the store writes it with a
// condition (DynamoDB conditional write, SQLite transaction) that the lock is still as read.
// Pure.
import { InvalidInput, LockHeld, LockNotOwned } from './errors.ts';

export interface LockRecord {
  readonly environment: string;
  /** The run id that holds the lock. */
  readonly owner: string;
  /** ISO-8601. */
  readonly acquiredAt: string;
  /** ISO-8601. */
  readonly expiresAt: string;
}

export interface LockRequest {
  readonly environment: string;
  readonly owner: string;
  readonly now: Date;
  readonly ttlMs: number;
}

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
 * The lock record to write for a request: a new lock when the environment is free or its
 * lock has expired, the same lock renewed (same acquiredAt, later expiresAt) when its owner
 * asks again; LockHeld, naming the owner and the expiry, when another run holds it.
 */
export function decideLock(existing: LockRecord | undefined, request: LockRequest): LockRecord {
  const { environment, owner, now, ttlMs } = request;
  if (environment === '') throw new InvalidInput('environment', 'must not be empty');
  if (owner === '') throw new InvalidInput('owner', 'must not be empty');
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new InvalidInput('ttlMs', 'must be a positive whole number of milliseconds');
  }
  if (!Number.isFinite(now.getTime())) throw new InvalidInput('now', 'is not a valid date');
  if (existing !== undefined && existing.environment !== environment) {
    throw new InvalidInput('environment', `the lock read is for ${existing.environment}`);
  }
  const expiresAt = new Date(now.getTime() + ttlMs).toISOString();
  if (existing === undefined || isLockExpired(existing, now)) {
    return { environment, owner, acquiredAt: now.toISOString(), expiresAt };
  }
  if (existing.owner === owner) return { ...existing, expiresAt };
  throw LockHeld.heldBy(environment, existing);
}

/**
 * Refuses (LockNotOwned) to release a lock another run holds. Releasing an absent lock is
 * fine: a release is idempotent.
 */
export function assertCanRelease(existing: LockRecord | undefined, owner: string): void {
  if (existing === undefined || existing.owner === owner) return;
  throw new LockNotOwned(
    `run ${owner} cannot release the lock on ${existing.environment}: run ${existing.owner} holds it`,
  );
}
