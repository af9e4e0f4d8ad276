// Approval links and decisions. A link carries only the approval id, the action, the expiry,
// with an approver list the approver it was made for, and an HMAC over them: the Step
// Functions task token stays in the store. A GET shows a confirmation page (chat clients
// prefetch links); the POST from that page decides. Pure, apart from node:crypto.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import {
  ApprovalAlreadyDecided,
  ApprovalExpired,
  ApprovalSignatureInvalid,
  InvalidInput,
  NotAnApprover,
} from './errors.ts';
import { MAX_RUN_PROJECTS } from './contracts/workflow-input.ts';
import type { ApprovalChannel } from './decision-actor.ts';
import { httpUrl } from './urls.ts';
import { parseInput } from './validation.ts';

export const APPROVAL_ACTIONS = ['approve', 'reject'] as const;
export type ApprovalAction = (typeof APPROVAL_ACTIONS)[number];

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired';

/** What a decision makes of a pending approval (ApprovalPort.decide). */
export type DecidedStatus = Exclude<ApprovalStatus, 'pending'>;

/** The counts of a project's plan, as an approval shows them. */
const SUBJECT_COUNTS = z.strictObject({
  add: z.number().int().min(0),
  change: z.number().int().min(0),
  destroy: z.number().int().min(0),
  replace: z.number().int().min(0),
});

/**
 * What an approval is for, as its page shows it: a plan (each project with its counts), a
 * destroy (each project it destroys) or a command (what runs, in which project). Kept with
 * the approval, since the page has nothing else to show it from; absent on older records.
 */
export const APPROVAL_SUBJECT = z.strictObject({
  /** policy_override: an owner lets a plan a blocking policy stopped go on to its approval. */
  kind: z.enum(['plan', 'destroy', 'command', 'policy_override']),
  projects: z
    .array(
      z.strictObject({
        name: z.string().min(1).max(1024),
        dir: z.string().min(1).max(1024),
        summary: SUBJECT_COUNTS.optional(),
        /** The artifacts folder of the project's plan job: its diff is shown from there. */
        planLocation: z.string().min(1).max(2048).optional(),
      }),
    )
    .max(MAX_RUN_PROJECTS),
  command: z.string().max(2048).optional(),
  /**
   * A policy override: the blocking sets that failed, and who may override them (the owners
   * of every one of them). The approval's own decider list: the deployment's approvers do not
   * decide an override, and no one else may.
   */
  policy: z
    .strictObject({
      blockedBy: z.array(z.string().min(1).max(128)).min(1).max(16),
      owners: z.array(z.string().min(1).max(256)).min(1).max(50),
    })
    .optional(),
});
export type ApprovalSubject = z.output<typeof APPROVAL_SUBJECT>;

export interface ApprovalRecord {
  readonly id: string;
  readonly runId: string;
  readonly environment: string;
  readonly projectDir: string;
  readonly commit: string;
  /** The digest of what is approved: the plan's, or the destroy's or command's (steps.ts). */
  readonly planSha256: string;
  readonly subject?: ApprovalSubject;
  /** ISO-8601. */
  readonly requestedAt: string;
  /** ISO-8601. */
  readonly expiresAt: string;
  readonly status: ApprovalStatus;
  readonly decidedBy?: string;
  /** ISO-8601. */
  readonly decidedAt?: string;
  /** Where it was decided (absent on records decided before this was kept). */
  readonly decidedVia?: ApprovalChannel;
  /** Why, in the decider's words: required to override a policy. */
  readonly reason?: string;
}

/**
 * The record as pages and views show it: without the task token that resumes the waiting
 * execution (whoever holds it can decide) or that execution's ARN.
 */
export function withoutSecrets(
  stored: ApprovalRecord & { readonly taskToken?: string; readonly executionArn?: string },
): ApprovalRecord {
  const record: { -readonly [K in keyof typeof stored]?: (typeof stored)[K] } = { ...stored };
  delete record.taskToken;
  delete record.executionArn;
  return record as ApprovalRecord;
}

export interface ApprovalLinkParams {
  readonly id: string;
  readonly action: ApprovalAction;
  readonly expiresAt: Date;
  /**
   * The approver a per-approver link was made for: the signature covers it, so the link
   * decides as this name and as nobody else. Absent on a bare link (no approver list).
   */
  readonly approver?: string;
}

/** The fields of a link, as they travel in its query string and in the POST form. */
export interface ApprovalLinkFields {
  readonly id: string;
  readonly action: ApprovalAction;
  readonly expires: string;
  readonly sig: string;
  readonly approver?: string;
}

