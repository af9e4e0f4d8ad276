// Policy checks in the executor, with real OPA (built by set-up) on real plans of the hello
// example: a plan job with stepform.yaml's policies evaluates them after `show -json` and
// puts each set's result in result.json. A failed check is a result (the workflow decides
// what it stops); a policy that does not compile fails the job, naming its file and line.
// A job that plans and applies at once (an ephemeral environment's, a destroy) has no
// approval to stop at: a blocking set that fails stops it before its apply.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jobFactory, runExecutor } from '../support/executor.ts';
import { stateKey } from '../../core/contracts/job-input.ts';
import { HELLO_EXAMPLE, REPO_ROOT, type TestRepo, makeRepo } from '../support/repo.ts';

const PROJECT = 'stack';

/** Denies creating terraform_data in a protected environment; warns about time_static. */
const GUARDRAILS = readFileSync(
  join(REPO_ROOT, 'test', 'fixtures', 'policies', 'guardrails.rego'),
  'utf8',
);

/** A careless policy that prints a value the plan marks sensitive. */
const CARELESS = `package careless

import rego.v1

warn contains msg if {
	some rc in input.resource_changes
	rc.address == "terraform_data.secret_holder"
	msg := sprintf("holds %v", [rc.change.after.input])
}
`;

/** Denies destroying terraform_data in a protected environment. */
const KEEP = readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'policies', 'keep.rego'), 'utf8');

const SETS = [
  { name: 'guardrails', path: 'policy', on_failure: 'block', owners: ['alice'] },
  { name: 'careless', path: 'careless', on_failure: 'warn', owners: [], namespaces: ['careless'] },
];

let repo: TestRepo;
let commit: string;

beforeAll(async () => {
  repo = await makeRepo();
  await repo.commitDir(HELLO_EXAMPLE, PROJECT);
  commit = await repo.commitFiles(
    {
      'policy/guardrails.rego': GUARDRAILS,
      'careless/careless.rego': CARELESS,
      'keep/keep.rego': KEEP,
    },
    'policies',
  );
}, 60_000);

function checks(project: string, isProtected: boolean) {
  return { policyChecks: { sets: SETS, project, protected: isProtected } };
}

describe('policy checks in a plan job', () => {
  it('fails a blocking set in a protected environment, with each violation and its resource; the job still succeeds', async () => {
    const jobs = await jobFactory(repo.dir, PROJECT, 'prod');
    const ran = await runExecutor(jobs.job('plan', commit, checks('stack', true)));
    expect(ran.result?.error).toBeUndefined();
    expect(ran.exitCode).toBe(0);
    const [guardrails, careless] = ran.result?.policy ?? [];
    expect(guardrails).toEqual({
      policy: 'guardrails',
      project: 'stack',
      onFailure: 'block',
      passed: false,
      violations: expect.arrayContaining([
        {
          policy: 'guardrails',
          rule: 'deny',
          message: 'terraform_data.greeting may not be created in prod',
          resource: 'terraform_data.greeting',
        },
        {
          policy: 'guardrails',
          rule: 'warn',
          message: 'time_static.greeted_at: prefer terraform_data',
        },
      ]),
    });
    // A message that repeats a sensitive value shows it masked, like every other output.
    expect(careless?.passed).toBe(true);
    expect(careless?.violations).toHaveLength(1);
    expect(JSON.stringify(ran.result)).not.toContain('example-secret-value');
    const log = readFileSync(ran.result?.artifacts.log ?? '', 'utf8');
    expect(log).not.toContain('example-secret-value');
    expect(log).toContain('policy guardrails: failed');
  }, 120_000);

  it('passes the same plan where the environment is not protected, warnings kept', async () => {
    const jobs = await jobFactory(repo.dir, PROJECT, 'dev');
    const ran = await runExecutor(jobs.job('plan', commit, checks('stack', false)));
    expect(ran.exitCode).toBe(0);
    const [guardrails] = ran.result?.policy ?? [];
    expect(guardrails?.passed).toBe(true);
    expect(guardrails?.violations.map((v) => v.rule)).toEqual(['warn']);
  }, 120_000);

  it('fails the job on a policy that does not compile, naming its file and line', async () => {
    const broken = await repo.commitFiles(
      {
        'policy/broken.rego':
          'package main\n\nimport rego.v1\n\ndeny contains msg if {\n\tmsg := \n}\n',
      },
      'a broken policy',
    );
    const jobs = await jobFactory(repo.dir, PROJECT, 'dev');
    const ran = await runExecutor(jobs.job('plan', broken, checks('stack', false)));
    expect(ran.exitCode).toBe(1);
    expect(ran.result?.error).toMatchObject({
      name: 'PolicyInvalid',
      message: expect.stringMatching(/policy\/broken\.rego:\d+/),
    });
  }, 120_000);

  it('checks nothing in a job without policies', async () => {
    const jobs = await jobFactory(repo.dir, PROJECT, 'dev');
    const ran = await runExecutor(jobs.job('plan', commit));
    expect(ran.exitCode).toBe(0);
    expect(ran.result?.policy).toBeUndefined();
  }, 120_000);
});

