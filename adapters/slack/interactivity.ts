// Optional Slack interactivity: when the Slack app's interactivity URL points at the approval
// endpoint, a button click arrives as a signed block_actions payload. Slack signs
// `v0:${timestamp}:${raw body}` with the app's signing secret (HMAC-SHA256, hex, "v0="
// prefix); a request is accepted only with a matching signature and a timestamp within five
// minutes of now, and only from a user on the approver allowlist. Pure, apart from
// node:crypto.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { APPROVAL_ACTIONS, type ApprovalAction } from '../../core/approval.ts';
import {
  ApprovalExpired,
  ApprovalSignatureInvalid,
  InvalidInput,
  NotAnApprover,
} from '../../core/errors.ts';
import {
  APPROVE_ACTION_ID,
  OPEN_PAGE_ACTION_ID,
  OVERRIDE_LINKS_ACTION_ID,
  REJECT_ACTION_ID,
} from '../../core/slack-message.ts';
import { parseInput } from '../../core/validation.ts';

/** How far a request's timestamp may be from now, either way (Slack's recommendation). */
export const SLACK_TIMESTAMP_TOLERANCE_SECONDS = 5 * 60;

export interface SlackRequest {
  /** The raw request body, exactly as received (before any form or JSON parsing). */
  readonly body: string;
  /** The X-Slack-Request-Timestamp header (epoch seconds). */
  readonly timestamp: string | undefined;
  /** The X-Slack-Signature header (`v0=` and 64 hex digits). */
  readonly signature: string | undefined;
}

