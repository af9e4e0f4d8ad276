// The OPA set-up builds: the pinned version, the recorded build, found the way jobs find it.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ToolchainMissing } from '../core/errors.ts';
import { rejection } from '../test/support/caught.ts';
import {
  OPA_CHECKSUMS_FILE,
  checksumName,
  checksumProblem,
  parseChecksums,
  renderChecksums,
} from './opa-build.ts';
import { resolveOpa } from './opa.ts';
import { LOCKED_PLATFORMS } from './lock-providers.ts';
import { builtOpaPath } from './paths.ts';
import { OPA_VERSION } from './pins.ts';

describe('OPA', () => {
  const made: string[] = [];
  const scratch = async (prefix: string): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), `stepform-${prefix}-`));
    made.push(dir);
    return dir;
  };
  afterAll(async () => {
    for (const dir of made) await rm(dir, { recursive: true, force: true });
  });

  it('is built by set-up into the cache, as the recorded build', async () => {
    const opa = await resolveOpa({ ...process.env, STEPFORM_OPA: undefined });
    expect(opa).toEqual({
      path: builtOpaPath(process.env, OPA_VERSION),
      version: OPA_VERSION,
      source: 'cache',
    });
    expect(await checksumProblem(opa.path)).toBeUndefined();
  });

  it('records a checksum for every platform the providers are locked for', async () => {
    const sums = parseChecksums(await readFile(OPA_CHECKSUMS_FILE, 'utf8'));
    expect([...sums.keys()].sort()).toEqual(
      LOCKED_PLATFORMS.map(([os, arch]) => checksumName({ os, arch })).sort(),
    );
    expect(parseChecksums(renderChecksums(sums))).toEqual(sums);
  });

  it('is found through $STEPFORM_OPA alone when it is set', async () => {
    const error = await rejection(
      resolveOpa({ STEPFORM_OPA: '/nonexistent/opa', PATH: process.env.PATH }),
    );
    expect(error).toBeInstanceOf(ToolchainMissing);
    expect((error as Error).message).toMatch(
      /^no usable OPA to check policies with \(\/nonexistent\/opa could not be run/,
    );
  });

  it('refuses a program that is not OPA, and an OPA older than 1.0 (Rego v0)', async () => {
    const dir = await scratch('fake-opa');
    const fake = async (name: string, output: string) => {
      const path = join(dir, name);
      await writeFile(path, `#!/bin/sh\necho '${output}'\n`, { mode: 0o755 });
      return path;
    };
    const other = await fake('other', 'something else 1.2.3');
    const old = await fake('old', 'Version: 0.70.0');
    expect(((await rejection(resolveOpa({ STEPFORM_OPA: other }))) as Error).message).toContain(
      `${other} is not OPA`,
    );
    expect(((await rejection(resolveOpa({ STEPFORM_OPA: old }))) as Error).message).toContain(
      `${old} is OPA 0.70.0, older than 1.0`,
    );
  });

  it('says what to do when there is none', async () => {
    const cache = await scratch('no-opa');
    const error = await rejection(resolveOpa({ PATH: '', STEPFORM_CACHE_DIR: cache }));
    expect((error as Error).message).toMatch(
      /no OPA 1\.22\.4 built yet .*; no opa on PATH\): run `npm run setup`/,
    );
  });
});
