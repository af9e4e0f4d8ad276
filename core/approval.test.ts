import { describe, expect, it } from '@jest/globals';
import { caught } from '../test/support/caught.ts';
import { createHmac } from 'node:crypto';
import {
  type ApprovalRecord,
  BARE_LINK_DECIDER,
  approvalLink,
  decideApproval,
  decidersOf,
  MAX_REASON_LENGTH,
  escapeHtml,
  linkDecider,
  newApprovalId,
  renderConfirmationPage,
  renderDecisionPage,
  signApproval,
  verifyApprovalLink,
  withoutSecrets,
} from './approval.ts';
import {
  ApprovalAlreadyDecided,
  ApprovalExpired,
  ApprovalSignatureInvalid,
  InvalidInput,
  NotAnApprover,
} from './errors.ts';

const KEY = 'test-signing-key-0123456789abcdef';
const ID = 'AAECAwQFBgcICQoLDA0ODw';
const EXPIRES_AT = new Date('2030-01-01T00:00:00.000Z');
const EXPIRES = String(EXPIRES_AT.getTime() / 1000);
const BEFORE = new Date('2029-12-31T23:00:00.000Z');
const AFTER = new Date('2030-01-01T00:00:01.000Z');

function flipLast(text: string): string {
  return `${text.slice(0, -1)}${text.endsWith('A') ? 'B' : 'A'}`;
}

/** The query fields of a link, as an HTTP adapter would pass them (id from the path). */
function linkQuery(link: string): Record<string, string> {
  const url = new URL(link);
  const id = url.pathname.split('/').at(-1) ?? '';
  return { id, ...Object.fromEntries(url.searchParams) };
}

const RECORD: ApprovalRecord = {
  id: ID,
  runId: 'run-42',
  environment: 'prod',
  projectDir: 'terraform/examples/hello',
  commit: 'a'.repeat(40),
  planSha256: 'b'.repeat(64),
  requestedAt: '2029-12-31T22:00:00.000Z',
  expiresAt: EXPIRES_AT.toISOString(),
  status: 'pending',
};

describe('newApprovalId', () => {
  it('makes 128 random bits in base64url', () => {
    // Act
    const ids = new Set(Array.from({ length: 100 }, () => newApprovalId()));

    // Assess
    expect(ids.size).toBe(100);
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(Buffer.from(id, 'base64url')).toHaveLength(16);
    }
  });
});

