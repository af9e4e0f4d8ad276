// `stepform --version`: the version and the commit it was built from. The package has both
// baked in; a clone reads its package.json and asks git for HEAD.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { PACKAGE_BUILD, type PackageBuild } from '../package-build.ts';
import { REPO_ROOT } from '../../toolchain/paths.ts';
import { run } from '../../toolchain/process.ts';
import { parseInput } from '../../core/validation.ts';

const MANIFEST = z.looseObject({ version: z.string() });

export async function stepformVersion(): Promise<PackageBuild> {
  if (PACKAGE_BUILD) return PACKAGE_BUILD;
  const manifestPath = join(REPO_ROOT, 'package.json');
  const manifest = parseInput(
    MANIFEST,
    JSON.parse(await readFile(manifestPath, 'utf8')),
    manifestPath,
  );
  const head = await run('git', ['-C', REPO_ROOT, 'rev-parse', 'HEAD']);
  return {
    version: manifest.version,
    commit: head.exitCode === 0 ? head.stdout.trim() : 'unknown (not a git clone)',
  };
}
