// The local approval endpoint, over real HTTP on loopback, against a real engine home: a GET
// of a signed link only shows the confirmation page; the POST from that page decides, once.
// Malformed, oversized and other bad requests are in test/integration/bad-input.test.ts.
import { afterEach, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { newApprovalId } from '../../core/approval.ts';
import {
  HOUR,
  type Reply,
  type Started,
  TASK_TOKEN,
  addApproval,
  flipLast,
  inSeconds,
  link,
  linkFields,
  post,
  request,
  startApprovalServer as start,
  stopServers,
  withQuery,
} from '../../test/support/approval-server.ts';
import { thisProcess } from './processes.ts';

afterEach(async () => {
  for (const body of await stopServers()) expect(body).not.toContain(TASK_TOKEN);
});

/** The confirmation page's form: where it posts and its hidden fields. */
function formOf(html: string): { action: string; fields: Record<string, string> } {
  const action = /<form method="post" action="([^"]+)">/.exec(html)?.[1];
  if (action === undefined) throw new Error(`no form in:\n${html}`);
  const fields = Object.fromEntries(
    [...html.matchAll(/<input type="hidden" name="([a-z]+)" value="([^"]*)">/g)].map((m) => [
      m[1] ?? '',
      m[2] ?? '',
    ]),
  );
  return { action, fields };
}

/** GET the link, then POST the form it shows, as a browser would. */
async function confirm(s: Started, url: string): Promise<{ page: Reply; decision: Reply }> {
  const page = await request(url);
  const form = formOf(page.body);
  const decision = await post(`${s.base}${form.action}`, form.fields);
  return { page, decision };
}