describe('signApproval', () => {
  it('is a base64url HMAC-SHA256 over id, action and expiry in epoch seconds', () => {
    // Act
    const sig = signApproval({ id: ID, action: 'approve', expiresAt: EXPIRES_AT }, KEY);

    // Assess: recomputed independently
    expect(sig).toBe(
      createHmac('sha256', KEY).update(`${ID}.approve.${EXPIRES}`).digest('base64url'),
    );
    expect(sig).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('refuses an empty key and an id that is not base64url', () => {
    expect(
      (
        caught(() =>
          signApproval({ id: ID, action: 'approve', expiresAt: EXPIRES_AT }, ''),
        ) as InvalidInput
      ).field,
    ).toBe('key');
    expect(
      (
        caught(() =>
          signApproval({ id: 'a.b', action: 'approve', expiresAt: EXPIRES_AT }, KEY),
        ) as InvalidInput
      ).field,
    ).toBe('id');
  });
});

describe('approvalLink', () => {
  it('carries id, action, expiry and signature, and nothing else', () => {
    // Prepare
    const params = { id: ID, action: 'approve', expiresAt: EXPIRES_AT } as const;

    // Act
    const link = approvalLink('https://approve.example.com/stage/', params, KEY);

    // Assess
    expect(link).toBe(
      `https://approve.example.com/stage/approvals/${ID}?action=approve&expires=${EXPIRES}&sig=${signApproval(params, KEY)}`,
    );
    expect([...new URL(link).searchParams.keys()]).toEqual(['action', 'expires', 'sig']);
  });

  it('never contains the task token', () => {
    // Prepare: a record as the store holds it, with its task token
    const taskToken = 'AQCEAAAAKgAAAAMAAAAAAAAAAT+secret/task+token==';

    // Act
    const links = (['approve', 'reject'] as const).map((action) =>
      approvalLink('http://localhost:8080', { id: ID, action, expiresAt: EXPIRES_AT }, KEY),
    );

    // Assess
    for (const link of links) {
      expect(link).not.toContain(taskToken);
      expect(link).not.toContain(encodeURIComponent(taskToken));
      expect(link).not.toMatch(/token/i);
    }
    expect(links[1]).toBe(
      `http://localhost:8080/approvals/${ID}?action=reject&expires=${EXPIRES}&sig=${signApproval({ id: ID, action: 'reject', expiresAt: EXPIRES_AT }, KEY)}`,
    );
  });

  it('refuses a base URL that is not http(s)', () => {
    const error = caught(() =>
      approvalLink(
        'javascript:alert(1)',
        { id: ID, action: 'approve', expiresAt: EXPIRES_AT },
        KEY,
      ),
    );
    expect((error as InvalidInput).field).toBe('baseUrl');
  });
});

describe('verifyApprovalLink', () => {
  const link = approvalLink(
    'https://x.example',
    { id: ID, action: 'approve', expiresAt: EXPIRES_AT },
    KEY,
  );
  const query = linkQuery(link);

  it('accepts a valid link before its expiry', () => {
    // Act
    const verified = verifyApprovalLink(query, KEY, BEFORE);

    // Assess
    expect(verified).toEqual({ id: ID, action: 'approve', expiresAt: EXPIRES_AT });
  });

  it('accepts it at the very second it expires', () => {
    expect(verifyApprovalLink(query, KEY, EXPIRES_AT).id).toBe(ID);
  });

  it.each([
    ['id', { id: 'AAECAwQFBgcICQoLDA0ODx' }],
    ['action', { action: 'reject' }],
    ['expires', { expires: String(Number(EXPIRES) + 3600) }],
    ['sig (one character)', { sig: flipLast(query.sig ?? '') }],
    ['sig (shorter)', { sig: (query.sig ?? '').slice(0, -2) }],
    ['sig (longer)', { sig: `${query.sig ?? ''}AA` }],
  ])('refuses a tampered %s', (_name, change) => {
    // Prepare
    const tampered = { ...query, ...change };

    // Act
    const error = caught(() => verifyApprovalLink(tampered, KEY, BEFORE));

    // Assess
    expect(error).toBeInstanceOf(ApprovalSignatureInvalid);
  });

  it('refuses a link signed with another key', () => {
    expect(caught(() => verifyApprovalLink(query, 'another-key', BEFORE))).toBeInstanceOf(
      ApprovalSignatureInvalid,
    );
  });

  it('refuses an expired link', () => {
    // Act
    const error = caught(() => verifyApprovalLink(query, KEY, AFTER));

    // Assess
    expect(error).toBeInstanceOf(ApprovalExpired);
    expect((error as Error).message).toBe('the approval link expired at 2030-01-01T00:00:00.000Z');
  });

  it('checks the signature before the expiry', () => {
    // Prepare: a forged link pushed into the past
    const forged = { ...query, expires: String(Number(EXPIRES) - 7200) };

    // Act
    const error = caught(() => verifyApprovalLink(forged, KEY, AFTER));

    // Assess
    expect(error).toBeInstanceOf(ApprovalSignatureInvalid);
  });

  it.each([
    [{ ...query, action: 'destroy' }, 'query.action'],
    [{ ...query, expires: 'tomorrow' }, 'query.expires'],
    [{ ...query, sig: 'not base64!' }, 'query.sig'],
    [{ ...query, id: '../admin' }, 'query.id'],
    [{ action: 'approve', expires: EXPIRES, sig: query.sig }, 'query.id'],
    [{ ...query, action: ['approve', 'reject'] }, 'query.action'],
    ['id=x', 'query'],
  ])('names the bad field of a malformed query (%#)', (bad, field) => {
    // Act
    const error = caught(() => verifyApprovalLink(bad, KEY, BEFORE));

    // Assess
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as InvalidInput).field).toBe(field);
  });
});

