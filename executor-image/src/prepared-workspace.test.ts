import { describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
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
    await writeFile(join(dir, 'main.tf'), `# ${name}\n`);
    return dir;
  }
  const SHOWN = { sha256: 'b'.repeat(64), json: '{"format_version":"1.2"}' };

  async function take(work: string, root: string, key: string, job: string) {
    await mkdir(join(work, job));
    const taken = await takePrepared(
      root,
      key,
      join(work, job, 'checkout'),
      join(work, job, 'prepared'),
    );
    return { taken, checkout: join(work, job, 'checkout') };
  }

  it('hands one checkout and its plan JSON to one job, once', async () => {
    const work = await mkdtemp(join(tmpdir(), 'stepform-prepared-'));
    const root = join(work, 'prepared');
    expect(await keepPrepared(root, 'k1', await checkout(work, 'plan-job'), SHOWN)).toBe(true);
    expect(await readdir(root)).toEqual(['k1']);
    const first = await take(work, root, 'k1', 'apply-job');
    expect(await readdir(first.checkout)).toEqual(
      expect.arrayContaining(['.terraform', 'main.tf']),
    );
    expect(await readFile(join(first.checkout, 'main.tf'), 'utf8')).toBe('# plan-job\n');
    expect(await first.taken?.shownPlan(SHOWN.sha256)).toBe(SHOWN.json);
    // The JSON of another plan is never given: the apply shows its own plan instead.
    expect(await first.taken?.shownPlan('c'.repeat(64))).toBeUndefined();
    expect((await take(work, root, 'k1', 'second')).taken).toBeUndefined();
    expect((await take(work, root, 'other', 'third')).taken).toBeUndefined();
    expect(await readdir(root)).toEqual([]);
  });

  it('hands on a checkout without a plan JSON, whose plan is then shown again', async () => {
    const work = await mkdtemp(join(tmpdir(), 'stepform-prepared-'));
    const root = join(work, 'prepared');
    expect(await keepPrepared(root, 'k1', await checkout(work, 'plan-job'))).toBe(true);
    const { taken } = await take(work, root, 'k1', 'apply-job');
    expect(taken).toBeDefined();
    expect(await taken?.shownPlan(SHOWN.sha256)).toBeUndefined();
  });

  it('keeps nothing over what is already kept under the key, and leaves nothing half-made', async () => {
    const work = await mkdtemp(join(tmpdir(), 'stepform-prepared-'));
    const root = join(work, 'prepared');
    expect(await keepPrepared(root, 'k1', await checkout(work, 'one'), SHOWN)).toBe(true);
    expect(await keepPrepared(root, 'k1', await checkout(work, 'two'))).toBe(false);
    expect(await readdir(root)).toEqual(['k1']);
    const { checkout: taken } = await take(work, root, 'k1', 'apply-job');
    expect(await readFile(join(taken, 'main.tf'), 'utf8')).toBe('# one\n');
  });
});
