// Runs in the local SQLite file: the RunPort (details merged by the steps), plus what the
// engine and the CLI keep and read about a run (its row, its phase, the events of its states).
/* eslint-disable @typescript-eslint/require-await -- node:sqlite is synchronous (SqliteStore) */
import type { RunPort } from '../../../core/ports.ts';
import { type Row, SqliteStore, optStr, str } from './database.ts';

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

  finish(runId: string, status: Exclude<RunStatus, 'running'>, at: string, error: string | null) {
    this.db
      .prepare('UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE run_id = ?')
      .run(status, at, error, runId);
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