describe('decideApproval', () => {
  it('approves a pending approval', () => {
    // Act
    const decided = decideApproval(RECORD, { action: 'approve', by: 'alice', now: BEFORE });

    // Assess
    expect(decided).toEqual({
      ...RECORD,
      status: 'approved',
      decidedBy: 'alice',
      decidedAt: '2029-12-31T23:00:00.000Z',
    });
    expect(RECORD.status).toBe('pending');
  });

  it('rejects a pending approval', () => {
    expect(decideApproval(RECORD, { action: 'reject', by: 'bob', now: BEFORE }).status).toBe(
      'rejected',
    );
  });

  it('refuses a replayed decision', () => {
    // Prepare
    const decided = decideApproval(RECORD, { action: 'approve', by: 'alice', now: BEFORE });

    // Act
    const error = caught(() =>
      decideApproval(decided, { action: 'approve', by: 'alice', now: BEFORE }),
    );

    // Assess
    expect(error).toBeInstanceOf(ApprovalAlreadyDecided);
    expect((error as Error).message).toBe(`approval ${ID} is already approved`);
  });

  it('refuses a decision after the expiry', () => {
    expect(
      caught(() => decideApproval(RECORD, { action: 'approve', by: 'alice', now: AFTER })),
    ).toBeInstanceOf(ApprovalExpired);
  });

  it('refuses a decision on an approval marked expired', () => {
    expect(
      caught(() =>
        decideApproval(
          { ...RECORD, status: 'expired' },
          { action: 'approve', by: 'a', now: BEFORE },
        ),
      ),
    ).toBeInstanceOf(ApprovalAlreadyDecided);
  });

  it('lets only approvers on the allowlist decide, ignoring case', () => {
    // Prepare
    const approvers = ['Alice@Example.com', 'carol'];

    // Act
    const decided = decideApproval(RECORD, {
      action: 'approve',
      by: 'alice@example.COM',
      now: BEFORE,
      approvers,
    });
    const error = caught(() =>
      decideApproval(RECORD, { action: 'approve', by: 'mallory', now: BEFORE, approvers }),
    );

    // Assess
    expect(decided.decidedBy).toBe('alice@example.COM');
    expect(error).toBeInstanceOf(NotAnApprover);
    expect((error as Error).message).toBe('mallory is not on the approver list');
  });

  it('lets nobody decide when the allowlist is empty', () => {
    expect(
      caught(() =>
        decideApproval(RECORD, { action: 'approve', by: 'alice', now: BEFORE, approvers: [] }),
      ),
    ).toBeInstanceOf(NotAnApprover);
  });

  it('needs to know who decides', () => {
    const error = caught(() =>
      decideApproval(RECORD, { action: 'approve', by: '  ', now: BEFORE }),
    );
    expect((error as InvalidInput).field).toBe('by');
  });
});

describe('escapeHtml', () => {
  it('escapes the five HTML special characters', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
  });
});

