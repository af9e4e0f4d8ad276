// Every local store, opened on one SQLite file: what the engine, the CLI and the tests open.
import { openDatabase } from './database.ts';
import { SqliteApprovals } from './sqlite-approvals.ts';
import { SqliteLocks } from './sqlite-locks.ts';
import { SqliteOutbox } from './sqlite-outbox.ts';
import { SqliteRecords } from './sqlite-records.ts';
import { SqliteRuns } from './sqlite-runs.ts';
import { SqliteSchedules } from './sqlite-schedules.ts';

export interface LocalStores {
  /** The SQLite file. */
  readonly path: string;
  readonly locks: SqliteLocks;
  readonly records: SqliteRecords;
  readonly approvals: SqliteApprovals;
  readonly schedules: SqliteSchedules;
  readonly runs: SqliteRuns;
  readonly outbox: SqliteOutbox;
  close(): void;
}

/** Opens (creating if needed) the SQLite file at `path` and every store on it. */
export function openLocalStores(path: string): LocalStores {
  const db = openDatabase(path);
  return {
    path,
    locks: new SqliteLocks(db),
    records: new SqliteRecords(db),
    approvals: new SqliteApprovals(db),
    schedules: new SqliteSchedules(db),
    runs: new SqliteRuns(db),
    outbox: new SqliteOutbox(db),
    close: () => db.close(),
  };
}