/** base64url, as newApprovalId makes them; never a "." (the signed text's separator). */
const APPROVAL_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** An approver name: no commas (the list's separator), no control characters, no edge spaces. */
const APPROVER_NAME_PATTERN = /^[^\s,\p{Cc}](?:[^,\p{Cc}]{0,254}[^\s,\p{Cc}])?$/u;

export const APPROVER_NAME = z
  .string()
  .regex(APPROVER_NAME_PATTERN, 'must be an approver name (no commas or control characters)');

export const APPROVAL_LINK_QUERY = z.object({
  id: z.string().regex(APPROVAL_ID_PATTERN, 'must be an approval id'),
  action: z.enum(APPROVAL_ACTIONS),
  expires: z.string().regex(/^\d{1,12}$/, 'must be an expiry in epoch seconds'),
  sig: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be a base64url signature'),
  approver: APPROVER_NAME.optional(),
});

/** A new approval id: 128 random bits, base64url (22 characters). */
export function newApprovalId(): string {
  return randomBytes(16).toString('base64url');
}

function epochSeconds(date: Date, field: string): number {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new InvalidInput(field, 'is not a valid date');
  return Math.floor(ms / 1000);
}

function signEpoch(
  id: string,
  action: ApprovalAction,
  expires: number,
  approver: string | undefined,
  key: string | Buffer,
) {
  if (key.length === 0) throw new InvalidInput('key', 'the approval signing key is empty');
  // The first three fields never hold a ".", so whatever follows the third is the approver.
  const signed = `${id}.${action}.${expires}${approver === undefined ? '' : `.${approver}`}`;
  return createHmac('sha256', key).update(signed).digest('base64url');
}

/**
 * base64url HMAC-SHA256 over `${id}.${action}.${expiry in epoch seconds}`, followed by
 * `.${approver}` for a per-approver link.
 */
export function signApproval(params: ApprovalLinkParams, key: string | Buffer): string {
  if (!APPROVAL_ID_PATTERN.test(params.id)) {
    throw new InvalidInput('id', 'must be an approval id');
  }
  if (params.approver !== undefined && !APPROVER_NAME_PATTERN.test(params.approver)) {
    throw new InvalidInput(
      'approver',
      'must be an approver name (no commas or control characters)',
    );
  }
  return signEpoch(
    params.id,
    params.action,
    epochSeconds(params.expiresAt, 'expiresAt'),
    params.approver,
    key,
  );
}

/**
 * `${baseUrl}/approvals/${id}?action=…&expires=…&sig=…` (and `&approver=…` for a
 * per-approver link); the task token is never in it.
 */
export function approvalLink(
  baseUrl: string,
  params: ApprovalLinkParams,
  key: string | Buffer,
): string {
  const sig = signApproval(params, key);
  const base = new URL(httpUrl(baseUrl, 'baseUrl'));
  const path = base.pathname.replace(/\/+$/, '');
  const url = new URL(`${base.origin}${path}/approvals/${params.id}`);
  url.search = new URLSearchParams({
    action: params.action,
    expires: String(epochSeconds(params.expiresAt, 'expiresAt')),
    sig,
    ...(params.approver === undefined ? {} : { approver: params.approver }),
  }).toString();
  return url.toString();
}

/**
 * Checks a link's fields (from a query string or a form body): the signature first, in
 * constant time, then the expiry, so a forged link learns nothing about expiry.
 */
export function verifyApprovalLink(
  query: unknown,
  key: string | Buffer,
  now: Date,
): ApprovalLinkParams {
  const fields = parseInput(APPROVAL_LINK_QUERY, query, 'query');
  const expires = Number(fields.expires);
  const expected = Buffer.from(
    signEpoch(fields.id, fields.action, expires, fields.approver, key),
    'utf8',
  );
  const given = Buffer.from(fields.sig, 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new ApprovalSignatureInvalid(
      'the approval link is not valid: its signature does not match',
    );
  }
  const expiresAt = new Date(expires * 1000);
  if (now.getTime() > expiresAt.getTime()) {
    throw new ApprovalExpired(`the approval link expired at ${expiresAt.toISOString()}`);
  }
  return {
    id: fields.id,
    action: fields.action,
    expiresAt,
    ...(fields.approver === undefined ? {} : { approver: fields.approver }),
  };
}

/** Who decides by a bare link, where there is no approver list: whoever holds it. */
export const BARE_LINK_DECIDER = 'approval link';

/**
 * Who a verified link decides as. With an approver list, only a per-approver link proves who
 * decides: a bare link is refused, and so is one made for a name no longer on the list
 * (both NotAnApprover). Without a list, a per-approver link still decides as its approver.
 */
export function linkDecider(
  link: ApprovalLinkParams,
  approvers: readonly string[] | undefined,
): string {
  if (approvers !== undefined) {
    if (link.approver === undefined) {
      throw new NotAnApprover(
        'this link names no approver: with an approver list, decide with your own approval link or from Slack',
      );
    }
    if (!isListed(link.approver, approvers)) {
      throw new NotAnApprover(`${link.approver} is not on the approver list`);
    }
  }
  return link.approver ?? BARE_LINK_DECIDER;
}

function isListed(name: string, approvers: readonly string[]): boolean {
  const wanted = name.trim().toLowerCase();
  return approvers.some((approver) => approver.trim().toLowerCase() === wanted);
}

export interface ApprovalDecision {
  readonly action: ApprovalAction;
  /** Who decides (a user name or e-mail); compared with the allowlist case-insensitively. */
  readonly by: string;
  readonly now: Date;
  /** Where the decision is made: kept with it, for the actor every channel shows. */
  readonly via?: ApprovalChannel;
  /** When given, only these may decide; an empty list lets nobody decide. */
  readonly approvers?: readonly string[];
  /** Why (POLICY_OVERRIDE_REASON): required to approve a policy override. */
  readonly reason?: string;
}

/** The longest reason a decision keeps. */
export const MAX_REASON_LENGTH = 1000;

/** A decision's reason: trimmed, one to MAX_REASON_LENGTH characters, no control characters but newlines. */
export const DECISION_REASON = z
  .string()
  .trim()
  .min(1, 'must say why')
  .max(MAX_REASON_LENGTH, `must be at most ${MAX_REASON_LENGTH} characters`)
  .regex(/^[^\p{Cc}]*(?:\n[^\p{Cc}]*)*$/u, 'must hold no control characters but newlines');

/**
 * Who may decide an approval: a policy override's owners, whatever the deployment's list;
 * else the deployment's approver list (undefined: anyone holding a valid link).
 */
export function decidersOf(
  record: Pick<ApprovalRecord, 'subject'>,
  approvers: readonly string[] | undefined,
): readonly string[] | undefined {
  return record.subject?.kind === 'policy_override'
    ? (record.subject.policy?.owners ?? [])
    : approvers;
}

/**
 * That the approval may still be decided: pending (ApprovalAlreadyDecided), and not past its
 * expiry (ApprovalExpired). Returns the expiry.
 */
export function assertStillOpen(
  record: Pick<ApprovalRecord, 'id' | 'status' | 'expiresAt'>,
  now: Date,
): Date {
  if (record.status !== 'pending') {
    throw new ApprovalAlreadyDecided(`approval ${record.id} is already ${record.status}`);
  }
  const expiresAt = Date.parse(record.expiresAt);
  if (Number.isNaN(expiresAt)) throw new InvalidInput('record.expiresAt', 'is not an ISO date');
  if (now.getTime() > expiresAt) {
    throw new ApprovalExpired(`approval ${record.id} expired at ${record.expiresAt}`);
  }
  return new Date(expiresAt);
}

/**
 * The decided record, to be written with a condition that it is still pending. Checks, in
 * this order: the approver allowlist (NotAnApprover), that it is undecided
 * (ApprovalAlreadyDecided), and the expiry (ApprovalExpired).
 */
export function decideApproval(record: ApprovalRecord, decision: ApprovalDecision): ApprovalRecord {
  const by = decision.by.trim();
  if (by === '') throw new InvalidInput('by', 'must name who decides');
  const deciders = decidersOf(record, decision.approvers);
  const override = record.subject?.kind === 'policy_override';
  if (deciders !== undefined && !isListed(by, deciders)) {
    throw new NotAnApprover(
      override
        ? `${by} may not override ${record.subject.policy?.blockedBy.join(', ') ?? 'this policy'}: only ${deciders.join(', ') || 'nobody'} may (the owners of every blocking policy)`
        : `${by} is not on the approver list`,
    );
  }
  const reason =
    decision.reason === undefined || decision.reason.trim() === ''
      ? undefined
      : parseInput(DECISION_REASON, decision.reason, 'reason');
  if (override && decision.action === 'approve' && reason === undefined) {
    throw new InvalidInput('reason', 'must say why the policy is overridden');
  }
  assertStillOpen(record, decision.now);
  return {
    ...record,
    status: decision.action === 'approve' ? 'approved' : 'rejected',
    decidedBy: by,
    decidedAt: decision.now.toISOString(),
    ...(decision.via === undefined ? {} : { decidedVia: decision.via }),
    ...(reason === undefined ? {} : { reason }),
  };
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}

const PAGE_STYLE = [
  'body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;color:#1f2328}',
  'dt{font-weight:600;margin-top:.5rem}dd{margin:0;font-family:ui-monospace,monospace;overflow-wrap:anywhere}',
  'button{font-size:1rem;padding:.5rem 1.5rem;margin-top:1.5rem;cursor:pointer}',
  '.ok{color:#1a7f37}.fail{color:#cf222e}',
  'table{border-collapse:collapse;margin-top:1.5rem;width:100%;display:block;overflow-x:auto}',
  'caption{text-align:left;font-weight:600;padding-bottom:.25rem}',
  'th,td{border-bottom:1px solid #d0d7de;padding:.25rem .5rem;text-align:left}',
  'td{font-family:ui-monospace,monospace;overflow-wrap:anywhere}',
  // The plan diff (core/plan-diff.ts renderPlanHtml): rows tinted by what happens to them.
  'h2{font-size:1.2rem;margin-top:2rem}h3{font-size:1rem;margin:1.25rem 0 0;font-weight:600}',
  'tr.plan-add{background:#dafbe1}tr.plan-remove{background:#ffebe9}tr.plan-update{background:#fff8c5}',
  'tr.plan-replace,tr.plan-replace-cbd{background:#ffebe9}',
  'section.plan-delete h3,section.plan-replace h3{color:#cf222e}',
].join('');

/**
 * An HTML page's head: UTF-8, phone width, no referrer (a link's signature never leaves in a
 * Referer header), never indexed. `extra` adds its title and styles or scripts.
 */
export function htmlHead(extra: readonly string[]): string[] {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    '<meta name="robots" content="noindex, nofollow">',
    ...extra,
    '</head>',
  ];
}