describe('renderConfirmationPage', () => {
  const link = { id: ID, action: 'approve' as const, expires: EXPIRES, sig: 'c2lnbmF0dXJl' };

  it('shows what is decided and posts the four link fields', () => {
    // Act
    const html = renderConfirmationPage({
      record: RECORD,
      action: 'approve',
      link,
      postUrl: `/approvals/${ID}`,
    });

    // Assess
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<dt>Run</dt><dd>run-42</dd>');
    expect(html).toContain('<dt>Environment</dt><dd>prod</dd>');
    expect(html).toContain('<dt>Project</dt><dd>terraform/examples/hello</dd>');
    expect(html).toContain(`<dt>Commit</dt><dd>${'a'.repeat(40)}</dd>`);
    expect(html).toContain(`<dt>Plan SHA-256</dt><dd>${'b'.repeat(64)}</dd>`);
    expect(html).toContain('<dt>Expires</dt><dd>2030-01-01T00:00:00.000Z</dd>');
    expect(html).toContain(`<form method="post" action="/approvals/${ID}">`);
    expect(html).toContain(`<input type="hidden" name="id" value="${ID}">`);
    expect(html).toContain('<input type="hidden" name="action" value="approve">');
    expect(html).toContain(`<input type="hidden" name="expires" value="${EXPIRES}">`);
    expect(html).toContain('<input type="hidden" name="sig" value="c2lnbmF0dXJl">');
    expect(html).toContain('<button type="submit">Approve</button>');
    expect(html.match(/<button/g)).toHaveLength(1);
    expect(html).not.toMatch(/<script|<link|src=/);
  });

  it('lists what is approved: each project of a plan with its counts, before the form', () => {
    const record = {
      ...RECORD,
      projectDir: 'infra',
      subject: {
        kind: 'plan' as const,
        projects: [
          {
            name: 'network',
            dir: 'infra/network',
            summary: { add: 1, change: 2, destroy: 0, replace: 0 },
          },
          { name: 'app', dir: 'infra/app', summary: { add: 0, change: 0, destroy: 3, replace: 1 } },
          { name: 'dns', dir: 'infra/dns' },
        ],
      },
    };
    const html = renderConfirmationPage({ record, action: 'approve', link, postUrl: '/x' });
    expect(html).toContain('<dt>Projects under</dt><dd>infra</dd>');
    expect(html).toContain('<caption>Each project’s changes</caption>');
    expect(html).toContain(
      '<tr><th scope="row">network</th><td>infra/network</td><td>1</td><td>2</td><td>0</td><td>0</td></tr>',
    );
    expect(html).toContain(
      '<tr><th scope="row">app</th><td>infra/app</td><td>0</td><td>0</td><td>3</td><td>1</td></tr>',
    );
    expect(html).toContain(
      '<tr><th scope="row">dns</th><td>infra/dns</td><td colspan="4">no changes</td></tr>',
    );
    expect(html.indexOf('<table>')).toBeLessThan(html.indexOf('<form'));
  });

  it('says a destroy or a command is what is approved, and labels its digest so', () => {
    const destroy = renderConfirmationPage({
      record: {
        ...RECORD,
        subject: { kind: 'destroy', projects: [{ name: 'app', dir: 'infra/app' }] },
      },
      action: 'approve',
      link,
      postUrl: '/x',
    });
    expect(destroy).toContain('<h1>Approve the destroy of prod?</h1>');
    expect(destroy).toContain(`<dt>Destroy SHA-256</dt><dd>${'b'.repeat(64)}</dd>`);
    expect(destroy).toContain('Approving destroys every resource of these projects');
    expect(destroy).toContain('<th scope="row">app</th><td>infra/app</td></tr>');
    expect(destroy).not.toContain('Plan SHA-256');

    const command = renderConfirmationPage({
      record: {
        ...RECORD,
        subject: {
          kind: 'command',
          projects: [{ name: 'app', dir: 'infra/app' }],
          command: 'state rm <aws_instance.web>',
        },
      },
      action: 'reject',
      link: { ...link, action: 'reject' },
      postUrl: '/x',
    });
    expect(command).toContain('<h1>Reject the command in prod?</h1>');
    expect(command).toContain(`<dt>Command SHA-256</dt>`);
    expect(command).toContain('<code>state rm &lt;aws_instance.web&gt;</code>');
  });

  it('labels the button Reject for a reject link', () => {
    const html = renderConfirmationPage({
      record: RECORD,
      action: 'reject',
      link: { ...link, action: 'reject' },
      postUrl: '/x',
    });
    expect(html).toContain('<button type="submit">Reject</button>');
    expect(html).toContain('<input type="hidden" name="action" value="reject">');
  });

  it('escapes every value', () => {
    // Prepare
    const evil = '<script>alert("x")</script>';
    const record = { ...RECORD, runId: evil, environment: evil, projectDir: `a'b&c` };

    // Act
    const html = renderConfirmationPage({
      record,
      action: 'approve',
      link: { ...link, sig: `"><script>` },
      postUrl: `/a"><script>`,
    });

    // Assess
    expect(html).not.toContain('<script>');
    expect(html).toContain('<dd>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</dd>');
    expect(html).toContain('<dd>a&#39;b&amp;c</dd>');
    expect(html).toContain('name="sig" value="&quot;&gt;&lt;script&gt;"');
    expect(html).toContain('action="/a&quot;&gt;&lt;script&gt;"');
  });

  it('shows no form once the approval is decided', () => {
    const html = renderConfirmationPage({
      record: { ...RECORD, status: 'rejected' },
      action: 'approve',
      link,
      postUrl: '/x',
    });
    expect(html).not.toContain('<form');
    expect(html).toContain('This approval is already rejected');
  });
});

