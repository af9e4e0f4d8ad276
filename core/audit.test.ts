import { describe, expect, it } from '@jest/globals';
import {
  AUDIT_NOTES_REF,
  type AuditRun,
  appendAuditNote,
  parseAuditNote,
  renderAuditNote,
} from './audit.ts';

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const RUN: AuditRun = {
  runId: 'run-1',
  workflow: 'plan-apply',
  environment: 'dev',
  projectDir: 'terraform/examples/hello',
  commit: COMMIT,
  status: 'applied',
  phases: ['started', 'planned', 'awaiting_approval', 'approved', 'applying', 'applied'],
  summary: { add: 2, change: 0, destroy: 1 },
  planSha256: 'b'.repeat(64),
  approvedBy: 'alice',
  startedAt: '2030-01-01T12:00:00.000Z',
  finishedAt: '2030-01-01T12:05:00.000Z',
};

describe('AUDIT_NOTES_REF', () => {
  it('is the stepform notes ref', () => {
    expect(AUDIT_NOTES_REF).toBe('refs/notes/stepform');
  });
});

describe('renderAuditNote', () => {
  it('writes stable key: value lines, starting with the run', () => {
    expect(renderAuditNote(RUN)).toBe(
      [
        'stepform-run: run-1',
        'workflow: plan-apply',
        'environment: dev',
        'project: terraform/examples/hello',
        `commit: ${COMMIT}`,
        'status: applied',
        'phases: started,planned,awaiting_approval,approved,applying,applied',
        'summary: +2 ~0 -1',
        `plan-sha256: ${'b'.repeat(64)}`,
        'approved-by: alice',
        'started-at: 2030-01-01T12:00:00.000Z',
        'finished-at: 2030-01-01T12:05:00.000Z',
      ].join('\n'),
    );
  });

  it('says who decided the approval, when and where', () => {
    const note = renderAuditNote({
      ...RUN,
      approvedBy: undefined,
      rejectedBy: 'bob',
      decidedAt: '2030-01-01T12:01:00.000Z',
      decidedVia: 'slack',
    });
    expect(note).toContain(
      'rejected-by: bob\ndecided-at: 2030-01-01T12:01:00.000Z\ndecided-via: slack\n',
    );
    expect(note).not.toContain('approved-by');
  });

  it('leaves out what is not known', () => {
    // Prepare
    const run: AuditRun = {
      runId: 'run-2',
      workflow: 'plan',
      environment: 'dev',
      projectDir: '.',
      commit: COMMIT,
      status: 'failed',
      startedAt: '2030-01-01T12:00:00.000Z',
    };

    // Act
    const block = renderAuditNote(run);

    // Assess
    expect(block).toBe(
      [
        'stepform-run: run-2',
        'workflow: plan',
        'environment: dev',
        'project: .',
        `commit: ${COMMIT}`,
        'status: failed',
        'started-at: 2030-01-01T12:00:00.000Z',
      ].join('\n'),
    );
  });

  it('keeps a value with line breaks on one line, so it cannot forge a record', () => {
    // Act
    const block = renderAuditNote({ ...RUN, approvedBy: 'eve\n\nstepform-run: forged\\' });

    // Assess
    expect(block).toContain('approved-by: eve\\n\\nstepform-run: forged\\\\');
    expect(block.split('\n')).toHaveLength(12);
    expect(parseAuditNote(block)).toHaveLength(1);
  });
});

describe('appendAuditNote', () => {
  const first = renderAuditNote(RUN);
  const second = renderAuditNote({ ...RUN, runId: 'run-2', status: 'rolled_back' });

  it('starts a note', () => {
    expect(appendAuditNote(undefined, first)).toBe(`${first}\n`);
    expect(appendAuditNote('  \n', first)).toBe(`${first}\n`);
  });

  it('accumulates several runs on one commit', () => {
    // Act
    const note = appendAuditNote(appendAuditNote(undefined, first), second);

    // Assess
    expect(note).toBe(`${first}\n\n${second}\n`);
    expect(parseAuditNote(note).map((run) => [run['stepform-run'], run.status])).toEqual([
      ['run-1', 'applied'],
      ['run-2', 'rolled_back'],
    ]);
  });

  it('replaces the block of the same run where it stands', () => {
    // Prepare
    const note = appendAuditNote(appendAuditNote(undefined, first), second);
    const updated = renderAuditNote({ ...RUN, status: 'failed' });

    // Act
    const next = appendAuditNote(note, updated);

    // Assess
    expect(next).toBe(`${updated}\n\n${second}\n`);
  });

  it('keeps whatever else the note holds', () => {
    expect(appendAuditNote('Reviewed-by: someone\r\n', first)).toBe(
      `Reviewed-by: someone\n\n${first}\n`,
    );
  });
});

describe('parseAuditNote', () => {
  it('reads back what was written', () => {
    expect(parseAuditNote(appendAuditNote(undefined, renderAuditNote(RUN)))).toEqual([
      {
        'stepform-run': 'run-1',
        workflow: 'plan-apply',
        environment: 'dev',
        project: 'terraform/examples/hello',
        commit: COMMIT,
        status: 'applied',
        phases: 'started,planned,awaiting_approval,approved,applying,applied',
        summary: '+2 ~0 -1',
        'plan-sha256': 'b'.repeat(64),
        'approved-by': 'alice',
        'started-at': '2030-01-01T12:00:00.000Z',
        'finished-at': '2030-01-01T12:05:00.000Z',
      },
    ]);
  });
});
