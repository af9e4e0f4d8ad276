// Locks per (environment, project) in the local SQLite file: the LockPort, plus what the CLI
// and tests read (the locks as stored, the history of holds). The core decides
// (core/locks.ts); the row is read and written inside one write transaction, so two processes
// can never both win.
/* eslint-disable @typescript-eslint/require-await -- node:sqlite is synchronous (SqliteStore) */
import {
  type LockRecord,
  WHOLE_ENVIRONMENT_PROJECT,
  assertCanRelease,
  assertNoWholeEnvironmentLock,
  decideLock,
} from '../../../core/locks.ts';
import type { LockPort } from '../../../core/ports.ts';
import { type Row, SqliteStore, exclusive, str } from './database.ts';

/** One hold of a lock that has ended (released, or taken over after its expiry). */
export interface LockHold {
  readonly project: string;
  readonly owner: string;
  readonly acquiredAt: string;
  readonly releasedAt: string;
}

const lockOf = (row: Row): LockRecord => ({
  environment: str(row, 'environment'),
  project: str(row, 'project'),
  owner: str(row, 'owner'),
  acquiredAt: str(row, 'acquired_at'),
  expiresAt: str(row, 'expires_at'),
});

export class SqliteLocks extends SqliteStore implements LockPort {
  /** Takes or renews the lock for `owner`, deciding on the row read in the same transaction. */
  async acquire(
    environment: string,
    project: string,
    owner: string,
    now: Date,
    ttlMs: number,
  ): Promise<LockRecord> {
    return exclusive(this.db, () => {
      assertNoWholeEnvironmentLock(
        this.getLock(environment, WHOLE_ENVIRONMENT_PROJECT),
        owner,
        now,
      );
      const lock = decideLock(this.getLock(environment, project), {
        environment,
        project,
        owner,
        now,
        ttlMs,
      });
      this.db
        .prepare(
          `INSERT INTO locks (environment, project, owner, acquired_at, expires_at)
           VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (environment, project) DO UPDATE SET owner = excluded.owner,
             acquired_at = excluded.acquired_at, expires_at = excluded.expires_at`,
        )
        .run(lock.environment, lock.project, lock.owner, lock.acquiredAt, lock.expiresAt);
      return lock;
    });
  }

  /** Releases the lock if `owner` holds it, recording the hold; absent is a no-op (false). */
  async release(environment: string, project: string, owner: string, now: Date): Promise<boolean> {
    return exclusive(this.db, () => {
      const lock = this.getLock(environment, project);
      assertCanRelease(lock, owner);
      if (!lock) return false;
      this.db
        .prepare('DELETE FROM locks WHERE environment = ? AND project = ? AND owner = ?')
        .run(environment, project, owner);
      this.db
        .prepare(
          `INSERT INTO lock_history (environment, project, owner, acquired_at, released_at)
           VALUES (?, ?, ?, ?, ?)`,
        )
        .run(environment, project, owner, lock.acquiredAt, now.toISOString());
      return true;
    });
  }

  async environmentLocks(environment: string): Promise<LockRecord[]> {
    return this.locksOf(environment);
  }

  /** Every lock as stored, expired or not, by environment and project. */
  list(): LockRecord[] {
    return (
      this.db.prepare('SELECT * FROM locks ORDER BY environment, project').all() as Row[]
    ).map(lockOf);
  }

  /** The environment's locks as stored, expired or not, by project. */
  locksOf(environment: string): LockRecord[] {
    return (
      this.db
        .prepare('SELECT * FROM locks WHERE environment = ? ORDER BY project')
        .all(environment) as Row[]
    ).map(lockOf);
  }

  /** The lock as stored, expired or not. */
  getLock(environment: string, project: string): LockRecord | undefined {
    const row = this.db
      .prepare('SELECT * FROM locks WHERE environment = ? AND project = ?')
      .get(environment, project) as Row | undefined;
    return row ? lockOf(row) : undefined;
  }

  /**
   * Every hold of the environment's locks that was held and released, oldest first (proof
   * that holds of one project never overlapped); `project` narrows it to one.
   */
  lockHistory(environment: string, project?: string): LockHold[] {
    const rows = (
      project === undefined
        ? this.db
            .prepare(
              'SELECT * FROM lock_history WHERE environment = ? ORDER BY acquired_at, project',
            )
            .all(environment)
        : this.db
            .prepare(
              'SELECT * FROM lock_history WHERE environment = ? AND project = ? ORDER BY acquired_at',
            )
            .all(environment, project)
    ) as Row[];
    return rows.map((row) => ({
      project: str(row, 'project'),
      owner: str(row, 'owner'),
      acquiredAt: str(row, 'acquired_at'),
      releasedAt: str(row, 'released_at'),
    }));
  }
}
