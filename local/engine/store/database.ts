// The one SQLite file (node:sqlite) the local stores share, in the Stepform home: its schema, the
// way every process opens it, and the write transaction the exclusive writes use. It holds
// what DynamoDB holds on AWS (runs, locks, last good commits, environments, approvals), plus
// what EventBridge Scheduler and SQS hold there (TTL schedules, the status outbox).
import { chmodSync, closeSync, openSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { WHOLE_ENVIRONMENT_PROJECT } from '../../../core/locks.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, workflow TEXT NOT NULL, environment TEXT NOT NULL,
  project_dir TEXT NOT NULL, repository TEXT NOT NULL, commit_sha TEXT NOT NULL,
  status TEXT NOT NULL, phase TEXT, started_at TEXT NOT NULL, finished_at TEXT,
  error TEXT, details TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at);
-- Who runs a running run (the CLI process of its engine) and its current job's process group.
CREATE TABLE IF NOT EXISTS run_holders (
  run_id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, identity TEXT,
  heartbeat_at TEXT NOT NULL, job_pgid INTEGER);
CREATE TABLE IF NOT EXISTS run_events (
  run_id TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL, type TEXT NOT NULL,
  state TEXT, duration_ms INTEGER, detail TEXT, PRIMARY KEY (run_id, seq));
-- One lock per (environment, project); older stores are moved to it by migrateLocks.
CREATE TABLE IF NOT EXISTS locks (
  environment TEXT NOT NULL, project TEXT NOT NULL, owner TEXT NOT NULL,
  acquired_at TEXT NOT NULL, expires_at TEXT NOT NULL, PRIMARY KEY (environment, project));
CREATE TABLE IF NOT EXISTS lock_history (
  environment TEXT NOT NULL, owner TEXT NOT NULL, acquired_at TEXT NOT NULL,
  released_at TEXT NOT NULL, project TEXT NOT NULL DEFAULT '');
-- A lock taken over after its expiry ends the old hold: record it like a release.
CREATE TRIGGER IF NOT EXISTS locks_project_hold_ended AFTER UPDATE ON locks
WHEN old.owner <> new.owner OR old.acquired_at <> new.acquired_at BEGIN
  INSERT INTO lock_history (environment, project, owner, acquired_at, released_at)
  VALUES (old.environment, old.project, old.owner, old.acquired_at, old.expires_at);
END;
CREATE TABLE IF NOT EXISTS last_good (
  environment TEXT NOT NULL, project_dir TEXT NOT NULL, commit_sha TEXT NOT NULL,
  run_id TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (environment, project_dir));
CREATE TABLE IF NOT EXISTS drift_state (
  environment TEXT NOT NULL, project_dir TEXT NOT NULL, drifted INTEGER NOT NULL,
  commit_sha TEXT NOT NULL, run_id TEXT NOT NULL, at TEXT NOT NULL,
  PRIMARY KEY (environment, project_dir));
CREATE TABLE IF NOT EXISTS environments (
  environment TEXT NOT NULL, project_dir TEXT NOT NULL, status TEXT NOT NULL,
  ttl_expires_at TEXT, last_run_id TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (environment, project_dir));
CREATE TABLE IF NOT EXISTS approvals (
  id TEXT PRIMARY KEY, run_id TEXT NOT NULL, task_token TEXT NOT NULL,
  environment TEXT NOT NULL, project_dir TEXT NOT NULL, commit_sha TEXT NOT NULL,
  plan_sha256 TEXT NOT NULL, status TEXT NOT NULL, requested_at TEXT NOT NULL,
  expires_at TEXT NOT NULL, decided_by TEXT, decided_at TEXT, subject TEXT, decided_via TEXT,
  reason TEXT);
CREATE INDEX IF NOT EXISTS approvals_run ON approvals (run_id);
CREATE TABLE IF NOT EXISTS schedules (
  environment TEXT NOT NULL, project_dir TEXT NOT NULL, repository TEXT NOT NULL,
  commit_sha TEXT NOT NULL, fire_at TEXT NOT NULL, status TEXT NOT NULL,
  created_by TEXT NOT NULL, protected INTEGER NOT NULL DEFAULT 0, projects TEXT,
  PRIMARY KEY (environment, project_dir));
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, phase TEXT NOT NULL,
  body TEXT NOT NULL, at TEXT NOT NULL, delivered_at TEXT);
