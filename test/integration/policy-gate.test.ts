// A blocking policy stops a run before its approval, on the local engine with real OPA and
// real Terraform: the hello example in a repository whose stepform.yaml has one policy set
// that denies creating terraform_data in a protected environment (prod) and warns about
// time_static everywhere. In prod the plan-apply ends `policy_failed` (exit 1) with nothing
// applied, no approval asked and the lock released; a pull request's plan ends the same way;
// in dev the same change applies, its warning kept in the job's result. What approvers and
// PR authors read shows the checks too: the PR comment (the run folder's pr-comment.md), the
// Slack messages (posted to a loopback webhook) and the approval page (the real server).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { RESULT_FILE, parseJobResult } from '../../core/contracts/job-result.ts';
import { STATUS_EVENT } from '../../core/contracts/status-event.ts';
import { parseAuditNote } from '../../core/audit.ts';
import {
  HELLO_RESOURCES,
  type RunningCli,
  type Workspace,
  helloWorkspace,
  parseJson,
  waitFor,
} from '../support/cli.ts';
import {
  type Started,
  link,
  request,
  startApprovalServer,
  stopServers,
} from '../support/approval-server.ts';
import { REPO_ROOT } from '../support/repo.ts';
import { OVERRIDDEN_APPLY_PHASES } from '../support/workflow-paths.ts';

/** stepform.yaml with the blocking set, owned by `owners` (none: nobody may override). */
const stepformYaml = (owners: string) => `version: 1
environments:
  dev: {}
  prod:
    protected: true
  staging:
    protected: true
projects:
  - name: stack
    dir: stack
policies:
  - name: guardrails
    path: policy
    on_failure: block
    owners: [${owners}]
`;

/** The same policy as the executor's tests (test/fixtures/policies/guardrails.rego). */
const GUARDRAILS = readFileSync(
  join(REPO_ROOT, 'test', 'fixtures', 'policies', 'guardrails.rego'),
  'utf8',
);

let ws: Workspace;
/** Every Slack message the runs posted, as the webhook received it. */
const slackPosts: { text: string; blocks: unknown[] }[] = [];
let slack: Server;

beforeAll(async () => {
  slack = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      slackPosts.push(JSON.parse(body) as { text: string; blocks: unknown[] });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => slack.listen(0, '127.0.0.1', resolve));
  const { port } = slack.address() as AddressInfo;
  ws = await helloWorkspace({ env: { SLACK_WEBHOOK_URL: `http://127.0.0.1:${port}/hook` } });
  await ws.repo.commitFiles(
    { 'stepform.yaml': stepformYaml(''), 'policy/guardrails.rego': GUARDRAILS },
    'stepform.yaml with a blocking policy nobody may override',
  );
}, 60_000);

afterAll(async () => {
  ws.close();
  await new Promise((resolve) => slack.close(resolve));
});

/** The PR comment the run's last notice wrote (locally: a file in the run's folder). */
function prComment(runId: string): string {
  return readFileSync(join(ws.home, 'runs', runId, 'pr-comment.md'), 'utf8');
}

/** The Slack message of a phase, by its header, as JSON text (the last one posted). */
function slackOf(phase: string): string {
  const posts = slackPosts.filter((post) =>
    JSON.stringify(post.blocks).includes(`Stepform: ${phase}`),
  );
  expect(posts.length).toBeGreaterThan(0);
  return JSON.stringify(posts.at(-1)?.blocks);
}

interface RunJson {
  runId: string;
  status: string;
  phase: string;
  error?: string | { name?: string; message?: string };
}

/** The plan job's result.json of a run of one project. */
function planResult(runId: string) {
  const path = join(ws.home, 'artifacts', runId, 'plan', RESULT_FILE);
  return parseJobResult(readFileSync(path, 'utf8'), path);
}

