// The Slack message of a run's phase, in Block Kit: what ran where, the plan counts, the
// error or rollback, and for an approval request two link buttons to the approval endpoint.
// The buttons are plain URL buttons: a click opens the confirmation page, whose POST decides
// (chat clients prefetch links, so a GET never decides). The task token is never in a
// message. Pure.
import { type ChangeCounts, formatCounts } from './contracts/job-result.ts';
import { stripVTControlCharacters } from 'node:util';
import { InvalidInput } from './errors.ts';
import type { ChatMessage } from './ports.ts';
import { PHASE_ICONS, type Phase } from './contracts/status-event.ts';
import { type PolicyChecks, policyCounts, setVerdict } from './policy-view.ts';
import { httpUrl } from './urls.ts';

/** Slack refuses a section's text over this many characters. */
export const SLACK_TEXT_LIMIT = 3_000;
/** Slack refuses a header's plain text over this many characters. */
const HEADER_LIMIT = 150;
/** A button's URL. */
const URL_LIMIT = 3_000;
/** The top-level fallback text (notifications, clients without Block Kit). */
const FALLBACK_LIMIT = 4_000;
/** Values shown in the section fields (Slack allows 2,000 characters a field). */
const VALUE_LIMIT = 200;

/** The action ids of the two buttons (and of a block_actions payload, with interactivity). */
export const APPROVE_ACTION_ID = 'stepform_approve';
export const REJECT_ACTION_ID = 'stepform_reject';
/**
 * A policy override request's one button (its value the approval id): with interactivity, an
 * owner's click sends them their own links, in a message only they see. Slack's buttons cannot
 * take the reason an override needs; the page does.
 */
export const OVERRIDE_LINKS_ACTION_ID = 'stepform_override_links';
/** The URL buttons of an owner's own links: a click opens the page, and decides nothing. */
export const OPEN_PAGE_ACTION_ID = 'stepform_open_page';

export interface SlackMessageInput {
  readonly run: {
    readonly runId: string;
    readonly workflow: string;
    readonly environment: string;
    readonly projectDir: string;
    readonly commit: string;
  };
  readonly phase: Phase;
  readonly summary?: ChangeCounts;
  /** A failed step's error, as Step Functions passes it. */
  readonly error?: { readonly Error: string; readonly Cause?: string | undefined };
  readonly rollback?: { readonly message: string };
  /** A TTL change: the new destroy time, or null when the destroy was cancelled. */
  readonly schedule?: { readonly fireAt: string | null };
  /** A command run: the command that will run or ran. */
  readonly command?: { readonly name: string; readonly args: readonly string[] };
  /** The signed approve / reject links of an approval request (none with an approver list). */
  readonly links?: { readonly approve: string; readonly reject: string };
  /**
   * With Slack interactivity: the approval id, sent as each button's `value`
   * (`${approvalId}.approve`), so a signed block_actions payload names the approval. Without
   * `links` (an approver list), the buttons only send that payload: Slack says who clicked.
   */
  readonly approvalId?: string;
  /** Each project's counts and changes (a plan's), destroys and replaces first. */
  readonly projects?: readonly SlackProject[];
  /** Who decided the run's approval, on every message after it: `Approved by alice via …`. */
  readonly decision?: string;
  /** A drift run: the drifted projects with their counts, the cleared, the skipped. */
  readonly drift?: SlackDrift;
}

/** What a drift run found, project by project. */
export interface SlackDrift {
  readonly drifted: readonly { readonly name: string; readonly summary: ChangeCounts }[];
  readonly cleared: readonly string[];
  readonly skipped: readonly { readonly name: string; readonly reason: string }[];
  readonly failed: readonly string[];
}

/** One project of a run as its message tells it: counts, and what it destroys or changes. */
export interface SlackProject {
  readonly name: string;
  readonly summary?: ChangeCounts & {
    readonly replace?: number;
    readonly resources?: readonly { readonly address: string; readonly action: string }[];
  };
  /** Its plan's policy checks (in the phases that show them). */
  readonly policy?: PolicyChecks;
}

/** Projects told one by one; the rest are counted (Block Kit allows 50 blocks a message). */
const PROJECT_LIMIT = 20;
/** Destroys and replaces listed by address per project, then the first other changes. */
const DESTROY_LIMIT = 10;
const CHANGE_LIMIT = 5;