describe('renderDecisionPage', () => {
  it('says what happened, escaped', () => {
    // Act
    const ok = renderDecisionPage('Approved run <b>7</b>', true);
    const refused = renderDecisionPage('the approval link expired', false);

    // Assess
    expect(ok).toContain('<h1 class="ok">Decision recorded</h1>');
    expect(ok).toContain('<p>Approved run &lt;b&gt;7&lt;/b&gt;</p>');
    expect(refused).toContain('<h1 class="fail">Decision refused</h1>');
    expect(refused).toContain('<p>the approval link expired</p>');
  });
});

describe('per-approver links', () => {
  const params = { id: ID, action: 'approve', expiresAt: EXPIRES_AT, approver: 'alice' } as const;
  const aliceLink = approvalLink('https://x.example', params, KEY);

  it("signs the approver's name with id, action and expiry", () => {
    // Act
    const sig = signApproval(params, KEY);

    // Assess
    const expected = createHmac('sha256', KEY)
      .update(`${ID}.approve.${EXPIRES}.alice`)
      .digest('base64url');
    expect(sig).toBe(expected);
    expect(sig).not.toBe(signApproval({ id: ID, action: 'approve', expiresAt: EXPIRES_AT }, KEY));
    expect(new URL(aliceLink).searchParams.get('approver')).toBe('alice');
  });

  it('verifies to the approver it was made for', () => {
    expect(verifyApprovalLink(linkQuery(aliceLink), KEY, BEFORE)).toEqual({
      id: ID,
      action: 'approve',
      expiresAt: EXPIRES_AT,
      approver: 'alice',
    });
  });

  it('refuses a link whose approver was changed or removed', () => {
    // Prepare
    const bare = linkQuery(aliceLink);
    delete bare.approver;

    // Act / Assess
    for (const query of [{ ...linkQuery(aliceLink), approver: 'bob' }, bare]) {
      expect(caught(() => verifyApprovalLink(query, KEY, BEFORE))).toBeInstanceOf(
        ApprovalSignatureInvalid,
      );
    }
  });

  it('refuses an approver name that could not be listed, naming the field', () => {
    expect(
      (caught(() => signApproval({ ...params, approver: 'a,b' }, KEY)) as InvalidInput).field,
    ).toBe('approver');
    const query = { ...linkQuery(aliceLink), approver: ' alice' };
    expect((caught(() => verifyApprovalLink(query, KEY, BEFORE)) as InvalidInput).field).toBe(
      'query.approver',
    );
  });
});

describe('linkDecider', () => {
  const bare = { id: ID, action: 'approve', expiresAt: EXPIRES_AT } as const;

  it('decides as the approver the link was signed for, on the list in any case', () => {
    expect(linkDecider({ ...bare, approver: 'Alice' }, ['alice', 'bob'])).toBe('Alice');
  });

  it('refuses a bare link when there is an approver list', () => {
    const error = caught(() => linkDecider(bare, ['alice']));
    expect(error).toBeInstanceOf(NotAnApprover);
    expect((error as Error).message).toContain('names no approver');
  });

  it('refuses a link made for someone no longer on the list', () => {
    const error = caught(() => linkDecider({ ...bare, approver: 'mallory' }, ['alice']));
    expect(error).toBeInstanceOf(NotAnApprover);
    expect((error as Error).message).toBe('mallory is not on the approver list');
  });

  it('lets whoever holds a bare link decide when there is no list', () => {
    expect(linkDecider(bare, undefined)).toBe(BARE_LINK_DECIDER);
  });
});

describe('renderConfirmationPage with a per-approver link', () => {
  it('says as whom it decides and posts the approver with the other fields', () => {
    // Act
    const html = renderConfirmationPage({
      record: RECORD,
      action: 'approve',
      link: { id: ID, action: 'approve', expires: EXPIRES, sig: 'c2ln', approver: 'alice' },
      postUrl: `/approvals/${ID}`,
    });

    // Assess
    expect(html).toContain('<dt>Deciding as</dt><dd>alice</dd>');
    expect(html).toContain('<input type="hidden" name="approver" value="alice">');
  });
});

describe('withoutSecrets', () => {
  it('keeps the record and drops the task token and the waiting execution', () => {
    const record = {
      id: 'a-1',
      runId: 'cli-1',
      environment: 'prod',
      projectDir: 'infra',
      commit: 'c'.repeat(40),
      planSha256: 'f'.repeat(64),
      requestedAt: '2026-12-03T10:00:00.000Z',
      expiresAt: '2026-12-03T12:00:00.000Z',
      status: 'pending' as const,
    };
    const shown = withoutSecrets({
      ...record,
      taskToken: 'AQCEAAAA+secret',
      executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:x:cli-1',
    });
    expect(shown).toEqual(record);
    expect(JSON.stringify(shown)).not.toContain('secret');
  });
});