describe('a blocking policy', () => {
  it('stops a plan-apply before its approval: policy_failed, exit 1, nothing applied, lock released', async () => {
    const applied = await ws.cli(['apply', '--all', '--env', 'prod', '--auto-approve', '--json']);
    expect(applied.exitCode).toBe(1);
    const run = parseJson(applied) as RunJson;
    expect(run).toMatchObject({ status: 'failed', phase: 'policy_failed' });
    expect(JSON.stringify(run.error)).toContain('stack: blocked by guardrails (2 deny, 1 warn)');
    expect(ws.resources('prod')).toBeUndefined();
    expect(ws.store().approvals.forRun(run.runId)).toBeUndefined();
    expect(ws.store().locks.list()).toEqual([]);
    // What blocked it, violation by violation, in the plan job's result.
    const [guardrails] = planResult(run.runId).policy ?? [];
    expect(guardrails).toMatchObject({ policy: 'guardrails', passed: false, onFailure: 'block' });
    expect(guardrails?.violations).toContainEqual({
      policy: 'guardrails',
      rule: 'deny',
      message: 'terraform_data.greeting may not be created in prod',
      resource: 'terraform_data.greeting',
    });
    // The PR comment: each set's verdict and its violations, escaped.
    const comment = prComment(run.runId);
    expect(comment).toContain(
      '##### Policy checks\n\n- ⛔ `guardrails`: failed \\(blocks the run\\)\n',
    );
    expect(comment).toContain(
      '  - **deny** `terraform_data.greeting`: terraform\\_data\\.greeting may not be created in prod\n',
    );
    expect(comment).toContain(
      '  - **warn** time\\_static\\.greeted\\_at\\: prefer terraform\\_data',
    );
    // `show`: the plan's diff, then each set's verdict, as the run's end printed them.
    const shown = await ws.cli(['show', run.runId]);
    expect(shown.exitCode).toBe(0);
    expect(shown.stdout).toContain(
      '\npolicy checks:\n  policy guardrails on stack: failed (blocks the run)\n' +
        '    ✗ deny  terraform_data.greeting: terraform_data.greeting may not be created in prod\n',
    );
    // Slack: the set and its counts on the project's line, and what blocked the run.
    const message = slackOf('policy failed');
    expect(message).toContain(':no_entry: *Policy* `guardrails` failed, blocking (2 deny, 1 warn)');
    expect(message).toContain(
      '*Blocked by policy*: nothing was applied\\n• `guardrails` blocks *stack*',
    );
  }, 180_000);

  it('fails a pull request’s plan the same way, saying what blocks it on the terminal and in --json', async () => {
    const planned = await ws.cli(['plan', '--all', '--env', 'prod', '--json']);
    expect(planned.exitCode).toBe(1);
    expect(parseJson(planned)).toMatchObject({
      status: 'failed',
      phase: 'policy_failed',
      policy: {
        passed: false,
        violations: expect.arrayContaining([
          {
            policy: 'guardrails',
            rule: 'deny',
            message: 'terraform_data.secret_holder may not be created in prod',
            resource: 'terraform_data.secret_holder',
          },
        ]),
      },
    });

    const text = await ws.cli(['plan', '--all', '--env', 'prod']);
    expect(text.exitCode).toBe(1);
    expect(text.stdout).toMatch(/^run \S+: failed \(policy_failed\)/m);
    expect(text.stdout).toContain('  policy guardrails on stack: failed (blocks the run)\n');
    expect(text.stdout).toContain(
      '    ✗ deny  terraform_data.greeting: terraform_data.greeting may not be created in prod\n',
    );
    expect(text.stdout).toContain('    ! warn  time_static.greeted_at: prefer terraform_data\n');
    expect(text.stderr).toContain('PolicyBlocked');
  }, 180_000);

  it('shows the warning to whoever approves it: the approval page, the PR comment and Slack', async () => {
    const cli = ws.start(['apply', '--all', '--env', 'dev', '--json']);
    const runId = await waitFor(
      () => `an approval request in dev; stderr so far:\n${cli.stderr()}`,
      () => {
        const held = ws
          .store()
          .runs.running()
          .find((h) => h.run.environment === 'dev');
        return held && ws.store().approvals.forRun(held.run.runId)?.status === 'pending'
          ? held.run.runId
          : undefined;
      },
      120_000,
    );
    const approval = ws.store().approvals.forRun(runId);
    if (approval === undefined) throw new Error('the run asked for no approval');
    const server = await startApprovalServer(undefined, ws.home);
    try {
      const page = await request(link(server, approval, 'approve'));
      expect(page.status).toBe(200);
      expect(page.body).toContain(
        '<h2>Policy checks</h2>\n<h3>Policies on <code>stack</code></h3>',
      );
      expect(page.body).toContain('<li><code>guardrails</code>: <span>passed with warnings</span>');
      expect(page.body).toContain(
        '<li><strong>warn</strong> time_static.greeted_at: prefer terraform_data</li>',
      );
      expect(page.body.indexOf('<h2>Policy checks</h2>')).toBeLessThan(page.body.indexOf('<form'));
    } finally {
      await stopServers();
    }
    expect(prComment(runId)).toContain(
      '##### Policy checks\n\n- ⚠️ `guardrails`: passed with warnings\n' +
        '  - **warn** time\\_static\\.greeted\\_at\\: prefer terraform\\_data',
    );
    expect(slackOf('awaiting approval')).toContain(
      ':warning: *Policy* `guardrails` warned (0 deny, 1 warn)',
    );
    expect((await ws.cli(['reject', runId])).exitCode).toBe(0);
    expect((await cli.done).exitCode).toBe(1);
    expect(ws.resources('dev')).toBeUndefined();
  }, 180_000);

  it('lets the same change apply where it does not block, its warning kept', async () => {
    const applied = await ws.cli(['apply', '--all', '--env', 'dev', '--auto-approve', '--json']);
    expect(applied.exitCode).toBe(0);
    const run = parseJson(applied) as RunJson;
    expect(run).toMatchObject({ status: 'succeeded', phase: 'applied' });
    const [guardrails] = planResult(run.runId).policy ?? [];
    expect(guardrails).toMatchObject({ passed: true });
    expect(guardrails?.violations.map((v) => v.rule)).toEqual(['warn']);
  }, 180_000);
});

