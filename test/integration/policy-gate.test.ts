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
import { link, request, startApprovalServer, stopServers } from '../support/approval-server.ts';
import { type Workspace, helloWorkspace, parseJson, waitFor } from '../support/cli.ts';
import { REPO_ROOT } from '../support/repo.ts';

const STEPFORM_YAML = `version: 1
environments:
  dev: {}
  prod:
    protected: true
projects:
  - name: stack
    dir: stack
policies:
  - name: guardrails
    path: policy
    on_failure: block
    owners: [alice]
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
    { 'stepform.yaml': STEPFORM_YAML, 'policy/guardrails.rego': GUARDRAILS },
    'stepform.yaml with a blocking policy',
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