describe('a policy override (issue 16)', () => {
  const OVERRIDE: ApprovalRecord = {
    ...RECORD,
    subject: {
      kind: 'policy_override',
      projects: [
        {
          name: 'stack',
          dir: 'stack',
          summary: { add: 2, change: 0, destroy: 0, replace: 0 },
        },
      ],
      policy: { blockedBy: ['guardrails'], owners: ['alice', 'bob'] },
    },
  };

  it('is decided by the blocking policies’ owners alone, whatever the approver list says', () => {
    expect(decidersOf(OVERRIDE, ['carol'])).toEqual(['alice', 'bob']);
    expect(decidersOf(RECORD, ['carol'])).toEqual(['carol']);
    expect(decidersOf(RECORD, undefined)).toBeUndefined();
    const error = caught(() =>
      decideApproval(OVERRIDE, {
        action: 'approve',
        by: 'carol',
        now: BEFORE,
        approvers: ['carol'],
        reason: 'I am an approver',
      }),
    );
    expect(error).toBeInstanceOf(NotAnApprover);
    expect((error as Error).message).toBe(
      'carol may not override guardrails: only alice, bob may (the owners of every blocking policy)',
    );
  });

  it('needs a reason to override, kept trimmed with the decision; a refusal may give none', () => {
    const bare = caught(() =>
      decideApproval(OVERRIDE, { action: 'approve', by: 'Alice', now: BEFORE, reason: '  ' }),
    );
    expect(bare).toBeInstanceOf(InvalidInput);
    expect((bare as InvalidInput).field).toBe('reason');

    const decided = decideApproval(OVERRIDE, {
      action: 'approve',
      by: 'Alice',
      now: BEFORE,
      via: 'web',
      reason: '  incident 42: the bucket is replaced by hand\n  afterwards ',
    });
    expect(decided).toMatchObject({
      status: 'approved',
      decidedBy: 'Alice',
      decidedVia: 'web',
      reason: 'incident 42: the bucket is replaced by hand\n  afterwards',
    });
    expect(
      decideApproval(OVERRIDE, { action: 'reject', by: 'bob', now: BEFORE }),
    ).not.toHaveProperty('reason');
  });

  it.each([
    ['x'.repeat(MAX_REASON_LENGTH + 1), 'must be at most 1000 characters'],
    ['why\u0007 not', 'must hold no control characters but newlines'],
  ])('refuses a reason that is too long or holds control characters (%#)', (reason, message) => {
    const error = caught(() =>
      decideApproval(OVERRIDE, { action: 'approve', by: 'alice', now: BEFORE, reason }),
    );
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as InvalidInput).field).toBe('reason');
    expect((error as Error).message).toContain(message);
  });

  it('shows what blocks the plan, who may override, and asks why in the approve form only', () => {
    const link = {
      id: ID,
      action: 'approve' as const,
      expires: EXPIRES,
      sig: 's',
      approver: 'alice',
    };
    const approve = renderConfirmationPage({
      record: OVERRIDE,
      action: 'approve',
      link,
      postUrl: '/x',
    });
    expect(approve).toContain('<title>Approve overriding the policy on the plan for prod?</title>');
    expect(approve).toContain(
      '<p class="fail">Blocked by the policies guardrails. Only alice, bob may override them.</p>',
    );
    expect(approve).toContain('they still need their own approval before anything is applied');
    expect(approve).toContain('<textarea id="reason" name="reason" required maxlength="1000"');
    // Inside the form, so that the POST carries it.
    expect(approve.indexOf('<textarea')).toBeGreaterThan(approve.indexOf('<form'));
    expect(approve.indexOf('<textarea')).toBeLessThan(approve.indexOf('</form>'));
    const reject = renderConfirmationPage({
      record: OVERRIDE,
      action: 'reject',
      link: { ...link, action: 'reject' },
      postUrl: '/x',
    });
    expect(reject).not.toContain('<textarea');
    expect(reject).toContain('Refusing the override ends the run as blocked by its policies');
  });
});