/** Waits until the run in `environment` waits for a decision of `kind`; its run id and record. */
async function waitingFor(ws: Workspace, running: RunningCli, environment: string, kind: string) {
  return waitFor(
    () => `a pending ${kind} in ${environment}\n${running.stderr()}`,
    () => {
      const store = ws.store();
      const run = store.runs.list(1000).find((r) => r.environment === environment);
      const approval = run && store.approvals.forRun(run.runId);
      // And the run has said how to decide it.
      const said = running
        .stderr()
        .includes(kind === 'plan' ? 'reject:  npx stepform' : 'refuse:   npx stepform');
      return run !== undefined &&
        approval?.status === 'pending' &&
        approval.subject?.kind === kind &&
        said
        ? { runId: run.runId, approval }
        : undefined;
    },
    120_000,
  );
}

describe('an owner’s override of a blocking policy', () => {
  // A workspace of its own, whose approval server is the only other opener of its store.
  let ws: Workspace;
  let server: Started;
  beforeAll(async () => {
    ws = await helloWorkspace();
    await ws.repo.commitFiles(
      { 'stepform.yaml': stepformYaml('alice, bob'), 'policy/guardrails.rego': GUARDRAILS },
      'alice and bob own the guardrails',
    );
    server = await startApprovalServer({}, ws.home);
  }, 60_000);
  afterAll(async () => {
    await stopServers();
    ws.close();
  });

  /** The path and query of an owner's link, as the run printed it to its terminal. */
  function ownLink(running: RunningCli, owner: string, action: 'override' | 'refuse'): string {
    const pattern = new RegExp(`as ${owner}: ${action} +(http://\\S+)`);
    const url = new URL(pattern.exec(running.stderr())?.[1] ?? 'http://missing/');
    return `${url.pathname}${url.search}`;
  }

  it('waits for an owner, who overrides with a reason on their page; the plans then need their own approval and apply', async () => {
    const running = ws.start([
      'apply',
      '--all',
      '--env',
      'prod',
      '--approval-timeout',
      '2m',
      '--json',
    ]);
    const { runId, approval } = await waitingFor(ws, running, 'prod', 'policy_override');
    expect(approval.subject?.policy).toEqual({
      blockedBy: ['guardrails'],
      owners: ['alice', 'bob'],
    });
    expect(running.stderr()).toContain('  blocked by guardrails: an owner may override');
    expect(running.stderr()).toContain(
      `    override: npx stepform approve ${runId} --by alice --reason "why"`,
    );
    expect(ws.resources('prod')).toBeUndefined();

    // Not an owner: refused, nothing recorded.
    const mallory = await ws.cli(['approve', runId, '--by', 'mallory', '--reason', 'trust me']);
    expect(mallory.exitCode).toBe(2);
    expect(mallory.stderr).toContain(
      'mallory may not override guardrails: only alice, bob may (the owners of every blocking policy)',
    );
    // An owner without a reason: refused too.
    const bare = await ws.cli(['approve', runId, '--by', 'alice']);
    expect(bare.exitCode).toBe(2);
    expect(bare.stderr).toContain('reason');
    expect(await ws.store().approvals.get(approval.id)).toMatchObject({ status: 'pending' });

    // Alice's own link: the page shows the plan and asks why; the POST without one is refused.
    const link = ownLink(running, 'alice', 'override');
    const page = await fetch(`${server.base}${link}`);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain('Approve overriding the policy on the plan for prod?');
    expect(html).toContain('<dt>Deciding as</dt><dd>alice</dd>');
    expect(html).toContain('What the plan of <code>stack</code> changes');
    expect(html).toContain('<textarea id="reason" name="reason" required');
    const query = new URL(link, server.base).searchParams;
    const form = (extra: Record<string, string>) =>
      fetch(`${server.base}/approvals/${approval.id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ id: approval.id, ...Object.fromEntries(query), ...extra }),
      });
    const refused = await form({ reason: '' });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('must say why the policy is overridden');
    const reason = 'incident 4711: the greeting must ship tonight';
    const overridden = await form({ reason });
    expect(overridden.status).toBe(200);
    expect(await overridden.text()).toContain(`Run ${runId} approved.`);

    // Overridden, the plans wait for their own approval: still nothing applied.
    const plan = await waitingFor(ws, running, 'prod', 'plan');
    expect(plan.runId).toBe(runId);
    expect(ws.resources('prod')).toBeUndefined();
    const approve = await ws.cli(['approve', runId, '--by', 'bob']);
    expect(approve.exitCode).toBe(0);

    const result = await running.done;
    if (result.exitCode !== 0)
      throw new Error(`apply exited ${result.exitCode}:\n${result.stderr}`);
    const decided = (await ws.store().approvals.get(approval.id))!;
    const override = { approvedBy: 'alice', decidedAt: decided.decidedAt, via: 'web', reason };
    expect(parseJson(result)).toMatchObject({
      runId,
      status: 'succeeded',
      phase: 'applied',
      policy: { passed: false, override },
    });
    expect(ws.resources('prod')).toEqual(HELLO_RESOURCES);
    expect(ws.store().locks.list()).toEqual([]);

    // Who overrode, when, where and why: in the events, the note and the terminal.
    const events = ws
      .store()
      .outbox.list(runId)
      .map((o) => STATUS_EVENT.parse(o.body));
    expect(events.map((e) => e.phase)).toEqual(OVERRIDDEN_APPLY_PHASES);
    const overriddenEvent = events.find((e) => e.phase === 'policy_overridden');
    expect(overriddenEvent?.actor).toEqual({
      name: 'alice',
      at: decided.decidedAt,
      channel: 'web',
      reason,
    });
    expect(overriddenEvent?.message).toBe(
      `Policy overridden by alice via the approval page at ${decided.decidedAt}: “${reason}”`,
    );
    expect(events.find((e) => e.phase === 'applied')?.actor).toMatchObject({ name: 'bob' });
    const note = await ws.git(['notes', '--ref=refs/notes/stepform', 'show', 'HEAD']);
    expect(parseAuditNote(note).find((block) => block['stepform-run'] === runId)).toMatchObject({
      'approved-by': 'bob',
      'policy-override': 'overridden',
      'override-by': 'alice',
      'override-via': 'web',
      'override-reason': reason,
    });
    const text = await ws.cli(['logs', runId]);
    expect(text.stdout).toContain('policy_overridden');
  }, 300_000);
});

describe('an owner’s refusal of an override', () => {
  // A workspace of its own: the run waits alone for its decision.
  let own: Workspace;
  beforeAll(async () => {
    own = await helloWorkspace();
    await own.repo.commitFiles(
      { 'stepform.yaml': stepformYaml('alice, bob'), 'policy/guardrails.rego': GUARDRAILS },
      'alice and bob own the guardrails',
    );
  }, 60_000);
  afterAll(() => own.close());

  it('refused by an owner, the run ends blocked: policy_failed, exit 1, nothing applied, lock released', async () => {
    const running = own.start([
      'apply',
      '--all',
      '--env',
      'staging',
      '--approval-timeout',
      '2m',
      '--json',
    ]);
    const { runId } = await waitingFor(own, running, 'staging', 'policy_override');
    const refuse = await own.cli(['reject', runId, '--by', 'bob', '--reason', 'not in staging']);
    expect(refuse.exitCode).toBe(0);
    const result = await running.done;
    expect(result.exitCode).toBe(1);
    const run = parseJson(result) as RunJson;
    expect(run).toMatchObject({ status: 'failed', phase: 'policy_failed' });
    expect(JSON.stringify(run.error)).toContain('PolicyBlocked');
    expect(own.resources('staging')).toBeUndefined();
    expect(own.store().locks.list()).toEqual([]);
    const phases = own
      .store()
      .outbox.list(runId)
      .map((o) => STATUS_EVENT.parse(o.body));
    expect(phases.map((e) => e.phase)).toEqual([
      'started',
      'awaiting_policy_override',
      'policy_failed',
    ]);
    expect(phases.at(-1)?.actor).toMatchObject({ name: 'bob', reason: 'not in staging' });
    const note = await own.git(['notes', '--ref=refs/notes/stepform', 'show', 'HEAD']);
    expect(parseAuditNote(note).find((block) => block['stepform-run'] === runId)).toMatchObject({
      'policy-override': 'refused',
      'override-by': 'bob',
      'override-reason': 'not in staging',
    });
  }, 300_000);
});
