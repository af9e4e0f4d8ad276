// The executor against real OpenTofu/Terraform, run as a child process in fresh checkouts.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HELLO_EXAMPLE, REPO_ROOT, type TestRepo, makeRepo } from '../support/repo.ts';
import { engineCalls, jobFactory, runExecutor } from '../support/executor.ts';

const PROJECT = 'stacks/hello';

async function helloRepo(): Promise<{ repo: TestRepo; commit: string }> {
  const repo = await makeRepo();
  const commit = await repo.commitDir(HELLO_EXAMPLE, PROJECT, 'add hello');
  return { repo, commit };
}

async function readState(
  stateDir: string,
): Promise<{ serial: number; lineage: string } | undefined> {
  const path = join(stateDir, 'dev', encodeURIComponent(PROJECT), 'terraform.tfstate');
  if (!existsSync(path)) return undefined;
  const state = JSON.parse(await readFile(path, 'utf8')) as { serial: number; lineage: string };
  return { serial: state.serial, lineage: state.lineage };
}

describe('plan and apply', () => {
  let repo: TestRepo;
  let commit: string;
  beforeAll(async () => {
    ({ repo, commit } = await helloRepo());
  });

  it('plans the adds on an empty state, applies exactly that plan, then plans no changes', async () => {
    const jobs = await jobFactory(repo.dir, PROJECT);
    const planJob = jobs.job('plan', commit);
    const plan = await runExecutor(planJob);
    expect(plan.exitCode).toBe(0);
    const planned = plan.result!;
    expect(planned.status).toBe('succeeded');
    expect(planned.hasChanges).toBe(true);
    expect(planned.stateBefore).toBeNull();
    expect(planned.summary).toMatchObject({ add: 3, change: 0, destroy: 0, replace: 0, import: 0 });
    expect(planned.summary!.resources.map((r) => [r.address, r.action])).toEqual([
      ['terraform_data.greeting', 'create'],
      ['terraform_data.secret_holder', 'create'],
      ['time_static.greeted_at', 'create'],
    ]);
    expect(planned.summary!.outputs.find((o) => o.name === 'secret')).toEqual({
      name: 'secret',
      action: 'create',
      sensitive: true,
      value: '(sensitive value)',
    });
    const metadata = JSON.parse(await readFile(planned.plan!.metadataPath, 'utf8')) as Record<
      string,
      unknown
    >;
    expect(metadata).toMatchObject({
      commit,
      environment: 'dev',
      projectDir: PROJECT,
      sha256: planned.plan!.sha256,
    });
    expect(await readState(jobs.stateDir)).toBeUndefined();

    const apply = await runExecutor(
      jobs.job('apply', commit, {
        plan: { dir: planJob.artifactsDir, sha256: planned.plan!.sha256 },
      }),
    );
    expect(apply.exitCode).toBe(0);
    expect(apply.result).toMatchObject({
      status: 'succeeded',
      applied: true,
      stateBefore: null,
      stateChanged: true,
    });
    expect(apply.result!.outputs).toMatchObject({
      greeting: { sensitive: false, value: 'hello, world' },
      secret: { sensitive: true, value: '(sensitive value)' },
    });
    expect(apply.result!.outputs!.greeted_at!.value).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(apply.result!.stateAfter).toEqual(await readState(jobs.stateDir));

    const again = await runExecutor(jobs.job('plan', commit));
    expect(again.result).toMatchObject({ status: 'succeeded', hasChanges: false });
    expect(planned.stateChanged).toBeUndefined();
    expect(again.result!.summary).toMatchObject({ add: 0, change: 0, destroy: 0, resources: [] });
  });

  it('reads a local state from its file once there is one: no `state pull`, no `output -json`', async () => {
    const local = await helloRepo();
    const jobs = await jobFactory(local.repo.dir, PROJECT);
    const first = await runExecutor(jobs.job('plan-apply', local.commit));
    expect(first.result).toMatchObject({ status: 'succeeded', stateBefore: null });
    // No file yet: the engine is asked once, before the plan; after the apply the file is read.
    expect(await engineCalls(first, 'state pull')).toBe(1);
    expect(first.result!.stateAfter).toEqual(await readState(jobs.stateDir));

    const main = await readFile(join(local.repo.dir, PROJECT, 'main.tf'), 'utf8');
    const changed = await local.repo.commitFiles({
      [`${PROJECT}/main.tf`]: main.replace('default     = "hello"', 'default     = "hola"'),
    });
    const second = await runExecutor(jobs.job('plan-apply', changed));
    expect(second.result).toMatchObject({
      status: 'succeeded',
      stateBefore: first.result!.stateAfter,
      stateChanged: true,
    });
    expect(second.result!.stateAfter).toEqual(await readState(jobs.stateDir));
    expect(second.result!.stateAfter!.serial).toBeGreaterThan(first.result!.stateAfter!.serial);
    // The outputs come from the state the apply wrote, sensitive ones masked.
    expect(second.result!.outputs).toMatchObject({
      greeting: { sensitive: false, value: 'hola, world' },
      secret: { sensitive: true, value: '(sensitive value)' },
    });
    for (const ran of [first, second]) expect(await engineCalls(ran, 'output')).toBe(0);
    expect(await engineCalls(second, 'state pull')).toBe(0);
    expect(second.result!.timings.stateRead).toEqual(expect.any(Number));
  });

  it('reports an update and a replace when the configuration changes, and destroys everything', async () => {
    const local = await helloRepo();
    const jobs = await jobFactory(local.repo.dir, PROJECT);
    expect((await runExecutor(jobs.job('plan-apply', local.commit))).exitCode).toBe(0);
    const main = await readFile(join(local.repo.dir, PROJECT, 'main.tf'), 'utf8');
    const changed = await local.repo.commitFiles({
      [`${PROJECT}/main.tf`]: main.replace('default     = "hello"', 'default     = "bonjour"'),
    });
    const plan = await runExecutor(jobs.job('plan', changed));
    expect(plan.result!.summary).toMatchObject({ add: 1, change: 1, destroy: 1, replace: 1 });
    expect(plan.result!.summary!.resources).toEqual([
      { address: 'terraform_data.greeting', action: 'update', importing: false },
      { address: 'time_static.greeted_at', action: 'replace', importing: false },
    ]);

    const destroy = await runExecutor(jobs.job('destroy', changed));
    expect(destroy.exitCode).toBe(0);
    expect(destroy.result).toMatchObject({ status: 'succeeded', applied: true, hasChanges: true });
    expect(destroy.result!.summary).toMatchObject({ add: 0, destroy: 3 });
    const list = await runExecutor(jobs.job('command', changed, { args: ['state', 'list'] }));
    expect(list.result!.command!.output.trim()).toBe('');
  });
});