const MRKDWN_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/** Escapes Slack's control characters (&, <, >) so a value can neither link nor mention. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/[&<>]/g, (char) => MRKDWN_ESCAPES[char] ?? char);
}

const isControl = (code: number) => code < 0x20 || code === 0x7f;

/** Terminal colours and control characters out; newlines and tabs kept when `multiline`. */
function clean(text: string, multiline: boolean): string {
  return Array.from(stripVTControlCharacters(text).replace(/\r\n?/g, '\n'))
    .map((char) => {
      if (multiline && (char === '\n' || char === '\t')) return char;
      return isControl(char.charCodeAt(0)) ? ' ' : char;
    })
    .join('');
}

/**
 * `text` escaped, in at most `limit` characters: the head (or the tail) kept, the cut marked
 * with "…", never inside an escape or a surrogate pair.
 */
function escapedWithin(text: string, limit: number, keep: 'head' | 'tail' = 'head'): string {
  const escaped = escapeMrkdwn(text);
  if (escaped.length <= limit) return escaped;
  const chars = Array.from(text, escapeMrkdwn);
  if (keep === 'tail') chars.reverse();
  const kept: string[] = [];
  let length = 1;
  for (const char of chars) {
    if (length + char.length > limit) break;
    kept.push(char);
    length += char.length;
  }
  if (keep === 'tail') return `…${kept.reverse().join('')}`;
  return `${kept.join('')}…`;
}

/** An inline code value on one line; backticks, which would end it, become ˋ. */
function code(text: string, limit = VALUE_LIMIT): string {
  const value = clean(text, false).replaceAll('`', 'ˋ').trim();
  return value === '' ? '_(empty)_' : `\`${escapedWithin(value, limit)}\``;
}

/** A code block within Slack's section limit, keeping the end of the text (where errors are). */
function codeBlock(title: string, text: string, keep: 'head' | 'tail'): string {
  const body = clean(text, true).replaceAll('`', 'ˋ').trimEnd();
  const wrapper = `*${title}*\n\`\`\`\n\n\`\`\``;
  return `*${title}*\n\`\`\`\n${escapedWithin(body === '' ? '(empty)' : body, SLACK_TEXT_LIMIT - wrapper.length, keep)}\n\`\`\``;
}

function phaseLabel(phase: string): string {
  return phase.replaceAll('_', ' ');
}

/** A button URL: an absolute http(s) URL, as the approval endpoint makes them. */
function buttonUrl(url: string, field: string): string {
  const href = httpUrl(url, field);
  if (href.length > URL_LIMIT)
    throw new InvalidInput(field, `must be at most ${URL_LIMIT} characters`);
  return href;
}

const APPROVAL_ID = /^[A-Za-z0-9_-]{1,128}$/;

function button(
  label: 'Approve' | 'Reject',
  url: string | undefined,
  approvalId: string | undefined,
): Record<string, unknown> {
  const approve = label === 'Approve';
  return {
    type: 'button',
    action_id: approve ? APPROVE_ACTION_ID : REJECT_ACTION_ID,
    text: { type: 'plain_text', text: label },
    style: approve ? 'primary' : 'danger',
    ...(url === undefined ? {} : { url }),
    ...(approvalId === undefined
      ? {}
      : { value: `${approvalId}.${approve ? 'approve' : 'reject'}` }),
  };
}

function field(label: string, value: string): { type: 'mrkdwn'; text: string } {
  return { type: 'mrkdwn', text: `*${label}*\n${value}` };
}

function errorText(error: { Error: string; Cause?: string | undefined }): string {
  const cause = error.Cause?.trim() ?? '';
  return cause === '' ? error.Error : `${error.Error}: ${cause}`;
}

function commandText(command: { readonly name: string; readonly args: readonly string[] }): string {
  return [command.name, ...command.args].join(' ');
}

function scheduleText(fireAt: string | null): string {
  return fireAt === null
    ? 'scheduled destroy cancelled: kept until destroyed by hand'
    : `destroy scheduled at ${fireAt}`;
}

/**
 * The error the message shows: none for a rejection that names who decided, whose decision
 * line already says it ("rejected by alice" twice reads as two events).
 */
function shownError(input: SlackMessageInput): SlackMessageInput['error'] {
  const rejection = input.error?.Error === 'ApprovalRejected' && input.decision !== undefined;
  return rejection ? undefined : input.error;
}

function fallback(input: SlackMessageInput): string {
  const { run, phase, summary } = input;
  const parts = [
    `${run.workflow} ${run.projectDir} in ${run.environment} @ ${run.commit.slice(0, 7)}: ${phaseLabel(phase)}`,
  ];
  if (summary) parts.push(formatCounts(summary));
  const error = shownError(input);
  if (input.rollback) parts.push(input.rollback.message);
  else if (error) parts.push(errorText(error));
  if (input.command) parts.push(`terraform ${commandText(input.command)}`);
  if (input.schedule) parts.push(scheduleText(input.schedule.fireAt));
  if (input.phase === 'awaiting_policy_override' && input.approvalId !== undefined)
    parts.push('an owner overrides or refuses from the message button');
  else if (input.links || input.approvalId !== undefined)
    parts.push('approve or reject from the message buttons');
  if (input.decision !== undefined) parts.push(input.decision);
  if (input.drift) parts.push(...driftParts(input.drift));
  return escapedWithin(clean(parts.join(' — '), false), FALLBACK_LIMIT);
}

