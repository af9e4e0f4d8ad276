import { describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JOB, type Job } from '../../core/contracts/job-input.ts';
import { type PreparedFor, keepPrepared, preparedKey, takePrepared } from './prepared-workspace.ts';

const PLAN = JOB.parse({
  runId: '20261204T050000Z-abc123',
  verb: 'plan',
  repository: '/repos/app',
  commit: 'a'.repeat(40),
  environment: 'dev',
  projectDir: 'infra/app',
  artifactsDir: '/home/artifacts/run/plan',
  backend: { type: 'local', stateDir: '/home/state' },
  varFiles: ['infra/app/dev.tfvars'],
});
const FOR: PreparedFor = {
  job: PLAN,
  engine: { path: '/usr/bin/tofu', version: '1.10.6' },
  mirrorDir: '/cache/mirror',
  pluginCacheDir: '/cache/plugins',
};

describe('preparedKey', () => {
  it('is the same for the apply job of the same commit, project, environment and backend', () => {
    const apply = JOB.parse({
      ...PLAN,
      verb: 'apply',
      artifactsDir: '/home/artifacts/run/apply',
      plan: { dir: PLAN.artifactsDir, sha256: 'b'.repeat(64) },
    });
    expect(preparedKey({ ...FOR, job: apply })).toBe(preparedKey(FOR));
  });

  it('differs when anything that shapes the checkout or its init differs', () => {
    const changes: Partial<Job>[] = [
      { commit: 'c'.repeat(40) },
      { repository: '/repos/other' },
      { projectDir: 'infra/dns' },
      { environment: 'prod' },
      { workspace: 'blue' },
      { varFiles: [] },
      { backend: { type: 'local', stateDir: '/elsewhere' } },
    ];
    const keys = new Set([preparedKey(FOR)]);
    for (const change of changes)
      keys.add(preparedKey({ ...FOR, job: { ...PLAN, ...change } as Job }));
    keys.add(preparedKey({ ...FOR, engine: { ...FOR.engine, version: '1.10.7' } }));
    keys.add(preparedKey({ ...FOR, engine: { ...FOR.engine, path: '/usr/bin/terraform' } }));
    keys.add(preparedKey({ ...FOR, mirrorDir: '/other/mirror' }));
    keys.add(preparedKey({ job: PLAN, engine: FOR.engine, mirrorDir: FOR.mirrorDir }));
    expect(keys.size).toBe(changes.length + 5);
  });
});

describe('keepPrepared and takePrepared', () => {
  async function checkout(root: string, name: string): Promise<string> {
    const dir = join(root, name, 'checkout');
    await mkdir(join(dir, '.terraform'), { recursive: true });
    await writeFile(join(dir, 'main.tf'), '# kept\n');
    return dir;
  }

  it('hands one checkout to one job, once', async () => {
    const work = await mkdtemp(join(tmpdir(), 'stepform-prepared-'));
    const root = join(work, 'prepared');
    expect(await keepPrepared(root, 'k1', await checkout(work, 'plan-job'))).toBe(true);
    const first = join(work, 'apply-job', 'checkout');
    await mkdir(join(work, 'apply-job'));
    expect(await takePrepared(root, 'k1', first)).toBe(true);
    expect(await readdir(first)).toEqual(expect.arrayContaining(['.terraform', 'main.tf']));
    await mkdir(join(work, 'second'));
    expect(await takePrepared(root, 'k1', join(work, 'second', 'checkout'))).toBe(false);
    expect(await takePrepared(root, 'other', join(work, 'second', 'checkout'))).toBe(false);
  });

  it('keeps nothing over a checkout already kept under the key', async () => {
    const work = await mkdtemp(join(tmpdir(), 'stepform-prepared-'));
    const root = join(work, 'prepared');
    expect(await keepPrepared(root, 'k1', await checkout(work, 'one'))).toBe(true);
    expect(await keepPrepared(root, 'k1', await checkout(work, 'two'))).toBe(false);
    expect(await readdir(join(work, 'two'))).toEqual(['checkout']);
  });
});
