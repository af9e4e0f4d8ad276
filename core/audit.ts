// The audit record of a run, kept in git as a note on the commit under refs/notes/stepform.
// One block of `key: value` lines per run, starting with `stepform-run: <runId>`; blocks are
// separated by a blank line, so several runs on one commit accumulate in one note. Pure.
import { type ChangeCounts, formatCounts } from './contracts/job-result.ts';

export const AUDIT_NOTES_REF = 'refs/notes/stepform';

export interface AuditRun {
  readonly runId: string;
  readonly workflow: string;
  readonly environment: string;
  readonly projectDir: string;
  readonly commit: string;
  readonly status: string;
  readonly phases?: readonly string[];
  readonly summary?: ChangeCounts;
  readonly planSha256?: string;
  readonly approvedBy?: string;
  readonly rejectedBy?: string;
  /** When and where the approval was decided (ISO-8601; web, cli or slack). */
  readonly decidedAt?: string;
  readonly decidedVia?: string;
  /** An owner's decision on a blocking policy: overridden or refused, by whom, when, where, why. */
  readonly policyOverride?: {
    readonly status: 'overridden' | 'refused';
    readonly by: string;
    readonly at: string;
    readonly via?: string;
    readonly reason?: string;
  };
  /** ISO-8601. */
  readonly startedAt: string;
  /** ISO-8601. */
  readonly finishedAt?: string;
}

const RUN_KEY = 'stepform-run';

/** A value on one line: backslashes and control characters escaped, so no line is forged. */
function noteValue(value: string): string {
  return Array.from(value, (char) => {
    const code = char.charCodeAt(0);
    if (char === '\\') return '\\\\';
    if (char === '\n') return '\\n';
    if (char === '\r') return '\\r';
    if (char === '\t') return '\\t';
    if (code < 0x20 || code === 0x7f || code === 0x2028 || code === 0x2029) {
      return `\\u${code.toString(16).padStart(4, '0')}`;
    }
    return char;
  }).join('');
}

/** The note block of one run: the same keys, in the same order, every time. */
export function renderAuditNote(run: AuditRun): string {
  const lines: [string, string | undefined][] = [
    [RUN_KEY, run.runId],
    ['workflow', run.workflow],
    ['environment', run.environment],
    ['project', run.projectDir],
    ['commit', run.commit],
    ['status', run.status],
    ['phases', run.phases?.join(',')],
    ['summary', run.summary && formatCounts(run.summary)],
    ['plan-sha256', run.planSha256],
    ['approved-by', run.approvedBy],
    ['rejected-by', run.rejectedBy],
    ['decided-at', run.decidedAt],
    ['decided-via', run.decidedVia],
    ['policy-override', run.policyOverride?.status],
    ['override-by', run.policyOverride?.by],
    ['override-at', run.policyOverride?.at],
    ['override-via', run.policyOverride?.via],
    ['override-reason', run.policyOverride?.reason],
    ['started-at', run.startedAt],
    ['finished-at', run.finishedAt],
  ];
  return lines
    .filter((line): line is [string, string] => line[1] !== undefined)
    .map(([key, value]) => `${key}: ${noteValue(value)}`)
    .join('\n');
}

function splitBlocks(note: string): string[] {
  return note
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n/)
    .map((block) => block.trim())
    .filter((block) => block !== '');
}

/**
 * The note with the run's block added. A block for the same run (a retried or updated
 * record) is replaced where it stands; anything else in the note is kept.
 */
export function appendAuditNote(existing: string | undefined, block: string): string {
  const next = block.trim();
  const firstLine = next.split('\n', 1)[0] ?? '';
  const blocks = splitBlocks(existing ?? '');
  const index = blocks.findIndex((old) => old.split('\n', 1)[0] === firstLine);
  if (firstLine.startsWith(`${RUN_KEY}: `) && index !== -1) blocks[index] = next;
  else blocks.push(next);
  return `${blocks.join('\n\n')}\n`;
}

/** The runs recorded in a note, each as its keys and values (values left escaped). */
export function parseAuditNote(note: string): Record<string, string>[] {
  return splitBlocks(note)
    .filter((block) => block.startsWith(`${RUN_KEY}: `))
    .map((block) =>
      Object.fromEntries(
        block.split('\n').flatMap((line) => {
          const at = line.indexOf(': ');
          return at === -1 ? [] : [[line.slice(0, at), line.slice(at + 2)]];
        }),
      ),
    );
}
