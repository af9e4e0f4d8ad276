// Finding the OPA a job runs, as toolchain/engine.ts finds Terraform: $STEPFORM_OPA, else the
// pinned build set-up put in the cache (opa-build.ts), else `opa` on PATH. The executor image
// carries this file; the image sets STEPFORM_OPA to the OPA it bakes in.
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { ToolchainMissing } from '../core/errors.ts';
import { whichOnPath } from './engine.ts';
import { builtOpaPath } from './paths.ts';
import { OPA_VERSION } from './pins.ts';
import { run } from './process.ts';
import { SETUP_COMMAND } from './setup-command.ts';

type Env = Readonly<Record<string, string | undefined>>;

async function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/** An OPA binary a job may run. */
export interface Opa {
  readonly path: string;
  readonly version: string;
  /** How it was found: named by $STEPFORM_OPA, built into the cache, or on PATH. */
  readonly source: 'STEPFORM_OPA' | 'cache' | 'PATH';
}

/**
 * Runs `<path> version`. OPA before 1.0 reads Rego v0 by default and would misread the v1
 * syntax of the policies (`deny contains msg if`), so it is refused.
 */
export async function probeOpa(
  path: string,
  source: Opa['source'],
  env: Env = process.env,
): Promise<Opa | { problem: string }> {
  let output: string;
  try {
    const result = await run(path, ['version'], { env: { ...env } });
    if (result.exitCode !== 0) return { problem: `${path} version exited ${result.exitCode}` };
    output = result.stdout;
  } catch (error) {
    return { problem: `${path} could not be run (${(error as Error).message})` };
  }
  const version = /^Version: (\d+)\.\d+\.\d+\S*$/m.exec(output);
  if (!version?.[1]) return { problem: `${path} is not OPA` };
  if (Number(version[1]) < 1) {
    return { problem: `${path} is OPA ${version[0].slice(9)}, older than 1.0 (Rego v1)` };
  }
  return { path, version: version[0].slice(9), source };
}

/**
 * The OPA to run: $STEPFORM_OPA (and nothing else when it is set), else the pinned build in
 * the cache, else `opa` on PATH. ToolchainMissing says what was tried and why each failed.
 */
export async function resolveOpa(env: Env = process.env): Promise<Opa> {
  const skipped: string[] = [];
  const candidates: { path: string; source: Opa['source'] }[] = [];
  if (env.STEPFORM_OPA) {
    candidates.push({ path: env.STEPFORM_OPA, source: 'STEPFORM_OPA' });
  } else {
    const built = builtOpaPath(env, OPA_VERSION);
    if (await isExecutable(built)) candidates.push({ path: built, source: 'cache' });
    else skipped.push(`no OPA ${OPA_VERSION} built yet at ${built}`);
    const onPath = await whichOnPath('opa', env);
    if (onPath) candidates.push({ path: onPath, source: 'PATH' });
    else skipped.push('no opa on PATH');
  }
  for (const candidate of candidates) {
    const probed = await probeOpa(candidate.path, candidate.source, env);
    if ('problem' in probed) skipped.push(probed.problem);
    else return probed;
  }
  throw new ToolchainMissing(
    `no usable OPA to check policies with (${skipped.join('; ')}): run \`${SETUP_COMMAND}\` ` +
      'to build it, or set STEPFORM_OPA to an OPA 1.x binary',
  );
}
