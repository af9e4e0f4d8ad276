// Environment locks in the local SQLite file: the LockPort, plus what the CLI and tests read
// (the lock as stored, the history of holds). The core decides (core/locks.ts); the row is
// read and written inside one write transaction, so two processes can never both win.
/* eslint-disable @typescript-eslint/require-await -- node:sqlite is synchronous (SqliteStore) */
import { type LockRecord, assertCanRelease, decideLock } from '../../../core/locks.ts';
import type { LockPort } from '../../../core/ports.ts';
import { type Row, SqliteStore, exclusive, str } from './database.ts';

/** One hold of a lock that has ended (released, or taken over after its expiry). */
export interface LockHold {
  readonly owner: string;
  readonly acquiredAt: string;
  readonly releasedAt: string;
}

export class SqliteLocks extends SqliteStore implements LockPort {
  /** Takes or renews the lock for `owner`, deciding on the row read in the same transaction. */
  async acquire(environment: string, owner: string, now: Date, ttlMs: number): Promise<LockRecord> {
    return exclusive(this.db, () => {
      const lock = decideLock(this.getLock(environment), { environment, owner, now, ttlMs });
      this.db
        .prepare(
          `INSERT INTO locks (environment, owner, acquired_at, expires_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (environment) DO UPDATE SET owner = excluded.owner,
             acquired_at = excluded.acquired_at, expires_at = excluded.expires_at`,
        )
        .run(lock.environment, lock.owner, lock.acquiredAt, lock.expiresAt);
      return lock;
    });
  }

  /** Releases the lock if `owner` holds it, recording the hold; absent is a no-op (false). */
  async release(environment: string, owner: string, now: Date): Promise<boolean> {
    return exclusive(this.db, () => {
      const lock = this.getLock(environment);
      assertCanRelease(lock, owner);
      if (!lock) return false;
      this.db
        .prepare('DELETE FROM locks WHERE environment = ? AND owner = ?')
        .run(environment, owner);
      this.db
        .prepare(
          'INSERT INTO lock_history (environment, owner, acquired_at, released_at) VALUES (?, ?, ?, ?)',
        )
        .run(environment, owner, lock.acquiredAt, now.toISOString());
      return true;
    });
  }

  /** Every lock as stored, expired or not. */
  list(): LockRecord[] {
    return (this.db.prepare('SELECT * FROM locks ORDER BY environment').all() as Row[]).map(
      (row) => ({
        environment: str(row, 'environment'),
        owner: str(row, 'owner'),
        acquiredAt: str(row, 'acquired_at'),
        expiresAt: str(row, 'expires_at'),
      }),
    );
  }

  /** The lock as stored, expired or not. */
  getLock(environment: string): LockRecord | undefined {
    const row = this.db.prepare('SELECT * FROM locks WHERE environment = ?').get(environment) as
      Row | undefined;
    return row
      ? {
          environment: str(row, 'environment'),
          owner: str(row, 'owner'),
          acquiredAt: str(row, 'acquired_at'),
          expiresAt: str(row, 'expires_at'),
        }
      : undefined;
  }

  /** Every lock that was held and released, oldest first (proof that holds never overlapped). */
  lockHistory(environment: string): LockHold[] {
    return (
      this.db
        .prepare('SELECT * FROM lock_history WHERE environment = ? ORDER BY acquired_at')
        .all(environment) as Row[]
    ).map((row) => ({
      owner: str(row, 'owner'),
      acquiredAt: str(row, 'acquired_at'),
      releasedAt: str(row, 'released_at'),
    }));
  }
}
