// TTL destroy schedules in the local SQLite file: the SchedulePort, plus what `stepform
// serve` and `stepform ttl` need (listing, due schedules, claiming one to fire). A removed or
// fired schedule stays as a row with its status, so the CLI can show what happened.
/* eslint-disable @typescript-eslint/require-await -- node:sqlite is synchronous (SqliteStore) */
import type { DestroySchedule, SchedulePort } from '../../../core/ports.ts';
import { z } from 'zod';
import { RUN_PROJECT } from '../../../core/contracts/workflow-input.ts';
import { parseInput } from '../../../core/validation.ts';
import { type Row, SqliteStore, str } from './database.ts';

export type ScheduleStatus = 'pending' | 'fired' | 'deleted';

/** A destroy schedule as kept locally: the port's schedule and where it stands. */
export interface LocalSchedule extends DestroySchedule {
  readonly status: ScheduleStatus;
}

/** The port's schedule of a local one: what it is, without where it stands. */
export function withoutStatus(local: LocalSchedule): DestroySchedule {
  const schedule: { -readonly [K in keyof LocalSchedule]?: LocalSchedule[K] } = { ...local };
  delete schedule.status;
  return schedule as DestroySchedule;
}

export class SqliteSchedules extends SqliteStore implements SchedulePort {
  /** One row per environment and project: an upsert moves it and makes it pending again. */
  async upsert(schedule: DestroySchedule): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO schedules (environment, project_dir, repository, commit_sha, fire_at, status, created_by, protected, projects)
         VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)
         ON CONFLICT (environment, project_dir) DO UPDATE SET repository = excluded.repository,
           commit_sha = excluded.commit_sha, fire_at = excluded.fire_at, status = excluded.status,
           created_by = excluded.created_by, protected = excluded.protected,
           projects = excluded.projects`,
      )
      .run(
        schedule.environment,
        schedule.projectDir,
        schedule.repository,
        schedule.commit,
        schedule.fireAt,
        schedule.createdBy,
        schedule.protectedEnvironment === true ? 1 : 0,
        schedule.projects === undefined ? null : JSON.stringify(schedule.projects),
      );
  }

  /** Marks the schedule deleted, so that it never fires. */
  async remove(environment: string, projectDir: string): Promise<void> {
    this.db
      .prepare(`UPDATE schedules SET status = 'deleted' WHERE environment = ? AND project_dir = ?`)
      .run(environment, projectDir);
  }

  async pending(environment: string, projectDir: string): Promise<DestroySchedule | undefined> {
    const found = this.list(environment).find(
      (s) => s.projectDir === projectDir && s.status === 'pending',
    );
    if (found === undefined) return undefined;
    return withoutStatus(found);
  }

  /** Marks a due schedule fired; false when another process fired it first. */
  claim(environment: string, projectDir: string, fireAt: string): boolean {
    const result = this.db
      .prepare(
        `UPDATE schedules SET status = 'fired' WHERE environment = ? AND project_dir = ? AND fire_at = ? AND status = 'pending'`,
      )
      .run(environment, projectDir, fireAt);
    return Number(result.changes) === 1;
  }

  /** Every schedule, whatever its status, soonest first. */
  list(environment?: string): LocalSchedule[] {
    const rows = (
      environment === undefined
        ? this.db.prepare('SELECT * FROM schedules ORDER BY fire_at').all()
        : this.db
            .prepare('SELECT * FROM schedules WHERE environment = ? ORDER BY fire_at')
            .all(environment)
    ) as Row[];
    return rows.map((row) => ({
      environment: str(row, 'environment'),
      projectDir: str(row, 'project_dir'),
      repository: str(row, 'repository'),
      commit: str(row, 'commit_sha'),
      fireAt: str(row, 'fire_at'),
      status: str(row, 'status') as ScheduleStatus,
      createdBy: str(row, 'created_by'),
      ...(row.protected === 1 ? { protectedEnvironment: true as const } : {}),
      ...(typeof row.projects === 'string'
        ? {
            projects: parseInput(
              z.array(RUN_PROJECT),
              JSON.parse(row.projects),
              'schedule.projects',
            ),
          }
        : {}),
    }));
  }

  /** Pending schedules whose time has come. */
  due(now: Date): LocalSchedule[] {
    return this.list().filter((s) => s.status === 'pending' && s.fireAt <= now.toISOString());
  }
}
