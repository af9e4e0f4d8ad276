// Policy checks with the real OPA (the pinned build set-up compiles) on plan JSON: the example
// policies of terraform/policies/ on the golden plans real Terraform wrote
// (test/fixtures/plans/), and on hand-written AWS plans (test/fixtures/policy-plans/).
// There is no AWS provider here, so those are written by hand in the exact shape of
// `terraform show -json` (format 1.2: resource_changes with change.actions/before/after).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PolicyConfig, parseConfig } from '../../core/config/stepform-config.ts';
import {
  JobInterrupted,
  PolicyEvaluationFailed,
  PolicyInvalid,
  ToolchainMissing,
} from '../../core/errors.ts';
import { type PolicyData, policyOutcome } from '../../core/policy.ts';
import { type Opa, resolveOpa } from '../../toolchain/opa.ts';
import { REPO_ROOT } from '../../toolchain/paths.ts';
import { run } from '../../toolchain/process.ts';
import { rejection } from '../../test/support/caught.ts';
import { type PolicyCheck, evaluatePolicies, opaEvalArgs } from './policy.ts';

const COMMIT = 'c0ffee'.padEnd(40, '0');
const PROD: PolicyData = { environment: 'prod', project: 'app', commit: COMMIT, protected: true };
const DEV: PolicyData = { ...PROD, environment: 'dev', protected: false };

/** The golden plans Terraform wrote, and the hand-written AWS ones. */
const goldenPlan = (name: string) =>
  join(REPO_ROOT, 'test', 'fixtures', 'plans', name, 'plan.json');
const awsPlan = (name: string) =>
  join(REPO_ROOT, 'test', 'fixtures', 'policy-plans', `${name}.json`);

/** The policy sets as stepform.yaml declares them (parsed, so with its defaults). */
function policies(yaml: string): PolicyConfig[] {
  return parseConfig(`version: 1\nprojects: [{ name: app, dir: . }]\npolicies:\n${yaml}`).policies;
}

const EXAMPLES = policies(`
  - name: guardrails
    path: terraform/policies
    on_failure: block
    owners: [alice]
    namespaces: [main, tags]
`);

let opa: Opa;
let workDir: string;
/** Every folder the tests make, removed at the end. */
const made: string[] = [];
const scratch = async (prefix: string): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), `stepform-${prefix}-`));
  made.push(dir);
  return dir;
};

beforeAll(async () => {
  opa = await resolveOpa(process.env);
  workDir = await scratch('policy');
});

afterAll(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

function check(overrides: Partial<PolicyCheck>): PolicyCheck {
  return {
    opa: opa.path,
    checkout: REPO_ROOT,
    policies: EXAMPLES,
    planJsonFile: goldenPlan('create'),
    data: PROD,
    workDir,
    ...overrides,
  };
}

/** A throwaway repository holding `files` (path → text). */
async function repository(files: Record<string, string>): Promise<string> {
  const root = await scratch('policy-repo');
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  }
  return root;
}

describe('the example policies (terraform/policies) as OPA reads them', () => {
  it('compile in strict mode and are formatted as opa fmt formats them', async () => {
    const folder = join(REPO_ROOT, 'terraform', 'policies');
    const strict = await run(opa.path, ['check', '--strict', folder]);
    expect({ exitCode: strict.exitCode, output: strict.stdout + strict.stderr }).toEqual({
      exitCode: 0,
      output: '',
    });
    const format = await run(opa.path, ['fmt', '--list', folder]);
    expect({ exitCode: format.exitCode, unformatted: format.stdout }).toEqual({
      exitCode: 0,
      unformatted: '',
    });
  });
});

