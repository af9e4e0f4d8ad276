// `stepform show RUN_ID`: what a run's plan changes, attribute by attribute, from the diff the
// plan job wrote next to its plan, with real Terraform and the hello example (whose secret
// variable must never be shown).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  PROJECT,
  type Workspace,
  helloWorkspace,
  parseJson,
  startApplyAwaitingApproval,
  waitFor,
} from '../support/cli.ts';
import { link, request, startApprovalServer, stopServers } from '../support/approval-server.ts';

/** The hello example's secret (terraform/examples/hello, variable "secret"). */
const SECRET = 'example-secret-value';

let ws: Workspace;
let runId: string;

beforeAll(async () => {
  ws = await helloWorkspace();
  const planned = await ws.cli(['plan', '--dir', PROJECT, '--env', 'dev', '--json']);
  expect(planned.exitCode).toBe(0);
  runId = (parseJson(planned) as { runId: string }).runId;
});

afterAll(() => {
  ws.close();
});

describe('show', () => {
  it('prints each resource the plan creates, attribute by attribute, and no secret', async () => {
    const shown = await ws.cli(['show', runId]);
    expect(shown.exitCode).toBe(0);
    expect(shown.stdout).toContain('# terraform_data.greeting will be created');
    expect(shown.stdout).toContain('+ resource "terraform_data" "greeting" {');
    expect(shown.stdout).toContain('+ input  = "hello, world"');
    // The secret's resource is there, its value is not.
    expect(shown.stdout).toContain('+ resource "terraform_data" "secret_holder" {');
    expect(shown.stdout).toContain('(sensitive value)');
    expect(shown.stdout).toContain('Plan: 3 to add, 0 to change, 0 to destroy.');
    expect(`${shown.stdout}${shown.stderr}`).not.toContain(SECRET);
    // Piped: no colour.
    expect(shown.stdout).not.toContain('\u001b[');
    // The diff on disk holds no secret either.
    const diffFile = join(ws.home, 'artifacts', runId, 'plan', 'plan-diff.json');
    expect(existsSync(diffFile)).toBe(true);
  });

  it('gives the model with --json', async () => {
    const shown = await ws.cli(['show', runId, '--json']);
    expect(shown.exitCode).toBe(0);
    const json = parseJson(shown) as {
      runId: string;
      plans: {
        project: string | null;
        diff: { resources: { address: string; action: string }[] };
      }[];
    };
    expect(json.runId).toBe(runId);
    // A run of one project without stepform.yaml: named by its folder.
    expect(json.plans.map((p) => p.project)).toEqual([PROJECT]);
    expect(json.plans[0]?.diff.resources.map((r) => [r.address, r.action])).toEqual([
      ['terraform_data.greeting', 'create'],
      ['terraform_data.secret_holder', 'create'],
      ['time_static.greeted_at', 'create'],
    ]);
    expect(shown.stdout).not.toContain(SECRET);
  });

  it('is what an apply waiting for its approval prints before how to decide', async () => {
    const { cli, runId: waiting } = await startApplyAwaitingApproval(ws, 'qa');
    await waitFor(
      () => `the approval request printed; stderr so far:\n${cli.stderr()}`,
      () => (cli.stderr().includes('approval needed') ? true : undefined),
      60_000,
    );
    const stderr = cli.stderr();
    expect(stderr.indexOf('# terraform_data.greeting will be created')).toBeGreaterThan(-1);
    expect(stderr.indexOf('# terraform_data.greeting will be created')).toBeLessThan(
      stderr.indexOf('approval needed'),
    );
    expect(stderr).not.toContain(SECRET);
    expect((await ws.cli(['reject', waiting])).exitCode).toBe(0);
    expect((await cli.done).exitCode).toBe(1);
  });

  it('is on the approval page: an attribute’s old and new value, and no secret', async () => {
    const applied = await ws.cli(['apply', '--dir', PROJECT, '--env', 'page', '--auto-approve']);
    expect(applied.exitCode).toBe(0);
    // The next commit changes the greeting: one attribute updated, one resource replaced.
    const main = join(ws.repo.dir, PROJECT, 'main.tf');
    await writeFile(
      main,
      (await readFile(main, 'utf8')).replace('default     = "hello"', 'default     = "howdy"'),
    );
    await ws.git(['commit', '-qam', 'greet differently']);
    const { cli, runId: waiting } = await startApplyAwaitingApproval(ws, 'page');
    const approval = ws.store().approvals.forRun(waiting);
    if (approval === undefined) throw new Error('the run asked for no approval');
    const server = await startApprovalServer(undefined, ws.home);
    try {
      const page = await request(link(server, approval, 'approve'));
      expect(page.status).toBe(200);
      expect(page.body).toContain(`What the plan of <code>${PROJECT}</code> changes`);
      expect(page.body).toContain(
        '<tr class="plan-update"><td>~</td><td><code>input</code></td>' +
          '<td><code>&quot;hello, world&quot;</code></td><td><code>&quot;howdy, world&quot;</code></td></tr>',
      );
      expect(page.body).toContain('<code>time_static.greeted_at</code> must be replaced');
      expect(page.body).not.toContain(SECRET);
    } finally {
      await stopServers();
    }
    expect((await ws.cli(['reject', waiting])).exitCode).toBe(0);
    expect((await cli.done).exitCode).toBe(1);
  });

  it('refuses a project the run has no plan of, and a run that does not exist (exit 2)', async () => {
    const project = await ws.cli(['show', runId, '--project', 'nope']);
    expect(project.exitCode).toBe(2);
    expect(project.stderr).toContain(`--project: run ${runId} has no plan of nope`);
    const missing = await ws.cli(['show', '20990101T000000Z-000000']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('no run 20990101T000000Z-000000');
  });
});