/** The fallback's drift: `2 drifted: app (+1 ~0 -0), db (+0 ~1 -0)`, cleared, skipped. */
function driftParts(drift: SlackDrift): string[] {
  const countsOf = (summary: ChangeCounts) =>
    `+${count(summary.add)} ~${count(summary.change)} -${count(summary.destroy)}`;
  return [
    ...(drift.drifted.length > 0
      ? [
          `${drift.drifted.length} drifted: ${drift.drifted.map((p) => `${p.name} (${countsOf(p.summary)})`).join(', ')}`,
        ]
      : []),
    ...(drift.cleared.length > 0 ? [`drift cleared: ${drift.cleared.join(', ')}`] : []),
    ...(drift.failed.length > 0 ? [`check failed: ${drift.failed.join(', ')}`] : []),
    ...(drift.skipped.length > 0
      ? [`skipped: ${drift.skipped.map((p) => `${p.name} (${p.reason})`).join(', ')}`]
      : []),
  ];
}

/** A drift run's sections: the drifted projects with counts, then cleared, failed, skipped. */
function driftBlocks(drift: SlackDrift): unknown[] {
  const name = (text: string) => `*${escapeMrkdwn(clean(text, false))}*`;
  const list = (title: string, lines: readonly string[]) => {
    const shown = lines.slice(0, PROJECT_LIMIT);
    const more = lines.length - shown.length;
    const text = [
      `*${title} (${lines.length})*`,
      ...shown,
      ...(more > 0 ? [`• … ${more} more`] : []),
    ].join('\n');
    return {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: text.length <= SLACK_TEXT_LIMIT ? text : `${text.slice(0, SLACK_TEXT_LIMIT - 1)}…`,
      },
    };
  };
  return [
    ...(drift.drifted.length > 0
      ? [
          list(
            ':ocean: Drifted',
            drift.drifted.map(
              (p) =>
                `• ${name(p.name)} \`+${count(p.summary.add)}\` \`~${count(p.summary.change)}\` \`-${count(p.summary.destroy)}\``,
            ),
          ),
        ]
      : []),
    ...(drift.cleared.length > 0
      ? [
          list(
            'Drift cleared',
            drift.cleared.map((p) => `• ${name(p)}`),
          ),
        ]
      : []),
    ...(drift.failed.length > 0
      ? [
          list(
            'Check failed',
            drift.failed.map((p) => `• ${name(p)}`),
          ),
        ]
      : []),
    ...(drift.skipped.length > 0
      ? [
          list(
            'Skipped',
            drift.skipped.map(
              (p) => `• ${name(p.name)}: ${escapedWithin(clean(p.reason, false), VALUE_LIMIT)}`,
            ),
          ),
        ]
      : []),
  ];
}