describe('the example policies (terraform/policies) on real plans', () => {
  it('pass a plan that only creates', async () => {
    const results = await evaluatePolicies(check({ planJsonFile: goldenPlan('create') }));
    expect(results).toEqual([
      { policy: 'guardrails', project: 'app', onFailure: 'block', passed: true, violations: [] },
    ]);
    expect(policyOutcome(results)).toEqual({ outcome: 'passed' });
  });

  it('deny a replace of terraform_data and time_static in a protected environment', async () => {
    const results = await evaluatePolicies(check({ planJsonFile: goldenPlan('replace') }));
    expect(results[0]?.violations).toEqual([
      {
        policy: 'guardrails',
        rule: 'deny',
        message: 'terraform_data.db would be replaced in protected environment prod',
        resource: 'terraform_data.db',
      },
      {
        policy: 'guardrails',
        rule: 'deny',
        message: 'time_static.rotated would be replaced in protected environment prod',
        resource: 'time_static.rotated',
      },
    ]);
    expect(results[0]?.passed).toBe(false);
    expect(policyOutcome(results)).toEqual({ outcome: 'blocked', blockedBy: ['guardrails'] });
  });

  it('only warn about the same destroys where the environment is not protected', async () => {
    const results = await evaluatePolicies(
      check({ planJsonFile: goldenPlan('delete'), data: DEV }),
    );
    expect(results[0]).toMatchObject({
      passed: true,
      violations: [
        {
          rule: 'warn',
          message: 'terraform_data.gone would be destroyed',
          resource: 'terraform_data.gone',
        },
      ],
    });
    expect(policyOutcome(results)).toEqual({ outcome: 'warned' });
  });

  it('deny a public bucket: its ACL, its public access block and its missing tag', async () => {
    const [result] = await evaluatePolicies(check({ planJsonFile: awsPlan('aws-public-bucket') }));
    expect(result?.violations.map(({ rule, resource }) => `${rule} ${resource}`)).toEqual([
      'deny aws_s3_bucket_acl.site',
      'deny aws_s3_bucket_public_access_block.site',
      'deny aws_s3_bucket.site',
    ]);
    expect(result?.violations.map((v) => v.message)).toEqual([
      'aws_s3_bucket_acl.site makes a bucket public-read',
      'aws_s3_bucket_public_access_block.site sets block_public_policy to false: the bucket may become public',
      'aws_s3_bucket.site is missing the required tags: cost-center',
    ]);
  });

  it('pass a private, tagged bucket', async () => {
    const [result] = await evaluatePolicies(check({ planJsonFile: awsPlan('aws-private-bucket') }));
    expect(result).toMatchObject({ passed: true, violations: [] });
  });

  it('deny destroying a database in prod and an untagged bucket', async () => {
    const [result] = await evaluatePolicies(check({ planJsonFile: awsPlan('aws-destroy-db') }));
    expect(result?.violations.map((v) => v.message)).toEqual([
      'aws_db_instance.orders would be destroyed in protected environment prod',
      'aws_s3_bucket.scratch is missing the required tags: owner, cost-center',
    ]);
  });

  it('report a warn set that denies without failing the run', async () => {
    const advisory = policies(`
  - name: advisory
    path: terraform/policies
    on_failure: warn
`);
    const results = await evaluatePolicies(
      check({ policies: advisory, planJsonFile: goldenPlan('replace') }),
    );
    expect(results[0]).toMatchObject({ policy: 'advisory', onFailure: 'warn', passed: false });
    expect(results[0]?.violations).toHaveLength(2);
    expect(policyOutcome(results)).toEqual({ outcome: 'warned' });
  });

  it('leave a namespace the set does not name unasked (tags, here)', async () => {
    const mainOnly = policies('  - { name: main-only, path: terraform/policies }\n');
    const [result] = await evaluatePolicies(
      check({ policies: mainOnly, planJsonFile: awsPlan('aws-destroy-db') }),
    );
    expect(result?.violations.map((v) => v.resource)).toEqual(['aws_db_instance.orders']);
  });
});

describe('conftest conventions, on real OPA', () => {
  it('reads deny[msg], plain strings and a named namespace, with the run as data', async () => {
    const root = await repository({
      'policy/guard.rego': [
        'package terraform.guard',
        '',
        'deny[msg] if {',
        '\tsome change in input.resource_changes',
        '\t"delete" in change.change.actions',
        '\tmsg := sprintf("%s goes in %s at %s", [change.address, data.stepform.environment, substring(data.stepform.commit, 0, 6)])',
        '}',
        '',
        'warn contains "project app is watched" if data.stepform.project == "app"',
        '',
      ].join('\n'),
    });
    const sets = policies(
      '  - { name: guard, path: policy, namespaces: [terraform.guard], on_failure: warn }\n',
    );
    const [result] = await evaluatePolicies(
      check({ checkout: root, policies: sets, planJsonFile: goldenPlan('delete') }),
    );
    expect(result?.violations).toEqual([
      { policy: 'guard', rule: 'deny', message: 'terraform_data.gone goes in prod at c0ffee' },
      { policy: 'guard', rule: 'warn', message: 'project app is watched' },
    ]);
  });

  it('masks what the messages quote', async () => {
    const [result] = await evaluatePolicies(
      check({
        planJsonFile: goldenPlan('replace'),
        mask: (text) => text.replaceAll('terraform_data.db', '(sensitive value)'),
      }),
    );
    expect(result?.violations[0]).toMatchObject({
      message: '(sensitive value) would be replaced in protected environment prod',
      resource: '(sensitive value)',
    });
  });
});