describe('a saved plan is applied only when it is exactly the approved one', () => {
  let repo: TestRepo;
  let commit: string;
  beforeAll(async () => {
    ({ repo, commit } = await helloRepo());
  });

  async function planned(jobs: Awaited<ReturnType<typeof jobFactory>>, at = commit) {
    const job = jobs.job('plan', at);
    const ran = await runExecutor(job);
    expect(ran.exitCode).toBe(0);
    return { dir: job.artifactsDir, sha256: ran.result!.plan!.sha256 };
  }

  it('refuses a stale plan: the state changed after it was made', async () => {
    const jobs = await jobFactory(repo.dir, PROJECT);
    await runExecutor(jobs.job('plan-apply', commit));
    const main = await readFile(join(repo.dir, PROJECT, 'main.tf'), 'utf8');
    const changed = await repo.commitFiles({
      [`${PROJECT}/main.tf`]: main.replace('default     = "hello"', 'default     = "hi"'),
    });
    const stale = await planned(jobs, changed);
    const newer = await planned(jobs, changed);
    const applyNewer = await runExecutor(jobs.job('apply', changed, { plan: newer }));
    expect(applyNewer.exitCode).toBe(0);
    const before = await readState(jobs.stateDir);

    const applyStale = await runExecutor(jobs.job('apply', changed, { plan: stale }));
    expect(applyStale.exitCode).toBe(1);
    expect(applyStale.result!.error!.name).toBe('StalePlan');
    expect(applyStale.result!.applied).toBeUndefined();
    // Refused before anything changed: nothing for the workflow to roll back.
    expect(applyStale.result!.stateChanged).toBe(false);
    expect(await readState(jobs.stateDir)).toEqual(before);
  });

  it('refuses the second of two plans made from an empty state (hashicorp/terraform#24078)', async () => {
    const jobs = await jobFactory(repo.dir, PROJECT);
    const first = await planned(jobs);
    const second = await planned(jobs);
    expect((await runExecutor(jobs.job('apply', commit, { plan: first }))).exitCode).toBe(0);
    const before = await readState(jobs.stateDir);

    const applySecond = await runExecutor(jobs.job('apply', commit, { plan: second }));
    expect(applySecond.exitCode).toBe(1);
    expect(applySecond.result!.error!.name).toBe('StalePlan');
    expect(applySecond.result!.error!.message).toContain('no state (empty)');
    expect(await readState(jobs.stateDir)).toEqual(before);
  });

  it('refuses a plan file changed after review, before checking anything out', async () => {
    const jobs = await jobFactory(repo.dir, PROJECT);
    const plan = await planned(jobs);
    const path = join(plan.dir, 'plan.tfplan');
    const bytes = await readFile(path);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10]! + 1) % 256;
    await writeFile(path, bytes);

    const apply = await runExecutor(jobs.job('apply', commit, { plan }));
    expect(apply.exitCode).toBe(1);
    expect(apply.result!.error!.name).toBe('PlanDigestMismatch');
    expect(apply.result!.stateChanged).toBe(false);
    expect(apply.result!.timings.checkout).toBeUndefined();
    expect(await readState(jobs.stateDir)).toBeUndefined();
  });

  it('refuses an approved digest that is not the plan on disk', async () => {
    const jobs = await jobFactory(repo.dir, PROJECT);
    const plan = await planned(jobs);
    const apply = await runExecutor(
      jobs.job('apply', commit, { plan: { ...plan, sha256: 'a'.repeat(64) } }),
    );
    expect(apply.result!.error!.name).toBe('PlanDigestMismatch');
    expect(await readState(jobs.stateDir)).toBeUndefined();
  });

  it('refuses a plan made from another commit', async () => {
    const jobs = await jobFactory(repo.dir, PROJECT);
    const plan = await planned(jobs);
    const other = await repo.commitFiles({ 'README.md': 'another commit\n' });
    const apply = await runExecutor(jobs.job('apply', other, { plan }));
    expect(apply.exitCode).toBe(1);
    expect(apply.result!.error!.name).toBe('ForeignPlan');
    expect(apply.result!.stateChanged).toBe(false);
    expect(apply.result!.error!.message).toContain(`commit ${commit}, not ${other}`);
    expect(await readState(jobs.stateDir)).toBeUndefined();
  });

  it('refuses a plan made for another environment', async () => {
    const jobs = await jobFactory(repo.dir, PROJECT);
    const plan = await planned(jobs);
    const job = { ...jobs.job('apply', commit, { plan }), environment: 'prod' };
    const apply = await runExecutor(job);
    expect(apply.result!.error!.name).toBe('ForeignPlan');
    expect(apply.result!.error!.message).toContain('environment dev, not prod');
  });
});

