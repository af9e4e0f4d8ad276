// The executor with var files and workspaces, against real OpenTofu/Terraform on the golden
// repositories: the monorepo's projects need their environment's var file (without it
// Terraform stops on a variable that is not set), and the workspace-per-environment repository
// keeps one state per workspace, with `terraform.workspace` what the job named.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { stateKey } from '../../core/contracts/job-input.ts';
import { engineCalls, jobFactory, runExecutor } from '../support/executor.ts';
import { REPO_ROOT, type TestRepo, makeRepo } from '../support/repo.ts';

const GOLDEN = join(REPO_ROOT, 'test', 'golden');

interface StateFile {
  readonly lineage: string;
  readonly serial: number;
  readonly outputs: Record<string, { value: unknown }>;
}

function stateOf(stateDir: string, key: string): StateFile {
  return JSON.parse(readFileSync(join(stateDir, key), 'utf8')) as StateFile;
}

describe('var files (the golden monorepo)', () => {
  let repo: TestRepo;
  let commit: string;
  beforeAll(async () => {
    repo = await makeRepo();
    commit = await repo.commitDir(join(GOLDEN, 'monorepo'), '.', 'the monorepo');
  });

  it('fails without the environment’s var file, as Terraform does on an unset variable', async () => {
    const jobs = await jobFactory(repo.dir, 'infra/network');
    const ran = await runExecutor(jobs.job('plan', commit));
    expect(ran.exitCode).toBe(1);
    expect(ran.result?.error?.name).toBe('TerraformFailed');
    expect(ran.result?.error?.message).toMatch(/"cidr"|var\.cidr|variable "cidr"/);
  });

  it('plans and applies with each environment’s values, one state per environment', async () => {
    const jobs = await jobFactory(repo.dir, 'infra/network');
    for (const [environment, cidr] of [
      ['dev', '10.0.0.0/16'],
      ['prod', '10.1.0.0/16'],
    ] as const) {
      const ran = await runExecutor(
        jobs.job('plan-apply', commit, {
          environment,
          varFiles: [`infra/network/envs/${environment}.tfvars`],
        }),
      );
      expect(ran.result?.error).toBeUndefined();
      expect(ran.result?.outputs?.cidr).toEqual({ sensitive: false, value: cidr });
      expect(
        stateOf(jobs.stateDir, stateKey(environment, 'infra/network')).outputs.cidr?.value,
      ).toBe(cidr);
    }
  });

  it('refuses a var file missing at the commit, or one that links out of the repository', async () => {
    const linked = await makeRepo();
    await linked.commitDir(join(GOLDEN, 'monorepo'), '.', 'the monorepo');
    await symlink('/etc/hostname', join(linked.dir, 'infra', 'network', 'envs', 'host.tfvars'));
    const withLink = await linked.commitFiles({}, 'a var file that is a link out');
    const jobs = await jobFactory(linked.dir, 'infra/network');
    for (const [varFile, message] of [
      ['infra/network/envs/staging.tfvars', /does not exist at this commit/],
      ['infra/network/envs/host.tfvars', /resolves outside the repository/],
      ['infra/network/envs', /is not a file/],
    ] as const) {
      const ran = await runExecutor(jobs.job('plan', withLink, { varFiles: [varFile] }));
      expect(ran.exitCode).toBe(1);
      expect(ran.result?.error).toMatchObject({
        name: 'VarFileInvalid',
        message: expect.stringMatching(message),
      });
    }
  });
});

describe('workspaces (the workspace-per-environment repository)', () => {
  let repo: TestRepo;
  let commit: string;
  beforeAll(async () => {
    repo = await makeRepo();
    commit = await repo.commitDir(join(GOLDEN, 'workspaces'), '.', 'workspace per environment');
  });

  it('selects (creating) the workspace: its own state, terraform.workspace set', async () => {
    const jobs = await jobFactory(repo.dir, '.');
    for (const [environment, count] of [
      ['dev', 1],
      ['prod', 3],
    ] as const) {
      const job = (verb: 'plan' | 'apply', extra: Record<string, unknown> = {}) =>
        jobs.job(verb, commit, {
          environment,
          workspace: environment,
          varFiles: [`variables/${environment}.tfvars`],
          ...extra,
        });
      const planJob = job('plan');
      const planned = await runExecutor(planJob);
      expect(planned.result?.status).toBe('succeeded');
      const applied = await runExecutor(
        job('apply', { plan: { dir: planJob.artifactsDir, sha256: planned.result!.plan!.sha256 } }),
      );
      expect(applied.result?.error).toBeUndefined();
      expect(applied.result?.outputs).toEqual({
        workspace: { sensitive: false, value: environment },
        instance_count: { sensitive: false, value: count },
      });
      const key = stateKey(environment, '.', environment);
      expect(key).toBe(`${environment}/%2E/workspaces/${environment}/terraform.tfstate`);
      expect(stateOf(jobs.stateDir, key).outputs.instance_count?.value).toBe(count);
      // Read after the apply from the workspace's own file, where the engine wrote it: the
      // engine was asked only before, when there was no file yet.
      const { lineage, serial } = stateOf(jobs.stateDir, key);
      expect(applied.result?.stateAfter).toEqual({ lineage, serial });
      expect(await engineCalls(applied, 'state pull')).toBe(1);
    }
    // The default workspace was never used.
    expect(existsSync(join(jobs.stateDir, stateKey('dev', '.')))).toBe(false);
  });

  it('refuses to apply a plan made in another workspace', async () => {
    const jobs = await jobFactory(repo.dir, '.');
    const planJob = jobs.job('plan', commit, {
      workspace: 'blue',
      varFiles: ['variables/dev.tfvars'],
    });
    const planned = await runExecutor(planJob);
    expect(planned.result?.hasChanges).toBe(true);
    const applied = await runExecutor(
      jobs.job('apply', commit, {
        workspace: 'green',
        varFiles: ['variables/dev.tfvars'],
        plan: { dir: planJob.artifactsDir, sha256: planned.result!.plan!.sha256 },
      }),
    );
    expect(applied.result?.error).toMatchObject({
      name: 'ForeignPlan',
      message: expect.stringContaining('workspace blue, not green'),
    });
  });
});
