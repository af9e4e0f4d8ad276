// Approvals in the local SQLite file: the ApprovalPort, plus the newest approval of a run (the
// CLI's approve/reject and the engine's clean-up find it by run). A decision is one
// conditional UPDATE, so of two processes deciding at once exactly one wins.
/* eslint-disable @typescript-eslint/require-await -- node:sqlite is synchronous (SqliteStore) */
import {
  APPROVAL_SUBJECT,
  type ApprovalStatus,
  type DecidedStatus,
} from '../../../core/approval.ts';
import { parseInput } from '../../../core/validation.ts';
import { APPROVAL_CHANNELS, type ApprovalChannel } from '../../../core/decision-actor.ts';
import { InvalidInput } from '../../../core/errors.ts';
import type { ApprovalPort, StoredApproval } from '../../../core/ports.ts';
import { type Row, SqliteStore, isConstraintViolation, optStr, str } from './database.ts';

export class SqliteApprovals extends SqliteStore implements ApprovalPort {
  async create(approval: StoredApproval): Promise<void> {
    try {
      this.db
        .prepare(
          `INSERT INTO approvals (id, run_id, task_token, environment, project_dir, commit_sha, plan_sha256,
             status, requested_at, expires_at, subject) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
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
          approval.subject === undefined ? null : JSON.stringify(approval.subject),
        );
    } catch (error) {
      if (!isConstraintViolation(error)) throw error;
      throw new InvalidInput('approval.id', `an approval ${approval.id} already exists`);
    }
  }

  async get(id: string): Promise<StoredApproval | undefined> {
    const row = this.db.prepare('SELECT * FROM approvals WHERE id = ?').get(id) as Row | undefined;
    return row ? toApproval(row) : undefined;
  }

  /** Single use, and an approval past its expiry can only be marked expired. */
  async decide(
    id: string,
    status: DecidedStatus,
    by: string | null,
    at: string,
    via?: ApprovalChannel,
    reason?: string,
  ): Promise<boolean> {
    const result = this.db
      .prepare(
        `UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, decided_via = ?, reason = ?
         WHERE id = ? AND status = 'pending' AND (? = 'expired' OR ? <= expires_at)`,
      )
      .run(status, by, at, via ?? null, reason ?? null, id, status, at);
    return Number(result.changes) === 1;
  }

  async latestForRun(runId: string): Promise<StoredApproval | undefined> {
    return this.forRun(runId);
  }

  /** Every approval of a run, oldest first (a policy override, then the plan's approval). */
  listForRun(runId: string): StoredApproval[] {
    const rows = this.db
      .prepare('SELECT * FROM approvals WHERE run_id = ? ORDER BY requested_at, rowid')
      .all(runId) as Row[];
    return rows.map(toApproval);
  }

  /** The newest approval of a run. */
  forRun(runId: string): StoredApproval | undefined {
    const row = this.db
      .prepare(
        'SELECT * FROM approvals WHERE run_id = ? ORDER BY requested_at DESC, rowid DESC LIMIT 1',
      )
      .get(runId) as Row | undefined;
    return row ? toApproval(row) : undefined;
  }
}

/** The port's record: decidedBy and decidedAt are absent, not null, until someone decides. */
function toApproval(row: Row): StoredApproval {
  const decidedBy = optStr(row, 'decided_by');
  const decidedAt = optStr(row, 'decided_at');
  const decidedVia = APPROVAL_CHANNELS.find((channel) => channel === row.decided_via);
  const reason = optStr(row, 'reason');
  return {
    id: str(row, 'id'),
    runId: str(row, 'run_id'),
    taskToken: str(row, 'task_token'),
    environment: str(row, 'environment'),
    projectDir: str(row, 'project_dir'),
    commit: str(row, 'commit_sha'),
    planSha256: str(row, 'plan_sha256'),
    status: str(row, 'status') as ApprovalStatus,
    requestedAt: str(row, 'requested_at'),
    expiresAt: str(row, 'expires_at'),
    ...(decidedBy === null ? {} : { decidedBy }),
    ...(decidedAt === null ? {} : { decidedAt }),
    ...(decidedVia === undefined ? {} : { decidedVia }),
    ...(reason === null ? {} : { reason }),
    ...(typeof row.subject === 'string'
      ? { subject: parseInput(APPROVAL_SUBJECT, JSON.parse(row.subject), 'approval.subject') }
      : {}),
  };
}