describe('secrets', () => {
  it('never shows a sensitive value in the result, the logs, the plan text or stdout', async () => {
    const canary = 'CANARY-7f3a9c1e-do-not-print';
    const { repo, commit } = await helloRepo();
    const jobs = await jobFactory(repo.dir, PROJECT);
    const env = { TF_VAR_secret: canary };
    const runs = [
      await runExecutor(jobs.job('plan', commit), env),
      await runExecutor(jobs.job('plan-apply', commit), env),
      await runExecutor(jobs.job('command', commit, { args: ['output'] }), env),
      await runExecutor(jobs.job('command', commit, { args: ['output', 'secret'] }), env),
      await runExecutor(
        jobs.job('command', commit, { args: ['state', 'show', 'terraform_data.secret_holder'] }),
        env,
      ),
    ];
    for (const ran of runs) {
      expect(ran.exitCode).toBe(0);
      expect(ran.stdout + ran.stderr).not.toContain(canary);
    }
    expect(runs[2]!.result!.command!.output).toContain('(sensitive value)');
    expect(runs[3]!.result!.command!.output).toContain('(sensitive value)');
    // Every file every run wrote: results, logs, plan text and plan metadata.
    const artifacts = join(jobs.root, 'artifacts');
    for (const run of await readdir(artifacts)) {
      for (const file of await readdir(join(artifacts, run))) {
        if (file.endsWith('.tfplan')) continue; // the plan file itself holds the value, as Terraform's does
        expect(await readFile(join(artifacts, run, file), 'utf8')).not.toContain(canary);
      }
    }
  });
});