`;

/** SQLite's busy code: another connection holds the lock this statement needs. */
const SQLITE_BUSY = 5;

/**
 * Opens the database file (creating it and its tables if needed) in WAL mode, with a busy
 * timeout so that every statement waits for other processes rather than failing.
 */
export function openDatabase(path: string): DatabaseSync {
  // Private from its first byte (SQLite gives its -wal and -shm files the same mode), and made
  // private if an older version left it open. ':memory:' is no file.
  if (path !== ':memory:') {
    closeSync(openSync(path, 'a', 0o600));
    chmodSync(path, 0o600);
  }
  // The busy timeout comes first, so every statement below waits for other processes.
  const db = new DatabaseSync(path, { timeout: 10_000 });
  // Switching to WAL needs a moment alone with the file, and SQLite does not wait for that
  // (SQLITE_BUSY at once): retry briefly when processes open the store together.
  for (let attempt = 0; ; attempt++) {
    try {
      db.exec('PRAGMA journal_mode = WAL');
      break;
    } catch (error) {
      if (attempt >= 100 || (error as { errcode?: unknown }).errcode !== SQLITE_BUSY) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10 + Math.random() * 20);
    }
  }
  db.exec('PRAGMA foreign_keys = ON;');
  exclusive(db, () => {
    migrateLocks(db);
    db.exec(SCHEMA);
  });
  addMissingColumns(db);
  return db;
}

/** Columns added since a table was first made: a store of an older version gets them. */
const ADDED_COLUMNS: readonly { table: string; column: string; definition: string }[] = [
  { table: 'schedules', column: 'protected', definition: 'INTEGER NOT NULL DEFAULT 0' },
  // The projects the scheduled destroy covers (JSON; NULL: the one project at project_dir).
  { table: 'schedules', column: 'projects', definition: 'TEXT' },
  // What an approval is for (JSON, core/approval.ts APPROVAL_SUBJECT; NULL on older rows).
  { table: 'approvals', column: 'subject', definition: 'TEXT' },
  // Where it was decided (core/decision-actor.ts APPROVAL_CHANNELS; NULL on older rows).
  { table: 'approvals', column: 'decided_via', definition: 'TEXT' },
  // Why it was decided so (a policy override's reason; NULL otherwise and on older rows).
  { table: 'approvals', column: 'reason', definition: 'TEXT' },
];

function addMissingColumns(db: DatabaseSync): void {
  exclusive(db, () => {
    for (const { table, column, definition } of ADDED_COLUMNS) {
      const columns = db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[];
      if (!columns.some((c) => c.name === column))
        db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
    }
  });
}

/**
 * A store written before locks were per project has a locks table keyed by environment alone
 * (and a lock_history without a project): the table is rebuilt keyed by (environment,
 * project), each lock kept under WHOLE_ENVIRONMENT_PROJECT, and the history gains the column.
 * Runs inside openDatabase's write transaction, before the schema; a no-op once done.
 */
function migrateLocks(db: DatabaseSync): void {
  const columns = (table: string) =>
    (db.prepare(`PRAGMA table_info(${table})`).all() as Row[]).map((row) => str(row, 'name'));
  const lockColumns = columns('locks');
  if (lockColumns.length > 0 && !lockColumns.includes('project')) {
    db.exec(`
      DROP TRIGGER IF EXISTS locks_hold_ended;
      ALTER TABLE locks RENAME TO locks_by_environment;
      CREATE TABLE locks (
        environment TEXT NOT NULL, project TEXT NOT NULL, owner TEXT NOT NULL,
        acquired_at TEXT NOT NULL, expires_at TEXT NOT NULL, PRIMARY KEY (environment, project));
      INSERT INTO locks (environment, project, owner, acquired_at, expires_at)
        SELECT environment, '${WHOLE_ENVIRONMENT_PROJECT}', owner, acquired_at, expires_at
        FROM locks_by_environment;
      DROP TABLE locks_by_environment;`);
  }
  const historyColumns = columns('lock_history');
  if (historyColumns.length > 0 && !historyColumns.includes('project')) {
    db.exec(`ALTER TABLE lock_history ADD COLUMN project TEXT NOT NULL DEFAULT ''`);
  }
}

/**
 * Runs `work` as one write transaction. BEGIN IMMEDIATE takes SQLite's write lock first, so
 * a read-decide-write inside it is atomic across every process sharing the file.
 */
export function exclusive<T>(db: DatabaseSync, work: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = work();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}

/**
 * A store on the shared file. node:sqlite is synchronous: the port methods of a store are
 * async only to meet the port (each store's file lifts the require-await rule for that).
 */
export class SqliteStore {
  protected readonly db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.db = db;
  }
}

/** A row as node:sqlite returns it. */
export type Row = Record<string, unknown>;

/** SQLite hands back strings, numbers, bigints or null; every column read this way is TEXT. */
export const str = (row: Row, key: string): string => String(row[key]);

export const optStr = (row: Row, key: string): string | null =>
  row[key] === null || row[key] === undefined ? null : str(row, key);

/** SQLite's constraint code (the low byte of an extended code such as PRIMARYKEY, 1555). */
const SQLITE_CONSTRAINT = 19;

/** True for a write refused by a constraint (a second row with the same primary key). */
export function isConstraintViolation(error: unknown): boolean {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  return typeof code === 'number' && (code & 0xff) === SQLITE_CONSTRAINT;
}