describe('policy checks in a job that plans and applies at once', () => {
  /** The managed resources of the environment's state, or undefined before any apply. */
  function resources(stateDir: string, environment: string): string[] | undefined {
    const path = join(stateDir, stateKey(environment, PROJECT));
    if (!existsSync(path)) return undefined;
    const state = JSON.parse(readFileSync(path, 'utf8')) as {
      resources: { mode: string; type: string; name: string }[];
    };
    return state.resources
      .filter((r) => r.mode === 'managed')
      .map((r) => `${r.type}.${r.name}`)
      .sort();
  }

  it('an ephemeral environment’s plan-apply: a blocking set stops it before the apply, nothing created', async () => {
    const jobs = await jobFactory(repo.dir, PROJECT, 'preview');
    const ran = await runExecutor(jobs.job('plan-apply', commit, checks('stack', true)));
    expect(ran.exitCode).toBe(1);
    expect(ran.result?.error).toEqual({
      name: 'PolicyBlocked',
      message: 'policy checks failed, nothing was applied: blocked by guardrails',
    });
    expect(ran.result?.policy?.map((r) => [r.policy, r.passed])).toEqual([
      ['guardrails', false],
      ['careless', true],
    ]);
    expect(ran.result?.summary).toMatchObject({ add: 3 });
    expect(resources(jobs.stateDir, 'preview')).toEqual(undefined);

    // Where nothing blocks, the same job applies, its warnings kept.
    const open = await runExecutor(jobs.job('plan-apply', commit, checks('stack', false)));
    expect(open.exitCode).toBe(0);
    expect(open.result?.policy?.every((r) => r.passed)).toBe(true);
    expect(resources(jobs.stateDir, 'preview')).toHaveLength(3);
  }, 180_000);

  it('a destroy: a set that denies the destroy stops it before the apply, nothing destroyed', async () => {
    const keep = { name: 'keep', path: 'keep', on_failure: 'block', owners: [] };
    const jobs = await jobFactory(repo.dir, PROJECT, 'prod');
    expect((await runExecutor(jobs.job('plan-apply', commit))).exitCode).toBe(0);
    const created = resources(jobs.stateDir, 'prod');
    expect(created).toHaveLength(3);

    const policyChecks = (isProtected: boolean) => ({
      policyChecks: { sets: [keep], project: PROJECT, protected: isProtected },
    });
    const refused = await runExecutor(jobs.job('destroy', commit, policyChecks(true)));
    expect(refused.exitCode).toBe(1);
    expect(refused.result?.error?.name).toBe('PolicyBlocked');
    expect(refused.result?.policy?.[0]?.violations.map((v) => v.message).sort()).toEqual([
      'terraform_data.greeting may not be destroyed in prod',
      'terraform_data.secret_holder may not be destroyed in prod',
    ]);
    expect(resources(jobs.stateDir, 'prod')).toEqual(created);

    const destroyed = await runExecutor(jobs.job('destroy', commit, policyChecks(false)));
    expect(destroyed.exitCode).toBe(0);
    expect(resources(jobs.stateDir, 'prod')).toEqual([]);
  }, 180_000);
});