describe('what cannot be evaluated', () => {
  it('names the Rego file, relative to the repository, and the line that does not compile', async () => {
    const root = await repository({
      'policy/ok.rego': 'package main\n\nwarn contains "fine" if true\n',
      'policy/rules/bad.rego': 'package main\n\ndeny contains msg if {\n\tmsg := unknown_var\n}\n',
    });
    const error = await rejection(
      evaluatePolicies(
        check({ checkout: root, policies: policies('  - { name: broken, path: policy }\n') }),
      ),
    );
    expect(error).toBeInstanceOf(PolicyInvalid);
    expect(error).toMatchObject({ name: 'PolicyInvalid', file: 'policy/rules/bad.rego', line: 4 });
    expect((error as Error).message).toBe(
      'policy broken: OPA refused it:\npolicy/rules/bad.rego:4: rego_unsafe_var_error: var unknown_var is unsafe',
    );
  });

  it('names the line of a syntax error', async () => {
    const root = await repository({ 'p/syntax.rego': 'package main\n\ndeny contains msg if {\n' });
    const error = await rejection(
      evaluatePolicies(check({ checkout: root, policies: policies('  - { name: s, path: p }\n') })),
    );
    expect(error).toMatchObject({ name: 'PolicyInvalid', file: 'p/syntax.rego' });
    expect((error as Error).message).toMatch(/\np\/syntax\.rego:\d+: rego_parse_error: /);
  });

  it('refuses an empty policy folder, a missing one, and one outside the repository', async () => {
    const root = await repository({ 'empty/README.md': 'no policy yet\n' });
    await symlink(tmpdir(), join(root, 'outside'));
    const sets = policies(`
  - { name: empty, path: empty }
  - { name: missing, path: nowhere }
  - { name: outside, path: outside }
`);
    const messages = [];
    for (const set of sets) {
      const error = await rejection(evaluatePolicies(check({ checkout: root, policies: [set] })));
      expect(error).toBeInstanceOf(PolicyInvalid);
      messages.push((error as Error).message);
    }
    expect(messages).toEqual([
      'policy empty: empty holds no .rego file',
      'policy missing: nowhere does not exist at this commit',
      'policy outside: outside resolves outside the repository',
    ]);
  });

  it('says OPA is missing with a ToolchainMissing naming the path', async () => {
    const error = await rejection(evaluatePolicies(check({ opa: '/nonexistent/bin/opa' })));
    expect(error).toBeInstanceOf(ToolchainMissing);
    expect((error as Error).message).toMatch(
      /^OPA cannot be run at \/nonexistent\/bin\/opa \(ENOENT\)/,
    );
    const unresolved = await rejection(resolveOpa({ STEPFORM_OPA: '/nonexistent/bin/opa' }));
    expect(unresolved).toBeInstanceOf(ToolchainMissing);
    expect((unresolved as Error).message).toMatch(/\/nonexistent\/bin\/opa could not be run/);
    const nothing = await rejection(
      resolveOpa({ PATH: '', STEPFORM_CACHE_DIR: join(workDir, 'no-cache') }),
    );
    expect((nothing as Error).message).toMatch(/no OPA 1\.22\.4 built yet .*; no opa on PATH/);
  });

  it('stops OPA at the time limit, and when the job is stopped', async () => {
    const late = await rejection(evaluatePolicies(check({ timeoutMs: 1 })));
    expect(late).toBeInstanceOf(PolicyEvaluationFailed);
    expect((late as Error).message).toBe('opa eval data.main.deny did not finish within 0.001 s');
    const stopped = await rejection(evaluatePolicies(check({ signal: AbortSignal.abort() })));
    expect(stopped).toBeInstanceOf(JobInterrupted);
  });

  it('refuses run data that is not a run, naming the field', async () => {
    const error = await rejection(evaluatePolicies(check({ data: { ...PROD, commit: 'HEAD' } })));
    expect((error as Error).message).toMatch(/^policy\.data\.commit: /);
  });
});

describe('opaEvalArgs', () => {
  it('passes policies and run data as data, the plan as input, and one query', async () => {
    await evaluatePolicies(check({}));
    expect(
      opaEvalArgs('/repo/policy', '/work/data.json', '/work/plan.json', {
        namespace: 'main',
        rule: 'deny',
        text: 'data.main.deny',
      }),
    ).toEqual([
      'eval',
      '--format',
      'json',
      '--data',
      '/repo/policy',
      '--data',
      '/work/data.json',
      '--input',
      '/work/plan.json',
      'data.main.deny',
    ]);
    // The data document the checks wrote is the run's, under data.stepform.
    expect(JSON.parse(await readFile(join(workDir, 'stepform-policy-data.json'), 'utf8'))).toEqual({
      stepform: PROD,
    });
  });
});