function count(value: number): number {
  return Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

const DESTROYING = new Set(['delete', 'replace']);

/** Policy sets named on a project's line; the rest are counted. */
const POLICY_SETS_SHOWN = 5;

/**
 * A project's compact policy line: the sets that failed or warned with their counts, or the
 * blocking sets and counts when only those were kept. None when every set passed cleanly.
 */
export function policyLine(checks: PolicyChecks): string | undefined {
  const counts = policyCounts(checks);
  if (counts.deny + counts.warn === 0) return undefined;
  const totals = `${count(counts.deny)} deny · ${count(counts.warn)} warn`;
  const icon = counts.blockedBy.length > 0 ? ':no_entry:' : ':warning:';
  if (checks.kind === 'counts') {
    const blocked = counts.blockedBy.slice(0, POLICY_SETS_SHOWN).map((name) => code(name));
    return `${icon} *Policy* ${blocked.length > 0 ? `blocked by ${blocked.join(', ')} · ` : ''}${totals}`;
  }
  const fired = checks.results.filter((result) => result.violations.length > 0);
  const sets = fired.slice(0, POLICY_SETS_SHOWN).map((result) => {
    const verdict = setVerdict(result);
    const deny = result.violations.filter((v) => v.rule === 'deny').length;
    const warn = result.violations.length - deny;
    const what =
      verdict === 'blocking' ? 'failed, blocking' : verdict === 'failed' ? 'failed' : 'warned';
    return `${code(result.policy)} ${what} (${deny} deny, ${warn} warn)`;
  });
  const more = fired.length - sets.length;
  return `${icon} *Policy* ${sets.join(' · ')}${more > 0 ? ` · … ${more} more` : ''}`;
}

/** A project's section: its counts, its destroys and replaces by address, its first changes. */
function projectText(project: SlackProject): string {
  const { summary } = project;
  const head = `*${escapeMrkdwn(clean(project.name, false))}*`;
  const policy = project.policy && policyLine(project.policy);
  if (summary === undefined) return [`${head} · no plan`, ...(policy ? [policy] : [])].join('\n');
  const replace = count(summary.replace ?? 0);
  const counts = `\`+${count(summary.add)}\` \`~${count(summary.change)}\` \`-${count(summary.destroy)}\`${replace > 0 ? ` · ${replace} to replace` : ''}`;
  const resources = summary.resources ?? [];
  const destroying = resources.filter((r) => DESTROYING.has(r.action));
  const others = resources.filter((r) => !DESTROYING.has(r.action) && r.action !== 'no-op');
  const list = (items: readonly { address: string; action: string }[], limit: number) => [
    ...items.slice(0, limit).map((r) => `• ${code(r.address)} ${r.action}`),
    ...(items.length > limit ? [`• … ${items.length - limit} more`] : []),
  ];
  const lines = [
    `${head} · ${counts}`,
    ...(policy === undefined ? [] : [policy]),
    ...(destroying.length > 0
      ? [':warning: *Destroys and replaces*', ...list(destroying, DESTROY_LIMIT)]
      : []),
    ...(others.length > 0 ? ['*Changes*', ...list(others, CHANGE_LIMIT)] : []),
  ];
  const text = lines.join('\n');
  // Each line is short; only hundreds of long addresses could pass the limit.
  return text.length <= SLACK_TEXT_LIMIT ? text : `${text.slice(0, SLACK_TEXT_LIMIT - 1)}…`;
}

/** A policy stop's section: each blocking set and the projects it blocked. */
function blockingText(projects: readonly SlackProject[]): string | undefined {
  const blocked = new Map<string, string[]>();
  for (const project of projects) {
    if (project.policy === undefined) continue;
    for (const set of policyCounts(project.policy).blockedBy) {
      blocked.set(set, [...(blocked.get(set) ?? []), project.name]);
    }
  }
  if (blocked.size === 0) return undefined;
  const lines = [...blocked].slice(0, POLICY_SETS_SHOWN).map(([set, names]) => {
    const shown = names
      .slice(0, PROJECT_LIMIT)
      .map((name) => `*${escapeMrkdwn(clean(name, false))}*`);
    const more = names.length - shown.length;
    return `• ${code(set)} blocks ${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
  });
  const more = blocked.size - lines.length;
  const text = [
    ':no_entry: *Blocked by policy*: nothing was applied',
    ...lines,
    ...(more > 0 ? [`• … ${more} more sets`] : []),
  ].join('\n');
  return text.length <= SLACK_TEXT_LIMIT ? text : `${text.slice(0, SLACK_TEXT_LIMIT - 1)}…`;
}

function projectBlocks(input: SlackMessageInput): unknown[] {
  const projects = input.projects ?? [];
  if (projects.length === 0) return [];
  const shown = projects.slice(0, PROJECT_LIMIT).map((project) => ({
    type: 'section',
    text: { type: 'mrkdwn', text: projectText(project) },
  }));
  const more = projects.length - shown.length;
  const page = input.links
    ? [
        {
          type: 'context',
          elements: [
            {
              type: 'mrkdwn',
              text: `Every attribute’s change is on <${buttonUrl(input.links.approve, 'links.approve')}|the approval page>; opening it decides nothing.`,
            },
          ],
        },
      ]
    : [];
  return [
    ...shown,
    ...(more > 0
      ? [{ type: 'context', elements: [{ type: 'mrkdwn', text: `… and ${more} more projects` }] }]
      : []),
    ...page,
  ];
}

/**
 * The Block Kit message of one phase of a run: a header, the run's fields, the plan counts,
 * the rollback or error in a code block, the destroy schedule, and the approve / reject link
 * buttons when `links` or an `approvalId` are given. Every interpolated value is escaped; `text` is always set.
 */
export function slackMessage(input: SlackMessageInput): ChatMessage {
  const { run, phase, summary } = input;
  if (input.approvalId !== undefined && !APPROVAL_ID.test(input.approvalId)) {
    throw new InvalidInput('approvalId', 'must be an approval id');
  }
  const blocks: unknown[] = [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: `${PHASE_ICONS[phase]} Stepform: ${phaseLabel(phase)}`.slice(0, HEADER_LIMIT),
        emoji: true,
      },
    },
    {
      type: 'section',
      fields: [
        field('Workflow', code(run.workflow)),
        field('Environment', code(run.environment)),
        field('Project', code(run.projectDir)),
        field('Commit', code(run.commit.slice(0, 7))),
      ],
    },
  ];
  if (input.drift) blocks.push(...driftBlocks(input.drift));
  else if (summary && (input.projects ?? []).length === 0) {
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `*Plan:* \`+${count(summary.add)}\` to add · \`~${count(summary.change)}\` to change · \`-${count(summary.destroy)}\` to destroy`,
      },
    });
  }
  blocks.push(...projectBlocks(input));
  const blocking = input.phase === 'policy_failed' ? blockingText(input.projects ?? []) : undefined;
  if (blocking !== undefined)
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: blocking } });
  const error = shownError(input);
  if (input.decision !== undefined) {
    blocks.push({
      type: 'context',
      elements: [
        { type: 'mrkdwn', text: escapedWithin(clean(input.decision, false), VALUE_LIMIT) },
      ],
    });
  }
  if (input.rollback) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: codeBlock('Rollback', input.rollback.message, 'head') },
    });
  } else if (error) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: codeBlock('Error', errorText(error), 'tail') },
    });
  }
  if (input.command) {
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `*Command* ${code(`terraform ${commandText(input.command)}`)}`,
      },
    });
  }
  if (input.schedule) {
    const { fireAt } = input.schedule;
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text:
          fireAt === null
            ? '*Scheduled destroy cancelled*: kept until destroyed by hand'
            : `*Destroy scheduled at* ${code(fireAt)}`,
      },
    });
  }
  if (input.phase === 'awaiting_policy_override' && input.approvalId !== undefined) {
    blocks.push(
      {
        type: 'actions',
        block_id: 'stepform_override',
        elements: [
          {
            type: 'button',
            action_id: OVERRIDE_LINKS_ACTION_ID,
            text: { type: 'plain_text', text: 'Override or refuse…' },
            value: input.approvalId,
          },
        ],
      },
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: 'Only an owner of every blocking policy may. A click sends them their own links; overriding asks for a reason on the page.',
          },
        ],
      },
    );
  } else if (input.links || input.approvalId !== undefined) {
    const { links } = input;
    blocks.push({
      type: 'actions',
      block_id: 'stepform_approval',
      elements: [
        button('Approve', links && buttonUrl(links.approve, 'links.approve'), input.approvalId),
        button('Reject', links && buttonUrl(links.reject, 'links.reject'), input.approvalId),
      ],
    });
  }
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: `Stepform · run ${code(run.runId)}` }],
  });
  return { text: fallback(input), blocks };
}

