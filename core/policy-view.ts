// Policy checks as the views show them to approvers and PR authors: the PR comment (markdown)
// and the approval page (HTML), from each set's result in a plan job's result.json, or from
// the counts the workflow carries when that file cannot be read. Slack's compact line is in
// slack-message.ts, over the same model. The messages are the executor's, already masked;
// nothing else of the plan is shown. Pure.
import { escapeHtml } from './approval.ts';
import type { Phase } from './contracts/status-event.ts';
import type { PolicyResult, PolicyViolation } from './policy.ts';
import type { ProjectPolicy } from './project-results.ts';
import { codeSpan, markdownText } from './pr-comment.ts';
import { cutText } from './text.ts';

/**
 * One project's policy checks: each set's result, or (its result.json unreadable) only the
 * counts and blocking sets the collector kept.
 */
export type PolicyChecks =
  | { readonly kind: 'sets'; readonly results: readonly PolicyResult[] }
  | { readonly kind: 'counts'; readonly counts: PolicyCounts };

/** The collector's counts (ProjectPolicy), as the views read them. */
export interface PolicyCounts {
  readonly outcome: ProjectPolicy['outcome'];
  readonly blockedBy: readonly string[];
  readonly deny: number;
  readonly warn: number;
}

/** The phases whose notices show the checks: before anything is applied, and a policy stop. */
export const POLICY_PHASES: ReadonlySet<Phase> = new Set<Phase>([
  'planned',
  'awaiting_approval',
  'policy_failed',
]);

/** The checks to show: the sets' results when read, else the counts; undefined when none ran. */
export function policyChecks(
  results: readonly PolicyResult[] | undefined,
  counts: PolicyCounts | undefined,
): PolicyChecks | undefined {
  if (results !== undefined && results.length > 0) return { kind: 'sets', results };
  return counts === undefined ? undefined : { kind: 'counts', counts };
}

export type SetVerdict = 'passed' | 'warned' | 'failed' | 'blocking';

/** A set's verdict: `blocking` when it failed with on_failure: block, `failed` with warn. */
export function setVerdict(result: PolicyResult): SetVerdict {
  if (!result.passed) return result.onFailure === 'block' ? 'blocking' : 'failed';
  return result.violations.length > 0 ? 'warned' : 'passed';
}

export const VERDICT_LABELS: Readonly<Record<SetVerdict, string>> = {
  passed: 'passed',
  warned: 'passed with warnings',
  failed: 'failed (on_failure: warn)',
  blocking: 'failed (blocks the run)',
};

const VERDICT_ICONS: Readonly<Record<SetVerdict, string>> = {
  passed: '✅',
  warned: '⚠️',
  failed: '❌',
  blocking: '⛔',
};

const OUTCOME_ICONS: Readonly<Record<ProjectPolicy['outcome'], string>> = {
  passed: VERDICT_ICONS.passed,
  warned: VERDICT_ICONS.warned,
  blocked: VERDICT_ICONS.blocking,
};

/** Deny and warn counts of the checks, whichever form they have. */
export function policyCounts(checks: PolicyChecks): {
  deny: number;
  warn: number;
  blockedBy: readonly string[];
} {
  if (checks.kind === 'counts') return checks.counts;
  const violations = checks.results.flatMap((result) => result.violations);
  return {
    deny: violations.filter((v) => v.rule === 'deny').length,
    warn: violations.filter((v) => v.rule === 'warn').length,
    blockedBy: [
      ...new Set(checks.results.filter((r) => setVerdict(r) === 'blocking').map((r) => r.policy)),
    ],
  };
}

/** Whether anything fired: what the approval page lists. */
export function policyFired(checks: PolicyChecks): boolean {
  const { deny, warn } = policyCounts(checks);
  return deny + warn > 0;
}

/** Violations listed per set; the rest are counted, and all are in the job's result.json. */
export const VIOLATIONS_SHOWN = 10;
/** A violation's message and resource, each, in the comment. */
const MESSAGE_LIMIT = 300;
const RESOURCE_LIMIT = 200;
const NAME_LIMIT = 100;

function countsText(counts: { deny: number; warn: number }): string {
  return `${counts.deny} deny, ${counts.warn} warn`;
}

function violationMarkdown(violation: PolicyViolation): string {
  const where =
    violation.resource === undefined ? '' : `${codeSpan(violation.resource, RESOURCE_LIMIT)}: `;
  return `  - **${violation.rule}** ${where}${markdownText(violation.message, MESSAGE_LIMIT)}`;
}

interface Line {
  readonly text: string;
  /** A set's verdict (kept while anything fits) rather than one of its violations. */
  readonly verdict: boolean;
}

/**
 * The checks of one project as a markdown section within `limit` characters: each set's
 * verdict, then its violations (rule, resource, message), at most VIOLATIONS_SHOWN a set.
 * When the limit cuts, violations go before verdicts, and a note says how many are not shown.
 */