describe('the approval server', () => {
  it('listens on loopback only', async () => {
    const s = await start();

    expect(s.address.address).toBe('127.0.0.1');
    expect((await request(`${s.base}/healthz`)).status).toBe(200);
  });

  it('shows a confirmation page on GET and decides nothing', async () => {
    const s = await start();
    const row = await addApproval(s.engine);

    const page = await request(link(s, row, 'approve'));
    // Chat clients prefetch links, sometimes more than once.
    await request(link(s, row, 'approve'));

    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<form method="post"');
    expect(page.body).toContain(row.runId);
    expect(page.body).toContain(row.planSha256);
    expect(page.body).toContain(row.commit);
    expect(formOf(page.body)).toEqual({
      action: `/approvals/${row.id}`,
      fields: linkFields(link(s, row, 'approve')),
    });
    expect(await s.engine.stores.approvals.get(row.id)).toEqual(row);
  });

  it('approves on the POST from the confirmation page', async () => {
    const s = await start();
    const row = await addApproval(s.engine);

    const { decision } = await confirm(s, link(s, row, 'approve'));

    expect(decision.status).toBe(200);
    expect(decision.body).toContain('Decision recorded');
    expect(decision.body).toContain(`Run ${row.runId} approved.`);
    const stored = await s.engine.stores.approvals.get(row.id);
    expect(stored).toMatchObject({
      status: 'approved',
      decidedBy: 'approval link',
      decidedVia: 'web',
    });
    expect(Date.parse(stored?.decidedAt ?? '')).not.toBeNaN();
  });

  it('rejects on the POST from a reject link', async () => {
    const s = await start();
    const row = await addApproval(s.engine);

    const { page, decision } = await confirm(s, link(s, row, 'reject'));

    expect(page.body).toContain('Reject the plan for prod?');
    expect(decision.status).toBe(200);
    expect(decision.body).toContain(`Run ${row.runId} rejected.`);
    expect((await s.engine.stores.approvals.get(row.id))?.status).toBe('rejected');
  });

  it('refuses a replayed POST with 409 and leaves the decision as it was', async () => {
    const s = await start();
    const row = await addApproval(s.engine);
    const approve = linkFields(link(s, row, 'approve'));
    const url = `${s.base}/approvals/${row.id}`;
    expect((await post(url, approve)).status).toBe(200);
    const decided = await s.engine.stores.approvals.get(row.id);

    const replay = await post(url, approve);
    const reject = await post(url, linkFields(link(s, row, 'reject')));

    expect(replay.status).toBe(409);
    expect(replay.body).toContain('Decision refused');
    expect(reject.status).toBe(409);
    expect(await s.engine.stores.approvals.get(row.id)).toEqual(decided);
  });

  it('shows a decided approval without a form', async () => {
    const s = await start();
    const row = await addApproval(s.engine);
    await confirm(s, link(s, row, 'approve'));

    const page = await request(link(s, row, 'reject'));

    expect(page.status).toBe(200);
    expect(page.body).not.toContain('<form');
    expect(page.body).toContain('already approved');
  });

  it('refuses tampered links with 403 and changes nothing', async () => {
    const s = await start();
    const row = await addApproval(s.engine);
    const other = await addApproval(s.engine);
    const approveUrl = link(s, row, 'approve');
    const rejectUrl = link(s, row, 'reject');
    const rejectSig = new URL(rejectUrl).searchParams.get('sig') ?? '';
    const approveSig = new URL(approveUrl).searchParams.get('sig') ?? '';
    const tampered = {
      signature: withQuery(approveUrl, { sig: flipLast(approveSig) }),
      // The reject link's signature with the action switched to approve.
      action: withQuery(rejectUrl, { action: 'approve' }),
      // A valid link for one approval pointed at another.
      id: approveUrl.replace(`/approvals/${row.id}`, `/approvals/${other.id}`),
      expiry: withQuery(approveUrl, {
        expires: String(Number(new URL(approveUrl).searchParams.get('expires')) + 86400),
      }),
    };
    expect(rejectSig).not.toBe(approveSig);

    for (const url of Object.values(tampered)) {
      const page = await request(url);
      const fields = linkFields(url);
      const decision = await post(`${s.base}/approvals/${fields.id ?? ''}`, fields);

      expect([url, page.status]).toEqual([url, 403]);
      expect([url, decision.status]).toEqual([url, 403]);
      expect(decision.body).toContain('signature does not match');
    }
    // The POST ignores the form's id: the path names the approval being decided.
    const crossed = await post(`${s.base}/approvals/${other.id}`, linkFields(approveUrl));
    expect(crossed.status).toBe(403);
    expect(await s.engine.stores.approvals.get(row.id)).toEqual(row);
    expect(await s.engine.stores.approvals.get(other.id)).toEqual(other);
  });

  it('refuses an expired link with 410', async () => {
    const s = await start();
    const row = await addApproval(s.engine, { expiresAt: inSeconds(-60_000).toISOString() });
    const url = link(s, row, 'approve');

    const page = await request(url);
    const decision = await post(`${s.base}/approvals/${row.id}`, linkFields(url));

    expect(page.status).toBe(410);
    expect(page.body).toContain('expired');
    expect(decision.status).toBe(410);
    expect(await s.engine.stores.approvals.get(row.id)).toEqual(row);
  });

  it('refuses with 410 a live link to an approval that has itself expired', async () => {
    const s = await start();
    const row = await addApproval(s.engine, { expiresAt: inSeconds(-60_000).toISOString() });
    const url = link(s, row, 'approve', inSeconds(HOUR));

    const decision = await post(`${s.base}/approvals/${row.id}`, linkFields(url));

    expect(decision.status).toBe(410);
    expect(await s.engine.stores.approvals.get(row.id)).toEqual(row);
  });

  it('answers 409 and records nothing when the run no longer waits: its process died, or it ended', async () => {
    const s = await start();
    // A process that has exited: its pid is free (and, if reused, has another start time).
    const gone = spawnSync(process.execPath, ['-e', 'process.exit(0)']);
    const dead = await addApproval(s.engine, { runId: `20300101T000000Z-dead${gone.pid}` });
    s.engine.stores.runs.hold(dead.runId, {
      ...thisProcess(new Date()),
      pid: gone.pid,
      identity: '1',
    });
    const ended = await addApproval(s.engine);
    s.engine.stores.runs.finish(ended.runId, 'failed', new Date().toISOString(), 'E: x');

    const refusedDead = await post(
      `${s.base}/approvals/${dead.id}`,
      linkFields(link(s, dead, 'approve')),
    );
    const refusedEnded = await post(
      `${s.base}/approvals/${ended.id}`,
      linkFields(link(s, ended, 'reject')),
    );

    expect(refusedDead.status).toBe(409);
    expect(refusedDead.body).toContain('its process is gone');
    expect(refusedEnded.status).toBe(409);
    expect(refusedEnded.body).toContain('it ended failed');
    for (const row of [dead, ended])
      expect(await s.engine.stores.approvals.get(row.id)).toMatchObject({ status: 'pending' });
  });

  it('answers 404 for an unknown approval behind a valid signature', async () => {
    const s = await start();
    const ghost = { ...(await addApproval(s.engine)), id: newApprovalId() };
    const url = link(s, ghost, 'approve');

    expect((await request(url)).status).toBe(404);
    expect((await post(`${s.base}/approvals/${ghost.id}`, linkFields(url))).status).toBe(404);
    expect((await request(`${s.base}/nowhere`)).status).toBe(404);
  });

  it('refuses a bare link, on GET and POST, when an approver list is set', async () => {
    // A bare link carries no identity: with a list, only a per-approver link proves who
    // decides. The terminal's `stepform approve RUN_ID` is not affected.
    const s = await start({ approvers: ['alice'] });
    const row = await addApproval(s.engine);
    const url = link(s, row, 'approve');

    const page = await request(url);
    const decision = await post(`${s.base}/approvals/${row.id}`, linkFields(url));

    for (const reply of [page, decision]) {
      expect(reply.status).toBe(403);
      expect(reply.body).toContain('names no approver');
    }
    expect(await s.engine.stores.approvals.get(row.id)).toEqual(row);
  });

  it('decides as the approver a per-approver link was signed for', async () => {
    const s = await start({ approvers: ['alice', 'bob'] });
    const row = await addApproval(s.engine);

    const { page, decision } = await confirm(s, link(s, row, 'approve', undefined, 'alice'));

    expect(page.body).toContain('<dt>Deciding as</dt><dd>alice</dd>');
    expect(formOf(page.body).fields.approver).toBe('alice');
    expect(decision.status).toBe(200);
    expect(await s.engine.stores.approvals.get(row.id)).toMatchObject({
      status: 'approved',
      decidedBy: 'alice',
    });
  });

  it("refuses alice's link posted as bob, and a link for someone off the list", async () => {
    const s = await start({ approvers: ['alice', 'bob'] });
    const row = await addApproval(s.engine);
    const forged = { ...linkFields(link(s, row, 'approve', undefined, 'alice')), approver: 'bob' };
    const mallory = linkFields(link(s, row, 'approve', undefined, 'mallory'));

    const tampered = await post(`${s.base}/approvals/${row.id}`, forged);
    const unlisted = await post(`${s.base}/approvals/${row.id}`, mallory);

    expect(tampered.status).toBe(403);
    expect(tampered.body).toContain('signature does not match');
    expect(unlisted.status).toBe(403);
    expect(unlisted.body).toContain('mallory is not on the approver list');
    expect(await s.engine.stores.approvals.get(row.id)).toEqual(row);
  });

  it('sends a CSP, no-store and anti-framing headers on pages and refusals alike', async () => {
    const s = await start();
    const row = await addApproval(s.engine);
    const url = link(s, row, 'approve');

    const replies = [
      await request(url),
      await request(withQuery(url, { sig: flipLast(new URL(url).searchParams.get('sig') ?? '') })),
      await request(withQuery(url, { action: 'maybe' })),
      await post(`${s.base}/approvals/${row.id}`, linkFields(url)),
      await request(`${s.base}/`),
    ];

    for (const reply of replies) {
      const csp = reply.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("form-action 'self'");
      expect(reply.headers.get('cache-control')).toBe('no-store');
      expect(reply.headers.get('x-frame-options')).toBe('DENY');
      expect(reply.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });

  it('never sends the task token, whatever the request', async () => {
    const s = await start();
    const row = await addApproval(s.engine);
    const url = link(s, row, 'approve');

    const replies = [
      await request(url),
      await request(link(s, row, 'reject')),
      await request(withQuery(url, { sig: flipLast(new URL(url).searchParams.get('sig') ?? '') })),
      await post(`${s.base}/approvals/${row.id}`, linkFields(url)),
      await post(`${s.base}/approvals/${row.id}`, linkFields(url)),
      await request(url),
      await request(`${s.base}/`),
    ];

    expect(replies.map((r) => r.status)).toEqual([200, 200, 403, 200, 409, 200, 200]);
    for (const reply of replies) expect(reply.body).not.toContain(TASK_TOKEN);
  });

  it('lists runs on its index page, escaped', async () => {
    const s = await start();
    s.engine.stores.runs.create({
      runId: 'run-1',
      workflow: 'plan',
      environment: 'dev',
      projectDir: '<script>alert(1)</script>',
      repository: '/repo',
      commit: 'e'.repeat(40),
      startedAt: new Date().toISOString(),
    });

    const index = await request(`${s.base}/`);

    expect(index.status).toBe(200);
    expect(index.body).toContain('run-1');
    expect(index.body).not.toContain('<script>');
    expect(index.body).toContain('&lt;script&gt;');
  });
});
