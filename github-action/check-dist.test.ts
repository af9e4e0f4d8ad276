// The committed dist/index.js is what the runner runs: it must be exactly what the sources
// build to now. Rebuilds with the same options into a temporary folder and compares bytes.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST, buildAction } from './build.ts';

const scratch = await mkdtemp(join(tmpdir(), 'stepform-check-dist-'));

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('github-action/dist', () => {
  it('matches a fresh build of github-action/src (run `node github-action/build.ts` if not)', async () => {
    const fresh = join(scratch, 'index.js');
    await buildAction(fresh);
    const [built, committed] = await Promise.all([readFile(fresh), readFile(DIST)]);
    const stale = !built.equals(committed);
    if (stale) {
      const a = built.toString('utf8').split('\n');
      const b = committed.toString('utf8').split('\n');
      const line = a.findIndex((text, index) => text !== b[index]);
      throw new Error(
        `github-action/dist/index.js is stale: it first differs from a fresh build at line ${line + 1}` +
          `\n  fresh:     ${a[line]?.slice(0, 200) ?? '(end)'}\n  committed: ${b[line]?.slice(0, 200) ?? '(end)'}` +
          '\nRebuild it with `node github-action/build.ts` and commit the result.',
      );
    }
    expect(stale).toBe(false);
  });
});
