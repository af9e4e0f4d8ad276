// Engine resolution against the real binaries of this machine (set-up has run before tests),
// and the probe cache against a fake engine that counts its runs. The fake is a copy of
// /usr/bin/env named tofu (a program, not a script: scripts are never recorded, as a version
// manager's shims are scripts), so `tofu version` runs the `version` script on its PATH.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeEngine, resolveEngine, whichOnPath } from './engine.ts';
import { OPENTOFU_VERSION } from './pins.ts';

const ENV_PROGRAM = '/usr/bin/env';

describe('resolveEngine', () => {
  it('finds an acceptable engine after set-up', async () => {
    const resolution = await resolveEngine(process.env);
    expect(resolution.found).toBe(true);
    if (resolution.found) expect(resolution.engine.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('uses only $STEPFORM_TERRAFORM_BIN when it is set, and says why it is unusable', async () => {
    const resolution = await resolveEngine({
      ...process.env,
      STEPFORM_TERRAFORM_BIN: '/nonexistent/tofu',
    });
    expect(resolution).toEqual({
      found: false,
      skipped: [expect.stringContaining('/nonexistent/tofu could not be run')],
    });
  });

  it('reports what it passed over when nothing is found', async () => {
    const resolution = await resolveEngine({
      PATH: '/nonexistent',
      STEPFORM_CACHE_DIR: '/nonexistent/cache',
    });
    expect(resolution.found).toBe(false);
    expect(resolution.skipped.join('\n')).toContain(
      'no OpenTofu 1.12.6 built yet at /nonexistent/cache/opentofu/1.12.6/',
    );
  });
});

describe('probeEngine', () => {
  it('refuses a program that is neither OpenTofu nor Terraform', async () => {
    const git = await whichOnPath('git', process.env);
    expect(git).toBeDefined();
    expect(await probeEngine(git ?? 'git', 'PATH')).toEqual({
      problem: expect.stringMatching(/version exited|neither/),
    });
  });
});

describe('the probe cache', () => {
  let dir: string;
  let engine: string;
  let runs: string;
  let env: Record<string, string>;

  /** A fake OpenTofu, a new file each time, that appends a line to `runs` each time it runs. */
  async function writeEngine(version: string): Promise<void> {
    const script = join(dir, 'bin', 'version');
    await mkdir(join(dir, 'bin'), { recursive: true });
    await writeFile(script, `#!/bin/sh\necho run >> '${runs}'\necho 'OpenTofu v${version}'\n`);
    await chmod(script, 0o755);
    await rm(engine, { force: true });
    await copyFile(ENV_PROGRAM, engine);
    await chmod(engine, 0o755);
  }
  const runCount = async () =>
    (await readFile(runs, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
  const probeFiles = async () => readdir(join(dir, 'cache', 'engine-probes'));

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stepform-engine-'));
    engine = join(dir, 'tofu');
    runs = join(dir, 'runs.txt');
    env = {
      PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}`,
      STEPFORM_CACHE_DIR: join(dir, 'cache'),
      STEPFORM_TERRAFORM_BIN: engine,
    };
    await writeEngine(OPENTOFU_VERSION);
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('does not run an engine probed before, and says the same of it', async () => {
    const first = await resolveEngine(env);
    const second = await resolveEngine(env);
    expect(first).toEqual({
      found: true,
      engine: {
        name: 'opentofu',
        path: engine,
        version: OPENTOFU_VERSION,
        source: 'STEPFORM_TERRAFORM_BIN',
      },
      skipped: [],
    });
    expect(second).toEqual(first);
    expect(await runCount()).toBe(1);
    const [file, ...others] = await probeFiles();
    expect(others).toEqual([]);
    expect(file).toMatch(/^[0-9a-f]{64}\.json$/);
    expect((await stat(join(dir, 'cache', 'engine-probes'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, 'cache', 'engine-probes', file!))).mode & 0o777).toBe(0o600);
  });

  it('probes a replaced or touched binary again', async () => {
    await resolveEngine(env);
    await writeEngine('1.11.0');
    const replaced = await resolveEngine(env);
    expect(replaced.found && replaced.engine.version).toBe('1.11.0');
    expect(await runCount()).toBe(2);
    const later = new Date(Date.now() + 5_000);
    await utimes(engine, later, later);
    await resolveEngine(env);
    expect(await runCount()).toBe(3);
    await resolveEngine(env);
    expect(await runCount()).toBe(3);
  });

  it('ignores a corrupt or foreign record and probes again', async () => {
    await resolveEngine(env);
    const [file] = await probeFiles();
    const path = join(dir, 'cache', 'engine-probes', file!);
    for (const text of [
      '{not json',
      JSON.stringify({ key: 'other', name: 'opentofu', version: '9.9.9' }),
    ]) {
      await writeFile(path, text);
      const resolution = await resolveEngine(env);
      expect(resolution.found && resolution.engine.version).toBe(OPENTOFU_VERSION);
    }
    expect(await runCount()).toBe(3);
    await resolveEngine(env);
    expect(await runCount()).toBe(3);
  });

  it('never records a script: a version manager’s shim may run another version next time', async () => {
    await writeFile(
      engine,
      `#!/bin/sh\necho run >> '${runs}'\necho 'OpenTofu v${OPENTOFU_VERSION}'\n`,
    );
    for (let i = 0; i < 2; i += 1) expect((await resolveEngine(env)).found).toBe(true);
    expect(await runCount()).toBe(2);
    // Nor a link to a program named otherwise (mise's shims are links to mise itself).
    const manager = join(dir, 'manager');
    await rm(engine);
    await copyFile(ENV_PROGRAM, manager);
    await chmod(manager, 0o755);
    await symlink(manager, engine);
    for (let i = 0; i < 2; i += 1) expect((await resolveEngine(env)).found).toBe(true);
    expect(await runCount()).toBe(4);
    await expect(probeFiles()).rejects.toThrow(/ENOENT/);
  });

  it('does not record a failed probe', async () => {
    await writeFile(join(dir, 'bin', 'version'), `#!/bin/sh\necho run >> '${runs}'\nexit 3\n`);
    expect((await resolveEngine(env)).found).toBe(false);
    expect((await resolveEngine(env)).found).toBe(false);
    expect(await runCount()).toBe(2);
    await expect(probeFiles()).rejects.toThrow(/ENOENT/);
  });

  it('works without a writable cache', async () => {
    await writeFile(join(dir, 'cache'), 'a file where the folder would be');
    expect((await resolveEngine(env)).found).toBe(true);
    expect((await resolveEngine(env)).found).toBe(true);
    expect(await runCount()).toBe(2);
  });
});
