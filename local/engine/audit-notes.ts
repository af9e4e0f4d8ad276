// The audit trail in git: each run appends a note to its commit under refs/notes/stepform,
// so `git log --notes=stepform` shows what Stepform did with every commit.
import { isAbsolute } from 'node:path';
import { AUDIT_NOTES_REF, renderAuditNote } from '../../core/audit.ts';
import type { ApprovalSubject } from '../../core/approval.ts';
import { type DecidedFields, decisionActor } from '../../core/decision-actor.ts';
import { run } from '../../toolchain/process.ts';

/** Who Stepform's own commits and notes are by. */
export const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: 'Stepform',
  GIT_AUTHOR_EMAIL: 'stepform@localhost.invalid',
  GIT_COMMITTER_NAME: 'Stepform',
  GIT_COMMITTER_EMAIL: 'stepform@localhost.invalid',
};

/** Appends `text` to the commit's note; retried, since concurrent runs race for the notes ref. */
export async function appendAuditNote(
  repository: string,
  commit: string,
  text: string,
): Promise<void> {
  if (!isAbsolute(repository)) return; // a remote repository: the GitHub deployment is the record
  let lastError = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const result = await run(
      'git',
      ['-C', repository, 'notes', `--ref=${AUDIT_NOTES_REF}`, 'append', '-m', text, commit],
      { env: { ...process.env, ...GIT_IDENTITY } },
    );
    if (result.exitCode === 0) return;
    lastError = result.stderr.trim();
    await new Promise((resolve) => setTimeout(resolve, 100 * (attempt + 1)));
  }
  throw new Error(`could not write the audit note on ${commit}: ${lastError}`);
}

export async function readAuditNote(
  repository: string,
  commit: string,
): Promise<string | undefined> {
  const result = await run('git', [
    '-C',
    repository,
    'notes',
    `--ref=${AUDIT_NOTES_REF}`,
    'show',
    commit,
  ]);
  return result.exitCode === 0 ? result.stdout : undefined;
}

/** The note of a run that ended, from its row in the store and the phases it published. */
export async function noteRunEnded(
  row: {
    readonly runId: string;
    readonly workflow: string;
    readonly environment: string;
    readonly projectDir: string;
    readonly repository: string;
    readonly commit: string;
    readonly startedAt: string;
  },
  ending: { status: string; phases: string[]; finishedAt: string },
  /**
   * The run's approvals, oldest first: who decided its approval, when and where, and an
   * owner's override of a blocking policy before it, go in the note.
   */
  approvals: readonly (DecidedFields & { readonly subject?: ApprovalSubject })[] = [],
): Promise<void> {
  const isOverride = (record: (typeof approvals)[number]) =>
    record.subject?.kind === 'policy_override';
  const approval = approvals.findLast((record) => !isOverride(record));
  const status = approval?.status;
  const actor = decisionActor(approval);
  const overrideRecord = approvals.find(isOverride);
  const override = decisionActor(overrideRecord);
  await appendAuditNote(
    row.repository,
    row.commit,
    renderAuditNote({
      runId: row.runId,
      workflow: row.workflow,
      environment: row.environment,
      projectDir: row.projectDir,
      commit: row.commit,
      startedAt: row.startedAt,
      ...ending,
      ...(actor === undefined
        ? {}
        : {
            ...(status === 'approved' ? { approvedBy: actor.name } : { rejectedBy: actor.name }),
            decidedAt: actor.at,
            ...(actor.channel === undefined ? {} : { decidedVia: actor.channel }),
          }),
      ...(override === undefined
        ? {}
        : {
            policyOverride: {
              status: overrideRecord?.status === 'approved' ? 'overridden' : 'refused',
              by: override.name,
              at: override.at,
              ...(override.channel === undefined ? {} : { via: override.channel }),
              ...(override.reason === undefined ? {} : { reason: override.reason }),
            },
          }),
    }),
  );
}