describe('secrets on a first apply', () => {
  // test/fixtures/sensitive-failing-apply: three values marked sensitive only by the plan (no
  // state yet), printed by a provisioner that fails. The apply job learns them from the
  // approved plan before it applies anything.
  const CANARIES = [
    'canary-attribute-3c7a6e02',
    'canary-output-9d2f4a18',
    'canary-variable-5e1b0c77',
  ];

  // As on Batch (the apply job shows the approved plan itself), and as in a local run, where
  // it takes its plan job's checkout and that plan's JSON instead (prepared-workspace.ts).
  it.each([
    ['a fresh checkout', false],
    ["the plan job's checkout and plan JSON", true],
  ])(
    'masks every value the approved plan marks sensitive in the error, the log and stdout (%s)',
    async (_, handedOn) => {
      const repo = await makeRepo();
      const commit = await repo.commitDir(
        join(REPO_ROOT, 'test', 'fixtures', 'sensitive-failing-apply'),
        'stack',
      );
      const jobs = await jobFactory(repo.dir, 'stack');
      const env = handedOn ? { STEPFORM_PREPARED_ROOT: join(jobs.root, 'prepared') } : {};
      const planJob = jobs.job('plan', commit);
      const plan = await runExecutor(planJob, env);
      expect(plan.exitCode).toBe(0);
      const apply = await runExecutor(
        jobs.job('apply', commit, {
          plan: { dir: planJob.artifactsDir, sha256: plan.result!.plan!.sha256 },
        }),
        env,
      );
      expect(apply.exitCode).toBe(1);
      // Handed on, the apply job neither checks out, nor inits, nor shows the plan again.
      expect(await engineCalls(apply, 'show')).toBe(handedOn ? 0 : 1);
      expect(await engineCalls(apply, 'init')).toBe(handedOn ? 0 : 1);
      expect(apply.result!.timings).toEqual(
        handedOn
          ? expect.not.objectContaining({ show: expect.anything() })
          : expect.objectContaining({ show: expect.any(Number) }),
      );
      expect(apply.result!.error!.name).toBe('TerraformFailed');
      // The provisioner did print them: each is in the error, masked (Terraform's lines kept,
      // as Terraform wrapped them).
      expect(apply.result!.error!.message.replace(/\s+/g, ' ')).toContain(
        "Error running command '(sensitive value) (sensitive value) (sensitive value)'",
      );
      for (const ran of [plan, apply]) {
        for (const canary of CANARIES) expect(ran.stdout + ran.stderr).not.toContain(canary);
      }
      const artifacts = join(jobs.root, 'artifacts');
      for (const run of await readdir(artifacts)) {
        for (const file of await readdir(join(artifacts, run))) {
          if (file.endsWith('.tfplan')) continue;
          const text = await readFile(join(artifacts, run, file), 'utf8');
          for (const canary of CANARIES) expect(text).not.toContain(canary);
        }
      }
    },
  );
});

