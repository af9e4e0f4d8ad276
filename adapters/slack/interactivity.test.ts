import { describe, expect, it } from '@jest/globals';
import { caught } from '../../test/support/caught.ts';
import { createHmac } from 'node:crypto';
import { decideApproval } from '../../core/approval.ts';
import {
  ApprovalExpired,
  ApprovalSignatureInvalid,
  InvalidInput,
  NotAnApprover,
} from '../../core/errors.ts';
import {
  decisionFromSlackAction,
  isPageOpened,
  ownerLinksRequest,
  slackPayloadFromBody,
  slackSignature,
  verifySlackRequest,
} from './interactivity.ts';

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const NOW = new Date('2030-01-01T00:00:00.000Z');
const NOW_SECONDS = NOW.getTime() / 1000;
const APPROVAL_ID = 'AAECAwQFBgcICQoLDA0ODw';

function payload(overrides: Record<string, unknown> = {}) {
  return {
    type: 'block_actions',
    team: { id: 'T0001', domain: 'example' },
    user: { id: 'U0123ABCD', username: 'alice', name: 'alice', team_id: 'T0001' },
    actions: [
      {
        type: 'button',
        block_id: 'stepform_approval',
        action_id: 'stepform_approve',
        value: `${APPROVAL_ID}.approve`,
        action_ts: '1893456000.000100',
      },
    ],
    ...overrides,
  };
}

const BODY = `payload=${encodeURIComponent(JSON.stringify(payload()))}`;

/** A request as Slack signs it, `seconds` from NOW. */
function signed(body: string, seconds = 0, secret = SECRET) {
  const timestamp = String(NOW_SECONDS + seconds);
  return { body, timestamp, signature: slackSignature(timestamp, body, secret) };
}

describe('verifySlackRequest', () => {
  it('accepts a request signed with the signing secret, recomputed independently', () => {
    // Prepare
    const request = signed(BODY);
    const expected = `v0=${createHmac('sha256', SECRET).update(`v0:${request.timestamp}:${BODY}`).digest('hex')}`;

    // Act and assess
    expect(request.signature).toBe(expected);
    expect(() => verifySlackRequest(request, SECRET, NOW)).not.toThrow();
  });

  it('refuses a tampered body', () => {
    // Prepare: the signature of the original body, a body that now rejects
    const request = signed(BODY);
    const tampered = { ...request, body: BODY.replace('approve', 'reject') };

    // Act and assess
    expect(caught(() => verifySlackRequest(tampered, SECRET, NOW))).toBeInstanceOf(
      ApprovalSignatureInvalid,
    );
  });

  it('refuses a request signed with another secret', () => {
    const request = signed(BODY, 0, 'another-signing-secret');
    expect(caught(() => verifySlackRequest(request, SECRET, NOW))).toBeInstanceOf(
      ApprovalSignatureInvalid,
    );
  });

  it('refuses a validly signed request whose timestamp was changed', () => {
    const request = { ...signed(BODY), timestamp: String(NOW_SECONDS + 1) };
    expect(caught(() => verifySlackRequest(request, SECRET, NOW))).toBeInstanceOf(
      ApprovalSignatureInvalid,
    );
  });

  it('refuses a stale request (five minutes and one second old)', () => {
    const request = signed(BODY, -301);
    expect(caught(() => verifySlackRequest(request, SECRET, NOW))).toBeInstanceOf(ApprovalExpired);
  });

  it('accepts a request exactly five minutes old', () => {
    expect(() => verifySlackRequest(signed(BODY, -300), SECRET, NOW)).not.toThrow();
  });

  it('refuses a request from more than five minutes in the future, allows a small skew', () => {
    expect(caught(() => verifySlackRequest(signed(BODY, 301), SECRET, NOW))).toBeInstanceOf(
      ApprovalExpired,
    );
    expect(() => verifySlackRequest(signed(BODY, 60), SECRET, NOW)).not.toThrow();
  });

  it.each([
    ['no timestamp', { timestamp: undefined }],
    ['a timestamp that is not a number', { timestamp: '1893456000.5' }],
    ['no signature', { signature: undefined }],
    ['a signature of another version', { signature: `v1=${'0'.repeat(64)}` }],
    ['a short signature', { signature: 'v0=abcd' }],
  ])('refuses %s', (_name, change) => {
    const request = { ...signed(BODY), ...change };
    expect(caught(() => verifySlackRequest(request, SECRET, NOW))).toBeInstanceOf(
      ApprovalSignatureInvalid,
    );
  });

  it('refuses an empty signing secret', () => {
    expect((caught(() => verifySlackRequest(signed(BODY), '', NOW)) as InvalidInput).field).toBe(
      'signingSecret',
    );
  });
});

describe('slackPayloadFromBody', () => {
  it('reads the JSON of the form field', () => {
    expect(slackPayloadFromBody(BODY)).toEqual(payload());
  });

  it('names the field when it is missing or not JSON', () => {
    expect((caught(() => slackPayloadFromBody('a=b')) as InvalidInput).field).toBe('payload');
    expect((caught(() => slackPayloadFromBody('payload=%7Bnope')) as InvalidInput).field).toBe(
      'payload',
    );
  });
});

