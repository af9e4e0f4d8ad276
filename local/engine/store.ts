// The local state store: one SQLite file (node:sqlite) under .stepform/. It holds what
// DynamoDB holds on AWS: runs and their events, environment locks, the last good commit per
// environment and project, environments, approvals, TTL schedules and the status outbox.
// Writes that must be exclusive (locks, decisions) are single conditional statements, so
// two processes sharing the file can never both win.
import { DatabaseSync } from 'node:sqlite';
import type { ApprovalRecord } from '../../core/approval.ts';
import { type LockRecord, assertCanRelease, decideLock } from '../../core/locks.ts';

export type RunStatus = 'running' | 'succeeded' | 'failed';

export interface RunRow {
  runId: string;
  workflow: string;
  environment: string;
  projectDir: string;
  repository: string;
  commit: string;
  status: RunStatus;
  phase: string | null;
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
  /** JSON: the plan summary, outputs, rollback target... whatever the run recorded. */
  details: Record<string, unknown>;
}

export interface RunEventRow {
  runId: string;
  seq: number;
  at: string;
  type: string;
  state: string | null;
  durationMs: number | null;
  detail: string | null;
}

/** A lock as the core decides it (core/locks.ts). */
export type LockRow = LockRecord;

export interface ApprovalRow {
  id: string;
  runId: string;
  taskToken: string;
  environment: string;
  projectDir: string;
  commit: string;
  planSha256: string;
  status: 'pending' | 'approved' | 'rejected' | 'expired';
  requestedAt: string;
  expiresAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
}

export interface ScheduleRow {
  environment: string;
  projectDir: string;
  repository: string;
  commit: string;
  fireAt: string;
  status: 'pending' | 'fired' | 'deleted';
  createdBy: string;
}

export interface EnvironmentRow {
  environment: string;
  projectDir: string;
  status: string;
  ttlExpiresAt: string | null;
  lastRunId: string;
  updatedAt: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, workflow TEXT NOT NULL, environment TEXT NOT NULL,
  project_dir TEXT NOT NULL, repository TEXT NOT NULL, commit_sha TEXT NOT NULL,
  status TEXT NOT NULL, phase TEXT, started_at TEXT NOT NULL, finished_at TEXT,
  error TEXT, details TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at);
CREATE TABLE IF NOT EXISTS run_events (
  run_id TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL, type TEXT NOT NULL,
  state TEXT, duration_ms INTEGER, detail TEXT, PRIMARY KEY (run_id, seq));
CREATE TABLE IF NOT EXISTS locks (
  environment TEXT PRIMARY KEY, owner TEXT NOT NULL, acquired_at TEXT NOT NULL,
  expires_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lock_history (
  environment TEXT NOT NULL, owner TEXT NOT NULL, acquired_at TEXT NOT NULL,
  released_at TEXT NOT NULL);
-- A lock taken over after its expiry ends the old hold: record it like a release.
CREATE TRIGGER IF NOT EXISTS locks_hold_ended AFTER UPDATE ON locks
WHEN old.owner <> new.owner OR old.acquired_at <> new.acquired_at BEGIN
  INSERT INTO lock_history (environment, owner, acquired_at, released_at)
  VALUES (old.environment, old.owner, old.acquired_at, old.expires_at);
END;
CREATE TABLE IF NOT EXISTS last_good (
  environment TEXT NOT NULL, project_dir TEXT NOT NULL, commit_sha TEXT NOT NULL,
  run_id TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (environment, project_dir));
CREATE TABLE IF NOT EXISTS environments (
  environment TEXT NOT NULL, project_dir TEXT NOT NULL, status TEXT NOT NULL,
  ttl_expires_at TEXT, last_run_id TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (environment, project_dir));
CREATE TABLE IF NOT EXISTS approvals (
  id TEXT PRIMARY KEY, run_id TEXT NOT NULL, task_token TEXT NOT NULL,
  environment TEXT NOT NULL, project_dir TEXT NOT NULL, commit_sha TEXT NOT NULL,
  plan_sha256 TEXT NOT NULL, status TEXT NOT NULL, requested_at TEXT NOT NULL,
  expires_at TEXT NOT NULL, decided_by TEXT, decided_at TEXT);
CREATE INDEX IF NOT EXISTS approvals_run ON approvals (run_id);
CREATE TABLE IF NOT EXISTS schedules (
  environment TEXT NOT NULL, project_dir TEXT NOT NULL, repository TEXT NOT NULL,
  commit_sha TEXT NOT NULL, fire_at TEXT NOT NULL, status TEXT NOT NULL,
  created_by TEXT NOT NULL, PRIMARY KEY (environment, project_dir));
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, phase TEXT NOT NULL,
  body TEXT NOT NULL, at TEXT NOT NULL, delivered_at TEXT);