describe('the command verb', () => {
  it('passes an allowlisted command through', async () => {
    const { repo, commit } = await helloRepo();
    const jobs = await jobFactory(repo.dir, PROJECT);
    await runExecutor(jobs.job('plan-apply', commit));
    const list = await runExecutor(jobs.job('command', commit, { args: ['state', 'list'] }));
    expect(list.exitCode).toBe(0);
    expect(list.result!.command!.output.trim().split('\n')).toEqual([
      'terraform_data.greeting',
      'terraform_data.secret_holder',
      'time_static.greeted_at',
    ]);
  });

  it.each([
    [['apply']],
    [['destroy', '-auto-approve']],
    [['state', 'push', 'terraform.tfstate']],
    [['state', 'rm', '-lock=false', 'terraform_data.greeting']],
    [['state', 'show', 'terraform_data.greeting; rm -rf /']],
    [['state', 'show', '$(touch /tmp/stepform-pwned)']],
    [['import', 'terraform_data.greeting', 'id`whoami`']],
    [['output', '-state=/etc/passwd']],
  ])('refuses %j as a usage error, before anything runs', async (args) => {
    const { repo, commit } = await helloRepo();
    const jobs = await jobFactory(repo.dir, PROJECT);
    const job = jobs.job('command', commit, { args });
    const ran = await runExecutor(job, { STEPFORM_WORK_ROOT: jobs.workRoot });
    expect(ran.exitCode).toBe(2);
    expect(ran.stderr).toContain('CommandNotAllowed');
    expect(existsSync(job.artifactsDir)).toBe(false);
    expect(existsSync(jobs.workRoot)).toBe(false);
  });
});

// The job's bad input (exit 2, nothing created) is in bad-input.test.ts; these are the
// inputs that pass validation and fail when the job runs.
describe('bad input', () => {
  it('refuses a project folder that is a symlink out of the repository', async () => {
    const repo = await makeRepo();
    await symlink(REPO_ROOT, join(repo.dir, 'escape'));
    const commit = await repo.commitFiles({}, 'add symlink');
    const jobs = await jobFactory(repo.dir, 'escape/terraform/examples/hello');
    const ran = await runExecutor(jobs.job('plan', commit));
    expect(ran.exitCode).toBe(1);
    expect(ran.result!.error!.name).toBe('ProjectDirInvalid');
  });

  it('fails cleanly on a commit the repository does not have', async () => {
    const { repo } = await helloRepo();
    const jobs = await jobFactory(repo.dir, PROJECT);
    const ran = await runExecutor(jobs.job('plan', 'f'.repeat(40)));
    expect(ran.exitCode).toBe(1);
    expect(ran.result!.error!.name).toBe('CheckoutFailed');
  });
});

describe('a failing apply', () => {
  it('ends failed with the Terraform error, keeping what was applied before the failure', async () => {
    const repo = await makeRepo();
    const commit = await repo.commitDir(
      join(REPO_ROOT, 'test', 'fixtures', 'failing-apply'),
      'stack',
    );
    const jobs = await jobFactory(repo.dir, 'stack');
    const ran = await runExecutor(jobs.job('plan-apply', commit));
    expect(ran.exitCode).toBe(1);
    expect(ran.result).toMatchObject({ status: 'failed', hasChanges: true });
    expect(ran.result!.error!.name).toBe('TerraformFailed');
    expect(ran.result!.error!.message).toContain('Deliberate apply failure');
    // terraform_data.before was written before the failure: the serial moved.
    expect(ran.result!.stateBefore).toBeNull();
    expect(ran.result!.stateAfter).toEqual({
      lineage: expect.any(String),
      serial: expect.any(Number),
    });
    expect(ran.result!.stateChanged).toBe(true);
    const list = await runExecutor(jobs.job('command', commit, { args: ['state', 'list'] }));
    expect(list.result!.command!.output).toContain('terraform_data.before');
  });
});