function page(title: string, body: string): string {
  return [
    ...htmlHead([`<title>${escapeHtml(title)}</title>`, `<style>${PAGE_STYLE}</style>`]),
    '<body>',
    body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

export interface ConfirmationPageInput {
  readonly record: ApprovalRecord;
  readonly action: ApprovalAction;
  readonly link: ApprovalLinkFields;
  /** Where the form posts to (the same approval endpoint). */
  readonly postUrl: string;
  /** Each project's plan diff, already rendered and escaped (core/plan-diff.ts). */
  readonly plans?: readonly { readonly name: string; readonly html: string }[];
  /** The plans' policy checks, already rendered and escaped (core/policy-view.ts). */
  readonly policies?: string;
}

/**
 * The page a GET of an approval link shows: what is being decided (and as whom), and a form
 * that POSTs the link's fields. It decides nothing itself. An already decided approval shows no form.
 */
export function renderConfirmationPage(input: ConfirmationPageInput): string {
  const { record, action, link, postUrl } = input;
  const verb = action === 'approve' ? 'Approve' : 'Reject';
  const kind = record.subject?.kind ?? 'plan';
  const several = (record.subject?.projects.length ?? 1) > 1;
  const rows: [string, string][] = [
    ...(link.approver === undefined ? [] : [['Deciding as', link.approver] as [string, string]]),
    ['Run', record.runId],
    ['Environment', record.environment],
    [several ? 'Projects under' : 'Project', record.projectDir],
    ['Commit', record.commit],
    [`${DIGEST_LABELS[kind]} SHA-256`, record.planSha256],
    ['Requested', record.requestedAt],
    ['Expires', record.expiresAt],
  ];
  const details = rows
    .map(([label, value]) => `<dt>${escapeHtml(label)}</dt><dd>${escapeHtml(value)}</dd>`)
    .join('\n');
  const form =
    record.status === 'pending'
      ? [
          `<form method="post" action="${escapeHtml(postUrl)}">`,
          ...(['id', 'action', 'expires', 'sig', 'approver'] as const).flatMap((name) => {
            const value = link[name];
            return value === undefined
              ? []
              : [`<input type="hidden" name="${name}" value="${escapeHtml(value)}">`];
          }),
          // An override says why: the reason goes with the decision into every record of it.
          ...(kind === 'policy_override' && action === 'approve'
            ? [
                '<label for="reason">Why is overriding the policy right here? (recorded with your name)</label>',
                `<textarea id="reason" name="reason" required maxlength="${MAX_REASON_LENGTH}" rows="4" style="display:block;width:100%"></textarea>`,
              ]
            : []),
          `<button type="submit">${verb}</button>`,
          '</form>',
        ].join('\n')
      : `<p class="fail">This approval is already ${escapeHtml(record.status)}; nothing more to decide.</p>`;
  const title = `${verb} ${TITLES[kind]} ${record.environment}?`;
  return page(
    title,
    [
      `<h1>${escapeHtml(title)}</h1>`,
      `<p>${escapeHtml(CONSEQUENCES[kind][action])}</p>`,
      `<dl>\n${details}\n</dl>`,
      ...(record.subject === undefined ? [] : [subjectSection(record.subject)]),
      ...(input.policies ? [input.policies] : []),
      ...(input.plans ?? []).map((plan) =>
        [
          `<section class="plan" aria-label="${escapeHtml(`Plan of ${plan.name}`)}">`,
          `<h2>What the plan of <code>${escapeHtml(plan.name)}</code> changes</h2>`,
          plan.html,
          '</section>',
        ].join('\n'),
      ),
      form,
    ].join('\n'),
  );
}

const DIGEST_LABELS = {
  plan: 'Plan',
  destroy: 'Destroy',
  command: 'Command',
  policy_override: 'Plan',
} as const;
const TITLES = {
  plan: 'the plan for',
  destroy: 'the destroy of',
  command: 'the command in',
  policy_override: 'overriding the policy on the plan for',
} as const;
const CONSEQUENCES = {
  plan: {
    approve: 'Approving applies exactly these saved plans, layer by layer.',
    reject: 'Rejecting ends the run without applying anything.',
  },
  destroy: {
    approve: 'Approving destroys every resource of these projects, layers in reverse.',
    reject: 'Rejecting ends the run without destroying anything.',
  },
  command: {
    approve: 'Approving runs exactly this command against the state.',
    reject: 'Rejecting ends the run without running the command.',
  },
  policy_override: {
    approve:
      'Overriding lets these plans go on despite the failed blocking policies: they still need their own approval before anything is applied. Your name and reason are recorded with the run.',
    reject: 'Refusing the override ends the run as blocked by its policies; nothing is applied.',
  },
} as const;

/** What is approved, project by project: a plan's counts, a destroy's projects, a command. */
function subjectSection(subject: ApprovalSubject): string {
  const cell = (value: string | number) => `<td>${escapeHtml(String(value))}</td>`;
  const counts = subject.kind === 'plan' || subject.kind === 'policy_override';
  const head = ['Project', 'Folder', ...(counts ? ['Add', 'Change', 'Destroy', 'Replace'] : [])]
    .map((label) => `<th scope="col">${label}</th>`)
    .join('');
  const rows = subject.projects.map((project) => {
    const s = project.summary;
    const numbers = counts
      ? s === undefined
        ? '<td colspan="4">no changes</td>'
        : [s.add, s.change, s.destroy, s.replace].map(cell).join('')
      : '';
    return `<tr><th scope="row">${escapeHtml(project.name)}</th>${cell(project.dir)}${numbers}</tr>`;
  });
  const caption = {
    plan: 'Each project’s changes',
    policy_override: 'Each project’s changes',
    destroy: 'The projects destroyed',
    command: 'The project the command runs in',
  }[subject.kind];
  return [
    ...(subject.command === undefined
      ? []
      : [`<p>Command: <code>${escapeHtml(subject.command)}</code></p>`]),
    ...(subject.policy === undefined
      ? []
      : [
          `<p class="fail">Blocked by the policies ${escapeHtml(subject.policy.blockedBy.join(', '))}. ` +
            `Only ${escapeHtml(subject.policy.owners.join(', '))} may override them.</p>`,
        ]),
    `<table>\n<caption>${caption}</caption>`,
    `<thead><tr>${head}</tr></thead>`,
    `<tbody>\n${rows.join('\n')}\n</tbody>\n</table>`,
  ].join('\n');
}

/** The page after the POST: the decision taken, or why it was refused. */
export function renderDecisionPage(message: string, ok: boolean): string {
  const title = ok ? 'Decision recorded' : 'Decision refused';
  return page(
    title,
    [
      `<h1 class="${ok ? 'ok' : 'fail'}">${escapeHtml(title)}</h1>`,
      `<p>${escapeHtml(message)}</p>`,
      '<p>You can close this page.</p>',
    ].join('\n'),
  );
}
