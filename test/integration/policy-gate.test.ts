// A blocking policy stops a run before its approval, on the local engine with real OPA and
// real Terraform: the hello example in a repository whose stepform.yaml has one policy set
// that denies creating terraform_data in a protected environment (prod) and warns about
// time_static everywhere. In prod the plan-apply ends `policy_failed` (exit 1) with nothing
// applied, no approval asked and the lock released; a pull request's plan ends the same way;
// in dev the same change applies, its warning kept in the job's result.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULT_FILE, parseJobResult } from '../../core/contracts/job-result.ts';
import { type Workspace, helloWorkspace, parseJson } from '../support/cli.ts';
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

beforeAll(async () => {
  ws = await helloWorkspace();
  await ws.repo.commitFiles(
    { 'stepform.yaml': STEPFORM_YAML, 'policy/guardrails.rego': GUARDRAILS },
    'stepform.yaml with a blocking policy',
  );
}, 60_000);

afterAll(() => ws.close());

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