export function policyMarkdown(checks: PolicyChecks, limit: number): string {
  const title = '##### Policy checks';
  if (checks.kind === 'counts') {
    const { counts } = checks;
    const blocked =
      counts.blockedBy.length === 0
        ? ''
        : `blocked by ${counts.blockedBy.map((name) => codeSpan(name, NAME_LIMIT)).join(', ')} · `;
    const icon = OUTCOME_ICONS[counts.outcome];
    const text = `${title}\n\n- ${icon} ${markdownText(counts.outcome)} · ${blocked}${countsText(counts)} ${markdownText('(the sets’ details could not be read)')}`;
    return cutText(text, limit);
  }
  const lines: Line[] = checks.results.flatMap((result) => {
    const verdict = setVerdict(result);
    const shown = result.violations.slice(0, VIOLATIONS_SHOWN).map(violationMarkdown);
    const more = result.violations.length - shown.length;
    return [
      {
        text: `- ${VERDICT_ICONS[verdict]} ${codeSpan(result.policy, NAME_LIMIT)}: ${markdownText(VERDICT_LABELS[verdict])}`,
        verdict: true,
      },
      ...shown.map((text) => ({ text, verdict: false })),
      ...(more > 0
        ? [{ text: `  - ${more} more not shown (in the plan job’s result.json)`, verdict: false }]
        : []),
    ];
  });
  const note = (omitted: number) =>
    `> ${omitted} policy lines not shown; every violation is in the plan job’s result.json`;
  const whole = `${title}\n\n${lines.map((line) => line.text).join('\n')}`;
  if (whole.length <= limit) return whole;
  // Verdicts first, then violations in order while they fit beside the note.
  let room = limit - title.length - 2 - note(lines.length).length - 2;
  const keep = new Set<Line>();
  for (const line of [...lines.filter((l) => l.verdict), ...lines.filter((l) => !l.verdict)]) {
    if (line.text.length + 1 > room) continue;
    keep.add(line);
    room -= line.text.length + 1;
  }
  const kept = lines.filter((line) => keep.has(line));
  if (kept.length === 0) return cutText(`${title}\n\n${note(lines.length)}`, limit);
  return `${title}\n\n${kept.map((line) => line.text).join('\n')}\n\n${note(lines.length - kept.length)}`;
}

/** Violations listed per set on the approval page, and each message's length there. */
const PAGE_VIOLATIONS_SHOWN = 50;
const PAGE_MESSAGE_LIMIT = 1_000;

function violationHtml(violation: PolicyViolation): string {
  const where =
    violation.resource === undefined
      ? ''
      : `<code>${escapeHtml(cutText(violation.resource, RESOURCE_LIMIT))}</code>: `;
  const rule =
    violation.rule === 'deny' ? '<strong class="fail">deny</strong>' : '<strong>warn</strong>';
  return `<li>${rule} ${where}${escapeHtml(cutText(violation.message, PAGE_MESSAGE_LIMIT))}</li>`;
}

function setHtml(result: PolicyResult): string {
  const verdict = setVerdict(result);
  const cls = verdict === 'blocking' || verdict === 'failed' ? ' class="fail"' : '';
  const shown = result.violations.slice(0, PAGE_VIOLATIONS_SHOWN).map(violationHtml);
  const more = result.violations.length - shown.length;
  if (more > 0) shown.push(`<li>… and ${more} more (in the plan job’s result.json)</li>`);
  return [
    `<li><code>${escapeHtml(cutText(result.policy, NAME_LIMIT))}</code>: <span${cls}>${escapeHtml(VERDICT_LABELS[verdict])}</span>`,
    ...(shown.length === 0 ? [] : [`<ul>\n${shown.join('\n')}\n</ul>`]),
    '</li>',
  ].join('\n');
}

/** One project's checks on the approval page; `unreadable`: its result.json could not be read. */
export interface PagePolicy {
  readonly name: string;
  readonly checks: PolicyChecks | 'unreadable' | undefined;
}

/**
 * The approval page's "Policy checks" section: per project, each set that fired with its
 * verdict and violations, escaped; the sets that passed cleanly are counted. Empty when no
 * project had a check that fired nor a result that could not be read.
 */
export function policyHtml(projects: readonly PagePolicy[]): string {
  const parts = projects.flatMap(({ name, checks }) => {
    const heading = `<h3>Policies on <code>${escapeHtml(name)}</code></h3>`;
    if (checks === 'unreadable') {
      return [
        heading,
        '<p class="fail">This plan’s policy results could not be read; see the run’s notices.</p>',
      ];
    }
    if (checks === undefined || !policyFired(checks)) return [];
    if (checks.kind === 'counts') {
      const { counts } = checks;
      return [heading, `<p>${escapeHtml(`${counts.outcome}: ${countsText(counts)}`)}</p>`];
    }
    const fired = checks.results.filter((result) => result.violations.length > 0);
    const clean = checks.results.length - fired.length;
    return [
      heading,
      `<ul>\n${fired.map(setHtml).join('\n')}\n</ul>`,
      ...(clean > 0 ? [`<p>${clean} other ${clean === 1 ? 'set' : 'sets'} passed.</p>`] : []),
    ];
  });
  if (parts.length === 0) return '';
  return [
    '<section class="policy" aria-label="Policy checks">',
    '<h2>Policy checks</h2>',
    ...parts,
    '</section>',
  ].join('\n');
}

/**
 * A notice's `policy` field for one project: its checks in the phases that show them (the
 * sets' results when its result.json was read, else the workflow's counts), else nothing.
 */
export function policyField(
  phase: Phase,
  results: readonly PolicyResult[] | undefined,
  counts: PolicyCounts | undefined,
): { policy?: PolicyChecks } {
  const checks = POLICY_PHASES.has(phase) ? policyChecks(results, counts) : undefined;
  return checks === undefined ? {} : { policy: checks };
}
