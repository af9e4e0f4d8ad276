// What runs leave behind, in the local SQLite file: the RecordPort (last good commit per
// environment and project, environments), plus the environment as stored for the CLI.
/* eslint-disable @typescript-eslint/require-await -- node:sqlite is synchronous (SqliteStore) */
import type {
  DriftState,
  EnvironmentRecord,
  LastGoodCommit,
  RecordPort,
} from '../../../core/ports.ts';
import { type Row, SqliteStore, optStr, str } from './database.ts';

export class SqliteRecords extends SqliteStore implements RecordPort {
  async getLastGood(environment: string, projectDir: string): Promise<LastGoodCommit | undefined> {
    const row = this.db
      .prepare('SELECT * FROM last_good WHERE environment = ? AND project_dir = ?')
      .get(environment, projectDir) as Row | undefined;
    return row
      ? { commit: str(row, 'commit_sha'), runId: str(row, 'run_id'), at: str(row, 'at') }
      : undefined;
  }

  /**
   * Only moves forward in time: a write older than the stored one (a replayed or late step)
   * is ignored, as DynamoDB's conditional put ignores it. Every `at` is an ISO-8601 UTC time
   * from Date#toISOString, so comparing the strings compares the instants.
   */
  async setLastGood(environment: string, projectDir: string, good: LastGoodCommit): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO last_good (environment, project_dir, commit_sha, run_id, at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (environment, project_dir) DO UPDATE SET commit_sha = excluded.commit_sha,
           run_id = excluded.run_id, at = excluded.at
         WHERE last_good.at <= excluded.at`,
      )
      .run(environment, projectDir, good.commit, good.runId, good.at);
  }

  async setEnvironment(record: EnvironmentRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO environments (environment, project_dir, status, ttl_expires_at, last_run_id, updated_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (environment, project_dir) DO UPDATE SET status = excluded.status,
           ttl_expires_at = excluded.ttl_expires_at, last_run_id = excluded.last_run_id,
           updated_at = excluded.updated_at`,
      )
      .run(
        record.environment,
        record.projectDir,
        record.status,
        record.ttlExpiresAt,
        record.lastRunId,
        record.updatedAt,
      );
  }

  getEnvironment(environment: string, projectDir: string): EnvironmentRecord | undefined {
    const row = this.db
      .prepare('SELECT * FROM environments WHERE environment = ? AND project_dir = ?')
      .get(environment, projectDir) as Row | undefined;
    return row ? toEnvironment(row) : undefined;
  }

  async readEnvironment(
    environment: string,
    projectDir: string,
  ): Promise<EnvironmentRecord | undefined> {
    return this.getEnvironment(environment, projectDir);
  }

  async getDrift(environment: string, projectDir: string): Promise<DriftState | undefined> {
    const row = this.db
      .prepare('SELECT * FROM drift_state WHERE environment = ? AND project_dir = ?')
      .get(environment, projectDir) as Row | undefined;
    return row
      ? {
          drifted: row.drifted === 1,
          commit: str(row, 'commit_sha'),
          runId: str(row, 'run_id'),
          at: str(row, 'at'),
        }
      : undefined;
  }

  /** Only moves forward in time, as setLastGood. */
  async setDrift(environment: string, projectDir: string, state: DriftState): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO drift_state (environment, project_dir, drifted, commit_sha, run_id, at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (environment, project_dir) DO UPDATE SET drifted = excluded.drifted,
           commit_sha = excluded.commit_sha, run_id = excluded.run_id, at = excluded.at
         WHERE drift_state.at <= excluded.at`,
      )
      .run(environment, projectDir, state.drifted ? 1 : 0, state.commit, state.runId, state.at);
  }

  /** The last good commit of every environment and project, by name. */
  listLastGood(): (LastGoodCommit & { environment: string; projectDir: string })[] {
    return (
      this.db.prepare('SELECT * FROM last_good ORDER BY environment, project_dir').all() as Row[]
    ).map((row) => ({
      environment: str(row, 'environment'),
      projectDir: str(row, 'project_dir'),
      commit: str(row, 'commit_sha'),
      runId: str(row, 'run_id'),
      at: str(row, 'at'),
    }));
  }

  /** Every environment and project a run recorded, by name. */
  listEnvironments(): EnvironmentRecord[] {
    return (
      this.db.prepare('SELECT * FROM environments ORDER BY environment, project_dir').all() as Row[]
    ).map(toEnvironment);
  }
}

function toEnvironment(row: Row): EnvironmentRecord {
  return {
    environment: str(row, 'environment'),
    projectDir: str(row, 'project_dir'),
    status: str(row, 'status'),
    ttlExpiresAt: optStr(row, 'ttl_expires_at'),
    lastRunId: str(row, 'last_run_id'),
    updatedAt: str(row, 'updated_at'),
  };
}
