// Runs in the local SQLite file: the RunPort (details merged by the steps), plus what the
// engine and the CLI keep and read about a run (its row, its phase, the events of its states).
/* eslint-disable @typescript-eslint/require-await -- node:sqlite is synchronous (SqliteStore) */
import type { ProcessHolder } from '../../../core/liveness.ts';
import type { RunPort } from '../../../core/ports.ts';
import { type Row, SqliteStore, optStr, str } from './database.ts';

/** `cancelled`: stopped on purpose (Ctrl-C, SIGTERM); an interrupted run is `failed`. */
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'cancelled';

/** A running run with the process that holds it (none: recorded by an older version). */
export interface HeldRun {
  readonly run: RunRow;
  readonly holder?: ProcessHolder;
  /** The process group of the job it was running, if any. */
  readonly jobGroup?: number;
}

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

export class SqliteRuns extends SqliteStore implements RunPort {
  /**
   * Merges keys into the details of a run the engine created; details of a run it never
   * started are dropped (locally, every run starts here first).
   */
  async addRunDetails(runId: string, details: Record<string, unknown>): Promise<void> {
    const run = this.get(runId);
    if (!run) return;
    this.db
      .prepare('UPDATE runs SET details = ? WHERE run_id = ?')
      .run(JSON.stringify({ ...run.details, ...details }), runId);
  }

  /** The run's merged details ({} when none were recorded), as DynamoRunPort reads them. */
  getRunDetails(runId: string): Record<string, unknown> {
    return this.get(runId)?.details ?? {};
  }

  create(run: Omit<RunRow, 'status' | 'phase' | 'finishedAt' | 'error' | 'details'>): void {
    this.db
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

  setPhase(runId: string, phase: string): void {
    this.db.prepare('UPDATE runs SET phase = ? WHERE run_id = ?').run(phase, runId);
  }

  /**
   * Ends a running run, once: false when it had already ended (two processes closing an
   * interrupted run at once: one of them does it).
   */
  finish(
    runId: string,
    status: Exclude<RunStatus, 'running'>,
    at: string,
    error: string | null,
  ): boolean {
    const ended = this.db
      .prepare(
        "UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE run_id = ? AND status = 'running'",
      )
      .run(status, at, error, runId);
    this.db.prepare('DELETE FROM run_holders WHERE run_id = ?').run(runId);
    return Number(ended.changes) === 1;
  }

  /** Records the process that runs the run (its engine's). */
  hold(runId: string, holder: ProcessHolder): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO run_holders (run_id, host, pid, identity, heartbeat_at, job_pgid)
         VALUES (?, ?, ?, ?, ?, NULL)`,
      )
      .run(runId, holder.host, holder.pid, holder.identity, holder.heartbeatAt);
  }

  heartbeat(runId: string, at: string): void {
    this.db.prepare('UPDATE run_holders SET heartbeat_at = ? WHERE run_id = ?').run(at, runId);
  }

  /** The process group of the job the run is running now; null once it is over. */
  setJobGroup(runId: string, pgid: number | null): void {
    this.db.prepare('UPDATE run_holders SET job_pgid = ? WHERE run_id = ?').run(pgid, runId);
  }

  /** Every run still marked running, with its holder. */
  running(): HeldRun[] {
    return (this.db.prepare(`${HELD_RUNS} ORDER BY runs.started_at`).all() as Row[]).map(toHeld);
  }

  /** The run with its holder while it is running; undefined once it ended (or never was). */
  held(runId: string): HeldRun | undefined {
    const row = this.db.prepare(`${HELD_RUNS} AND runs.run_id = ?`).get(runId) as Row | undefined;
    return row ? toHeld(row) : undefined;
  }

  get(runId: string): RunRow | undefined {
    const row = this.db.prepare('SELECT * FROM runs WHERE run_id = ?').get(runId) as
      Row | undefined;
    return row ? toRun(row) : undefined;
  }

  /** Newest first. */
  list(limit = 50): RunRow[] {
    return (
      this.db
        .prepare('SELECT * FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?')
        .all(limit) as Row[]
    ).map(toRun);
  }

  /** Appends an event, numbered 1, 2, 3… per run in the order written. */
  addEvent(event: Omit<RunEventRow, 'seq'>): void {
    this.db
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

  listEvents(runId: string): RunEventRow[] {
    return (
      this.db.prepare('SELECT * FROM run_events WHERE run_id = ? ORDER BY seq').all(runId) as Row[]
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
}

/** Running runs joined with their holders (the h_ columns; null when none was recorded). */
const HELD_RUNS = `SELECT runs.*, h.host AS h_host, h.pid AS h_pid, h.identity AS h_identity,
         h.heartbeat_at AS h_heartbeat_at, h.job_pgid AS h_job_pgid
  FROM runs LEFT JOIN run_holders h ON h.run_id = runs.run_id
  WHERE runs.status = 'running'`;

function toHeld(row: Row): HeldRun {
  return {
    run: toRun(row),
    ...(row.h_pid === null
      ? {}
      : {
          holder: {
            host: str(row, 'h_host'),
            pid: Number(row.h_pid),
            identity: optStr(row, 'h_identity'),
            heartbeatAt: str(row, 'h_heartbeat_at'),
          },
        }),
    ...(row.h_job_pgid === null ? {} : { jobGroup: Number(row.h_job_pgid) }),
  };
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
