// Engine resolution against the real binaries of this machine (set-up has run before tests).
import { describe, expect, it } from '@jest/globals';
import { probeEngine, resolveEngine, whichOnPath } from './engine.ts';

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