/** `v0=` and the hex HMAC-SHA256 of `v0:${timestamp}:${body}`, as Slack computes it. */
export function slackSignature(timestamp: string, body: string, signingSecret: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

/**
 * Checks a request from Slack: the signature first, in constant time
 * (ApprovalSignatureInvalid), then that the timestamp is within five minutes of `now`
 * (ApprovalExpired), so replays of an old request are refused.
 */
export function verifySlackRequest(request: SlackRequest, signingSecret: string, now: Date): void {
  if (signingSecret === '') throw new InvalidInput('signingSecret', 'is empty');
  const timestamp = request.timestamp?.trim() ?? '';
  const signature = request.signature?.trim() ?? '';
  if (!/^\d{1,12}$/.test(timestamp)) {
    throw new ApprovalSignatureInvalid('the Slack request has no valid timestamp');
  }
  if (!/^v0=[0-9a-f]{64}$/.test(signature)) {
    throw new ApprovalSignatureInvalid('the Slack request has no valid v0 signature');
  }
  const expected = Buffer.from(slackSignature(timestamp, request.body, signingSecret), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new ApprovalSignatureInvalid('the Slack request signature does not match');
  }
  const skew = Math.abs(Math.floor(now.getTime() / 1000) - Number(timestamp));
  if (!(skew <= SLACK_TIMESTAMP_TOLERANCE_SECONDS)) {
    throw new ApprovalExpired(
      'the Slack request timestamp is more than five minutes from now (a replay or a skewed clock)',
    );
  }
}

/** The JSON of the `payload` field of an interactivity POST (form-encoded). Verify first. */
export function slackPayloadFromBody(body: string): unknown {
  const payload = new URLSearchParams(body).get('payload');
  if (payload === null) throw new InvalidInput('payload', 'is missing');
  try {
    return JSON.parse(payload) as unknown;
  } catch {
    throw new InvalidInput('payload', 'is not JSON');
  }
}

const SLACK_ID = z.string().regex(/^[A-Z0-9]{2,32}$/, 'must be a Slack id');
const NAME = z.string().trim().min(1).max(256);

export const SLACK_BLOCK_ACTIONS = z.looseObject({
  type: z.literal('block_actions'),
  user: z.looseObject({ id: SLACK_ID, username: NAME.optional(), name: NAME.optional() }),
  /** Where to answer the click: a message only the user who clicked sees. */
  response_url: z
    .url({ protocol: /^https?$/ })
    .max(2000)
    .optional(),
  actions: z
    .array(
      z.looseObject({ action_id: z.string().max(255), value: z.string().max(2000).optional() }),
    )
    .min(1)
    .max(25),
});

const ACTION_VALUE = new RegExp(`^([A-Za-z0-9_-]{1,128})\\.(${APPROVAL_ACTIONS.join('|')})$`);

export interface SlackDecision {
  readonly approvalId: string;
  readonly action: ApprovalAction;
  /**
   * Who decides, for decideApproval: the allowlist entry that matched, when there is an
   * allowlist (so decideApproval's own check passes); else the Slack username, name or id.
   */
  readonly by: string;
  readonly slackUserId: string;
}

/**
 * The decision in a verified block_actions payload: the Stepform button (value
 * `${approvalId}.${action}`) and the user, who must be on `approvers` when it is given,
 * matched by Slack user id (exact; ids cannot be changed by their users, so prefer them) or
 * by username (case-insensitive). An empty allowlist lets nobody decide (NotAnApprover).
 */
export function decisionFromSlackAction(
  payload: unknown,
  approvers: readonly string[] | undefined,
): SlackDecision {
  const parsed = parseInput(SLACK_BLOCK_ACTIONS, payload, 'payload');
  const index = parsed.actions.findIndex(
    (action) => action.action_id === APPROVE_ACTION_ID || action.action_id === REJECT_ACTION_ID,
  );
  const button = parsed.actions[index];
  if (button === undefined) throw new InvalidInput('payload.actions', 'has no Stepform button');
  const match = ACTION_VALUE.exec(button.value ?? '');
  const action = match?.[2] as ApprovalAction | undefined;
  const approvalId = match?.[1];
  const expected = button.action_id === APPROVE_ACTION_ID ? 'approve' : 'reject';
  if (approvalId === undefined || action !== expected) {
    throw new InvalidInput(`payload.actions.${index}.value`, 'must be an approval id and action');
  }
  const { id } = parsed.user;
  const display = displayName(parsed.user);
  if (approvers === undefined) return { approvalId, action, by: display, slackUserId: id };
  const entry = listedAs(parsed.user, approvers);
  if (entry === undefined) throw new NotAnApprover(`${display} is not on the approver list`);
  return { approvalId, action, by: entry, slackUserId: id };
}

type SlackUser = z.output<typeof SLACK_BLOCK_ACTIONS>['user'];

function displayName(user: SlackUser): string {
  return user.username ?? user.name ?? user.id;
}

/**
 * The entry of `list` that is this Slack user: their id (exact; ids cannot be changed by their
 * users, so prefer them) or their username (case-insensitive).
 */
function listedAs(user: SlackUser, list: readonly string[]): string | undefined {
  const handle = user.username?.toLowerCase();
  return list
    .map((entry) => entry.trim())
    .find((entry) => entry === user.id || (handle !== undefined && entry.toLowerCase() === handle));
}

export interface SlackOwnerLinksRequest {
  readonly approvalId: string;
  /** Who clicked, for the messages. */
  readonly who: string;
  /** The owners' entry that is the user who clicked, if any. */
  readonly ownerAmong: (owners: readonly string[]) => string | undefined;
  /** Where the links go: a message only that user sees. */
  readonly responseUrl: string;
}

/**
 * A click on a policy override's button (OVERRIDE_LINKS_ACTION_ID, its value the approval
 * id), from a verified block_actions payload; undefined for any other button.
 */
export function ownerLinksRequest(payload: unknown): SlackOwnerLinksRequest | undefined {
  const parsed = parseInput(SLACK_BLOCK_ACTIONS, payload, 'payload');
  const index = parsed.actions.findIndex((action) => action.action_id === OVERRIDE_LINKS_ACTION_ID);
  const button = parsed.actions[index];
  if (button === undefined) return undefined;
  const approvalId = button.value ?? '';
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(approvalId)) {
    throw new InvalidInput(`payload.actions.${index}.value`, 'must be an approval id');
  }
  if (parsed.response_url === undefined) {
    throw new InvalidInput('payload.response_url', 'is missing: the links go only there');
  }
  return {
    approvalId,
    who: displayName(parsed.user),
    ownerAmong: (owners) => listedAs(parsed.user, owners),
    responseUrl: parsed.response_url,
  };
}

/** A click on an owner's own link button: it opened the page, and asks nothing here. */
export function isPageOpened(payload: unknown): boolean {
  const parsed = SLACK_BLOCK_ACTIONS.safeParse(payload);
  return (
    parsed.success &&
    parsed.data.actions.every((action) => action.action_id.startsWith(OPEN_PAGE_ACTION_ID))
  );
}