export interface OwnerLinksMessageInput {
  readonly runId: string;
  readonly environment: string;
  readonly owner: string;
  readonly blockedBy: readonly string[];
  readonly approve: string;
  readonly reject: string;
  readonly expiresAt: string;
}

/**
 * The message only the owner who asked sees (an ephemeral response): their own override and
 * refuse links, which decide as them alone.
 */
export function ownerLinksMessage(input: OwnerLinksMessageInput): ChatMessage {
  const sets = input.blockedBy.map((name) => code(name)).join(', ');
  const text = `Your own links, ${code(input.owner)}, to override or refuse ${sets} for run ${code(input.runId)} in ${code(input.environment)}, until ${code(input.expiresAt)}. They decide as you: do not share them.`;
  const linkButton = (label: string, url: string, field: string, style: string) => ({
    type: 'button',
    action_id: `${OPEN_PAGE_ACTION_ID}_${style === 'primary' ? 'override' : 'refuse'}`,
    text: { type: 'plain_text', text: label },
    style,
    url: buttonUrl(url, field),
  });
  return {
    text: escapedWithin(
      clean(
        `Your own links to override or refuse ${input.blockedBy.join(', ')} for run ${input.runId}`,
        false,
      ),
      FALLBACK_LIMIT,
    ),
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: text.length <= SLACK_TEXT_LIMIT ? text : `${text.slice(0, SLACK_TEXT_LIMIT - 1)}…`,
        },
      },
      {
        type: 'actions',
        block_id: 'stepform_owner_links',
        elements: [
          linkButton('Override…', input.approve, 'approve', 'primary'),
          linkButton('Refuse…', input.reject, 'reject', 'danger'),
        ],
      },
    ],
  };
}