describe('decisionFromSlackAction', () => {
  it('reads the approval id, the action and the user', () => {
    // Act
    const decision = decisionFromSlackAction(payload(), undefined);

    // Assess
    expect(decision).toEqual({
      approvalId: APPROVAL_ID,
      action: 'approve',
      by: 'alice',
      slackUserId: 'U0123ABCD',
    });
  });

  it('reads a reject', () => {
    const decision = decisionFromSlackAction(
      payload({
        actions: [{ action_id: 'stepform_reject', value: `${APPROVAL_ID}.reject` }],
      }),
      undefined,
    );
    expect(decision.action).toBe('reject');
  });

  it('lets an approver on the allowlist decide, by Slack user id or by username', () => {
    // Act
    const byId = decisionFromSlackAction(payload(), ['bob', 'U0123ABCD']);
    const byName = decisionFromSlackAction(payload(), [' Alice ']);

    // Assess: `by` is the matching entry, so decideApproval's own allowlist check agrees
    expect(byId.by).toBe('U0123ABCD');
    expect(byName.by).toBe('Alice');
    const record = {
      id: APPROVAL_ID,
      runId: 'run-1',
      environment: 'prod',
      projectDir: '.',
      commit: 'a'.repeat(40),
      planSha256: 'b'.repeat(64),
      requestedAt: '2029-12-31T23:00:00.000Z',
      expiresAt: '2030-01-01T01:00:00.000Z',
      status: 'pending',
    } as const;
    expect(
      decideApproval(record, {
        action: byId.action,
        by: byId.by,
        now: NOW,
        approvers: ['bob', 'U0123ABCD'],
      }).status,
    ).toBe('approved');
  });

  it('refuses a user not on the allowlist, and everybody with an empty allowlist', () => {
    expect(caught(() => decisionFromSlackAction(payload(), ['bob', 'U9999']))).toBeInstanceOf(
      NotAnApprover,
    );
    expect(caught(() => decisionFromSlackAction(payload(), []))).toBeInstanceOf(NotAnApprover);
  });

  it('does not match a user id case-insensitively, nor by display name alone', () => {
    // Prepare: a user whose display name is an approver's, but whose handle is not
    const impostor = payload({ user: { id: 'U0999ZZZZ', name: 'alice' } });

    // Act and assess
    expect(caught(() => decisionFromSlackAction(payload(), ['u0123abcd']))).toBeInstanceOf(
      NotAnApprover,
    );
    expect(caught(() => decisionFromSlackAction(impostor, ['alice']))).toBeInstanceOf(
      NotAnApprover,
    );
  });

  it.each([
    ['another payload type', { type: 'view_submission' }, 'payload.type'],
    ['no user id', { user: { username: 'alice' } }, 'payload.user.id'],
    ['no actions', { actions: [] }, 'payload.actions'],
    ['no Stepform button', { actions: [{ action_id: 'other', value: 'x' }] }, 'payload.actions'],
    [
      'a value that contradicts the button',
      { actions: [{ action_id: 'stepform_approve', value: `${APPROVAL_ID}.reject` }] },
      'payload.actions.0.value',
    ],
    [
      'a malformed approval id',
      { actions: [{ action_id: 'stepform_approve', value: 'a/b.approve' }] },
      'payload.actions.0.value',
    ],
  ])('refuses %s', (_name, change, field) => {
    const error = caught(() => decisionFromSlackAction(payload(change), undefined));
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as InvalidInput).field).toBe(field);
  });
});

describe('ownerLinksRequest (a policy override button)', () => {
  const RESPONSE_URL = 'https://hooks.slack.com/actions/T0001/1/abc';
  const click = (overrides: Record<string, unknown> = {}) =>
    payload({
      actions: [{ action_id: 'stepform_override_links', value: APPROVAL_ID }],
      response_url: RESPONSE_URL,
      ...overrides,
    });

  it('names the approval, where to answer, and which owner clicked: by id, or by username', () => {
    const asked = ownerLinksRequest(click());

    expect(asked).toMatchObject({
      approvalId: APPROVAL_ID,
      who: 'alice',
      responseUrl: RESPONSE_URL,
    });
    expect(asked?.ownerAmong(['bob', 'U0123ABCD'])).toBe('U0123ABCD');
    expect(asked?.ownerAmong(['bob', ' Alice '])).toBe('Alice');
    expect(asked?.ownerAmong(['bob'])).toBeUndefined();
  });

  it('is undefined for any other button, which decisionFromSlackAction reads', () => {
    expect(ownerLinksRequest(payload())).toBeUndefined();
  });

  it.each([
    [
      'a malformed approval id',
      { actions: [{ action_id: 'stepform_override_links', value: 'a.b' }] },
      'payload.actions.0.value',
    ],
    ['no response_url', { response_url: undefined }, 'payload.response_url'],
    [
      'a response_url that is not a URL',
      { response_url: 'javascript:alert(1)' },
      'payload.response_url',
    ],
  ])('refuses %s', (_name, change, field) => {
    const error = caught(() => ownerLinksRequest(click(change)));
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as InvalidInput).field).toBe(field);
  });

  it('tells a click on an owner’s own link button (it opened the page) from a decision', () => {
    expect(isPageOpened(payload({ actions: [{ action_id: 'stepform_open_page_override' }] }))).toBe(
      true,
    );
    expect(isPageOpened(payload())).toBe(false);
    expect(isPageOpened({ type: 'view_submission' })).toBe(false);
  });
});