`;

type Row = Record<string, unknown>;
/** SQLite hands back strings, numbers, bigints or null; every column read here is TEXT. */
const str = (row: Row, key: string): string => String(row[key]);
const optStr = (row: Row, key: string): string | null =>
  row[key] === null || row[key] === undefined ? null : str(row, key);

export class Store {
  readonly path: string;
  readonly #db: DatabaseSync;

  constructor(path: string) {
    this.path = path;
    // The busy timeout comes first, so every statement below waits for other processes.
    this.#db = new DatabaseSync(path, { timeout: 10_000 });
    // Switching to WAL needs a moment alone with the file, and SQLite does not wait for that
    // (SQLITE_BUSY at once): retry briefly when processes open the store together.
    for (let attempt = 0; ; attempt++) {
      try {
        this.#db.exec('PRAGMA journal_mode = WAL');
        break;
      } catch (error) {
        if (attempt >= 100 || (error as { errcode?: unknown }).errcode !== 5) throw error;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10 + Math.random() * 20);
      }
    }
    this.#db.exec('PRAGMA foreign_keys = ON;');
    this.#db.exec(`BEGIN IMMEDIATE; ${SCHEMA} COMMIT;`);
  }

  close(): void {
    this.#db.close();
  }

  // ---- runs ----

  createRun(run: Omit<RunRow, 'status' | 'phase' | 'finishedAt' | 'error' | 'details'>): void {
    this.#db
      .prepare(
        `INSERT INTO runs (run_id, workflow, environment, project_dir, repository, commit_sha, status, started_at)
         VALUES (?, ?, ?, ?, ?, ?, 'running', ?)`,
      )
      .run(
        run.runId,
        run.workflow,
        run.environment,
        run.projectDir,
        run.repository,
        run.commit,
        run.startedAt,
      );
  }

  setRunPhase(runId: string, phase: string): void {
    this.#db.prepare('UPDATE runs SET phase = ? WHERE run_id = ?').run(phase, runId);
  }

  /** Merges keys into the run's details (summary, outputs, rollback target...). */
  addRunDetails(runId: string, details: Record<string, unknown>): void {
    const run = this.getRun(runId);
    if (!run) return;
    this.#db
      .prepare('UPDATE runs SET details = ? WHERE run_id = ?')
      .run(JSON.stringify({ ...run.details, ...details }), runId);
  }

  finishRun(
    runId: string,
    status: Exclude<RunStatus, 'running'>,
    at: string,
    error: string | null,
  ): void {
    this.#db
      .prepare('UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE run_id = ?')
      .run(status, at, error, runId);
  }

  getRun(runId: string): RunRow | undefined {
    const row = this.#db.prepare('SELECT * FROM runs WHERE run_id = ?').get(runId) as
      Row | undefined;
    return row ? toRun(row) : undefined;
  }

  /** Newest first. */
  listRuns(limit = 50): RunRow[] {
    return (
      this.#db
        .prepare('SELECT * FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?')
        .all(limit) as Row[]
    ).map(toRun);
  }

  addRunEvent(event: Omit<RunEventRow, 'seq'>): void {
    this.#db
      .prepare(
        `INSERT INTO run_events (run_id, seq, at, type, state, duration_ms, detail)
         VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM run_events WHERE run_id = ?), ?, ?, ?, ?, ?)`,
      )
      .run(
        event.runId,
        event.runId,
        event.at,
        event.type,
        event.state,
        event.durationMs,
        event.detail,
      );
  }

  listRunEvents(runId: string): RunEventRow[] {
    return (
      this.#db.prepare('SELECT * FROM run_events WHERE run_id = ? ORDER BY seq').all(runId) as Row[]
    ).map((row) => ({
      runId: str(row, 'run_id'),
      seq: Number(row.seq),
      at: str(row, 'at'),
      type: str(row, 'type'),
      state: optStr(row, 'state'),
      durationMs: row.duration_ms === null ? null : Number(row.duration_ms),
      detail: optStr(row, 'detail'),
    }));
  }

  // ---- locks ----

  /**
   * Runs `work` as one write transaction. BEGIN IMMEDIATE takes SQLite's write lock first, so
   * a read-decide-write inside it is atomic across every process sharing the file.
   */
  #exclusive<T>(work: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  /**
   * Takes the environment's lock for `owner`: the core decides (free, expired, or renewed by
   * its owner; LockHeld otherwise) on the row read inside the same write transaction.
   */
  acquireLock(environment: string, owner: string, now: Date, ttlMs: number): LockRow {
    return this.#exclusive(() => {
      const lock = decideLock(this.getLock(environment), { environment, owner, now, ttlMs });
      this.#db
        .prepare(
          `INSERT INTO locks (environment, owner, acquired_at, expires_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (environment) DO UPDATE SET owner = excluded.owner,
             acquired_at = excluded.acquired_at, expires_at = excluded.expires_at`,
        )
        .run(lock.environment, lock.owner, lock.acquiredAt, lock.expiresAt);
      return lock;
    });
  }

  /** Releases the lock if `owner` holds it; releasing a lock nobody holds is a no-op. */
  releaseLock(environment: string, owner: string, now: Date): void {
    this.#exclusive(() => {
      const lock = this.getLock(environment);
      assertCanRelease(lock, owner);
      if (!lock) return;
      this.#db
        .prepare('DELETE FROM locks WHERE environment = ? AND owner = ?')
        .run(environment, owner);
      this.#db
        .prepare(
          'INSERT INTO lock_history (environment, owner, acquired_at, released_at) VALUES (?, ?, ?, ?)',
        )
        .run(environment, owner, lock.acquiredAt, now.toISOString());
    });
  }

  getLock(environment: string): LockRow | undefined {
    const row = this.#db.prepare('SELECT * FROM locks WHERE environment = ?').get(environment) as
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
  lockHistory(environment: string): { owner: string; acquiredAt: string; releasedAt: string }[] {
    return (
      this.#db
        .prepare('SELECT * FROM lock_history WHERE environment = ? ORDER BY acquired_at')
        .all(environment) as Row[]
    ).map((row) => ({
      owner: str(row, 'owner'),
      acquiredAt: str(row, 'acquired_at'),
      releasedAt: str(row, 'released_at'),
    }));
  }

  // ---- last good commit, environments ----

  getLastGood(
    environment: string,
    projectDir: string,
  ): { commit: string; runId: string; at: string } | undefined {
    const row = this.#db
      .prepare('SELECT * FROM last_good WHERE environment = ? AND project_dir = ?')
      .get(environment, projectDir) as Row | undefined;
    return row
      ? { commit: str(row, 'commit_sha'), runId: str(row, 'run_id'), at: str(row, 'at') }
      : undefined;
  }

  setLastGood(
    environment: string,
    projectDir: string,
    commit: string,
    runId: string,
    at: string,
  ): void {
    this.#db
      .prepare(
        `INSERT INTO last_good (environment, project_dir, commit_sha, run_id, at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (environment, project_dir) DO UPDATE SET commit_sha = excluded.commit_sha,
           run_id = excluded.run_id, at = excluded.at`,
      )
      .run(environment, projectDir, commit, runId, at);
  }

  setEnvironment(row: EnvironmentRow): void {
    this.#db
      .prepare(
        `INSERT INTO environments (environment, project_dir, status, ttl_expires_at, last_run_id, updated_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (environment, project_dir) DO UPDATE SET status = excluded.status,
           ttl_expires_at = excluded.ttl_expires_at, last_run_id = excluded.last_run_id,
           updated_at = excluded.updated_at`,
      )
      .run(
        row.environment,
        row.projectDir,
        row.status,
        row.ttlExpiresAt,
        row.lastRunId,
        row.updatedAt,
      );
  }

  getEnvironment(environment: string, projectDir: string): EnvironmentRow | undefined {
    const row = this.#db
      .prepare('SELECT * FROM environments WHERE environment = ? AND project_dir = ?')
      .get(environment, projectDir) as Row | undefined;
    return row
      ? {
          environment: str(row, 'environment'),
          projectDir: str(row, 'project_dir'),
          status: str(row, 'status'),
          ttlExpiresAt: optStr(row, 'ttl_expires_at'),
          lastRunId: str(row, 'last_run_id'),
          updatedAt: str(row, 'updated_at'),
        }
      : undefined;
  }

  // ---- approvals ----

  createApproval(approval: ApprovalRow): void {
    this.#db
      .prepare(
        `INSERT INTO approvals (id, run_id, task_token, environment, project_dir, commit_sha, plan_sha256,
           status, requested_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
      )
      .run(
        approval.id,
        approval.runId,
        approval.taskToken,
        approval.environment,
        approval.projectDir,
        approval.commit,
        approval.planSha256,
        approval.requestedAt,
        approval.expiresAt,
      );
  }

  getApproval(id: string): ApprovalRow | undefined {
    const row = this.#db.prepare('SELECT * FROM approvals WHERE id = ?').get(id) as Row | undefined;
    return row ? toApproval(row) : undefined;
  }

  /** The newest approval of a run. */
  approvalForRun(runId: string): ApprovalRow | undefined {
    const row = this.#db
      .prepare('SELECT * FROM approvals WHERE run_id = ? ORDER BY requested_at DESC LIMIT 1')
      .get(runId) as Row | undefined;
    return row ? toApproval(row) : undefined;
  }

  /** Single use: the decision is written only while the approval is still pending. */
  decideApproval(
    id: string,
    status: 'approved' | 'rejected' | 'expired',
    by: string | null,
    at: string,
  ): boolean {
    const result = this.#db
      .prepare(
        // An approval past its expiry can only be marked expired, never approved or rejected.
        `UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?
         WHERE id = ? AND status = 'pending' AND (? = 'expired' OR ? <= expires_at)`,
      )
      .run(status, by, at, id, status, at);
    return Number(result.changes) === 1;
  }

  // ---- schedules ----

  upsertSchedule(row: ScheduleRow): void {
    this.#db
      .prepare(
        `INSERT INTO schedules (environment, project_dir, repository, commit_sha, fire_at, status, created_by)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (environment, project_dir) DO UPDATE SET repository = excluded.repository,
           commit_sha = excluded.commit_sha, fire_at = excluded.fire_at, status = excluded.status,
           created_by = excluded.created_by`,
      )
      .run(
        row.environment,
        row.projectDir,
        row.repository,
        row.commit,
        row.fireAt,
        row.status,
        row.createdBy,
      );
  }

  setScheduleStatus(environment: string, projectDir: string, status: ScheduleRow['status']): void {
    this.#db
      .prepare('UPDATE schedules SET status = ? WHERE environment = ? AND project_dir = ?')
      .run(status, environment, projectDir);
  }

  /** Marks a due schedule fired; false when another process fired it first. */
  claimSchedule(environment: string, projectDir: string, fireAt: string): boolean {
    const result = this.#db
      .prepare(
        `UPDATE schedules SET status = 'fired' WHERE environment = ? AND project_dir = ? AND fire_at = ? AND status = 'pending'`,
      )
      .run(environment, projectDir, fireAt);
    return Number(result.changes) === 1;
  }

  listSchedules(environment?: string): ScheduleRow[] {
    const rows = (
      environment === undefined
        ? this.#db.prepare('SELECT * FROM schedules ORDER BY fire_at').all()
        : this.#db
            .prepare('SELECT * FROM schedules WHERE environment = ? ORDER BY fire_at')
            .all(environment)
    ) as Row[];
    return rows.map((row) => ({
      environment: str(row, 'environment'),
      projectDir: str(row, 'project_dir'),
      repository: str(row, 'repository'),
      commit: str(row, 'commit_sha'),
      fireAt: str(row, 'fire_at'),
      status: str(row, 'status') as ScheduleRow['status'],
      createdBy: str(row, 'created_by'),
    }));
  }

  dueSchedules(now: Date): ScheduleRow[] {
    return this.listSchedules().filter(
      (s) => s.status === 'pending' && s.fireAt <= now.toISOString(),
    );
  }

  // ---- status outbox ----

  appendOutbox(runId: string, phase: string, body: unknown, at: string): void {
    this.#db
      .prepare('INSERT INTO outbox (run_id, phase, body, at) VALUES (?, ?, ?, ?)')
      .run(runId, phase, JSON.stringify(body), at);
  }

  listOutbox(
    runId?: string,
  ): { seq: number; runId: string; phase: string; body: unknown; at: string }[] {
    const rows = (
      runId === undefined
        ? this.#db.prepare('SELECT * FROM outbox ORDER BY seq').all()
        : this.#db.prepare('SELECT * FROM outbox WHERE run_id = ? ORDER BY seq').all(runId)
    ) as Row[];
    return rows.map((row) => ({
      seq: Number(row.seq),
      runId: str(row, 'run_id'),
      phase: str(row, 'phase'),
      body: JSON.parse(str(row, 'body')) as unknown,
      at: str(row, 'at'),
    }));
  }
}

function toRun(row: Row): RunRow {
  return {
    runId: str(row, 'run_id'),
    workflow: str(row, 'workflow'),
    environment: str(row, 'environment'),
    projectDir: str(row, 'project_dir'),
    repository: str(row, 'repository'),
    commit: str(row, 'commit_sha'),
    status: str(row, 'status') as RunStatus,
    phase: optStr(row, 'phase'),
    startedAt: str(row, 'started_at'),
    finishedAt: optStr(row, 'finished_at'),
    error: optStr(row, 'error'),
    details: JSON.parse(str(row, 'details')) as Record<string, unknown>,
  };
}

/** The core's view of an approval: no task token, absent rather than null fields. */
export function approvalRecord(row: ApprovalRow): ApprovalRecord {
  return {
    id: row.id,
    runId: row.runId,
    environment: row.environment,
    projectDir: row.projectDir,
    commit: row.commit,
    planSha256: row.planSha256,
    requestedAt: row.requestedAt,
    expiresAt: row.expiresAt,
    status: row.status,
    ...(row.decidedBy === null ? {} : { decidedBy: row.decidedBy }),
    ...(row.decidedAt === null ? {} : { decidedAt: row.decidedAt }),
  };
}

function toApproval(row: Row): ApprovalRow {
  return {
    id: str(row, 'id'),
    runId: str(row, 'run_id'),
    taskToken: str(row, 'task_token'),
    environment: str(row, 'environment'),
    projectDir: str(row, 'project_dir'),
    commit: str(row, 'commit_sha'),
    planSha256: str(row, 'plan_sha256'),
    status: str(row, 'status') as ApprovalRow['status'],
    requestedAt: str(row, 'requested_at'),
    expiresAt: str(row, 'expires_at'),
    decidedBy: optStr(row, 'decided_by'),
    decidedAt: optStr(row, 'decided_at'),
  };
}
