// `stepform doctor`, run as a user runs it.
import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { run } from '../../toolchain/process.ts';
import { REPO_ROOT, tempDir } from '../support/repo.ts';

const STEPFORM = join(REPO_ROOT, 'bin', 'stepform.js');

describe('stepform doctor', () => {
  it('reports all ready after set-up and exits 0', async () => {
    const ran = await run(process.execPath, [STEPFORM, 'doctor']);
    expect(ran.exitCode).toBe(0);
    expect(ran.stdout).toMatch(/^ok +node +Node v24\./m);
    expect(ran.stdout).toMatch(/^ok +engine +(OpenTofu|Terraform) \d+\.\d+\.\d+ at /m);
    expect(ran.stdout).toMatch(
      /^ok +provider hashicorp\/time 0\.14\.2 +in mirror .*hash matches the example lock file/m,
    );
    expect(ran.stdout).toMatch(/^ok +opa +OPA \d+\.\d+\.\d+ at /m);
    expect(ran.stdout.trimEnd().endsWith('all ready')).toBe(true);
  });

  it('prints one JSON object with --json', async () => {
    const ran = await run(process.execPath, [STEPFORM, 'doctor', '--json']);
    const report = JSON.parse(ran.stdout) as {
      ready: boolean;
      checks: { name: string; ok: boolean }[];
    };
    expect(report.ready).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual([
      'node',
      'engine',
      'provider hashicorp/time 0.14.2',
      'opa',
      'git',
    ]);
  });

  it('names what is missing and how to fix it, and exits 1', async () => {
    const cache = await tempDir('empty-cache');
    const ran = await run(process.execPath, [STEPFORM, 'doctor'], {
      env: { PATH: '/usr/bin:/bin', STEPFORM_CACHE_DIR: cache, HOME: cache },
    });
    expect(ran.exitCode).toBe(1);
    expect(ran.stdout).toMatch(/^MISSING +engine +no usable OpenTofu or Terraform/m);
    expect(ran.stdout).toContain('fix: run `npm run setup` to compile OpenTofu 1.12.6');
    expect(ran.stdout).toMatch(
      /^MISSING +provider hashicorp\/time 0\.14\.2 +missing from the mirror/m,
    );
    expect(ran.stdout).toMatch(/^MISSING +opa +no usable OPA to check policies with/m);
    expect(ran.stdout).toContain('fix: run `npm run setup` to compile the pinned OPA');
    expect(ran.stdout).toContain('not ready: 3 problem(s) above');
  });

  it('exits 2 on an unknown verb', async () => {
    const ran = await run(process.execPath, [STEPFORM, 'frobnicate']);
    expect(ran.exitCode).toBe(2);
    expect(ran.stderr).toContain('unknown verb "frobnicate"');
  });
});
