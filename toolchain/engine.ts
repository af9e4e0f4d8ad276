import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { builtTofuPath } from './paths.ts';
import { MINIMUM_VERSIONS, OPENTOFU_VERSION } from './pins.ts';
import { run } from './process.ts';
import { compareVersions } from './semver.ts';

type Env = Readonly<Record<string, string | undefined>>;

export type EngineName = 'opentofu' | 'terraform';

/** A Terraform-compatible binary that Stepform may run. */
export interface Engine {
  readonly name: EngineName;
  readonly path: string;
  readonly version: string;
  /** How it was found: named by $STEPFORM_TERRAFORM_BIN, on PATH, or built into the cache. */
  readonly source: 'STEPFORM_TERRAFORM_BIN' | 'PATH' | 'cache';
}

export type EngineResolution =
  | { readonly found: true; readonly engine: Engine; readonly skipped: readonly string[] }
  | { readonly found: false; readonly skipped: readonly string[] };

/** Environment for a bare `version` call: no user CLI config, no update check. */
const PROBE_ENV = { TF_CLI_CONFIG_FILE: '/dev/null', CHECKPOINT_DISABLE: '1' };

/** Runs `<path> version` and reads which engine it is and its version. */
export async function probeEngine(
  path: string,
  source: Engine['source'],
  env: Env = process.env,
): Promise<Engine | { problem: string }> {
  let output: string;
  try {
    const result = await run(path, ['version'], { env: { ...env, ...PROBE_ENV } });
    if (result.exitCode !== 0) return { problem: `${path} version exited ${result.exitCode}` };
    output = result.stdout;
  } catch (error) {
    return { problem: `${path} could not be run (${(error as Error).message})` };
  }
  const [, product, version] = /^(OpenTofu|Terraform) v(\d+\.\d+\.\d+\S*)/m.exec(output) ?? [];
  if (!product || !version) return { problem: `${path} is neither OpenTofu nor Terraform` };
  const name: EngineName = product === 'OpenTofu' ? 'opentofu' : 'terraform';
  const minimum = MINIMUM_VERSIONS[name];
  if (compareVersions(version, minimum) < 0) {
    return { problem: `${path} is ${product} ${version}, older than the minimum ${minimum}` };
  }
  return { name, path, version, source };
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Looks a program up on PATH the way a shell would, without running a shell. */
export async function whichOnPath(program: string, env: Env): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, program);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Finds the engine to run, in this order: $STEPFORM_TERRAFORM_BIN (and nothing else when it
 * is set), `tofu` on PATH, `terraform` on PATH, then the pinned OpenTofu built into the cache.
 * Each candidate passed over is listed in `skipped` with the reason.
 */
export async function resolveEngine(env: Env = process.env): Promise<EngineResolution> {
  const skipped: string[] = [];
  const explicit = env.STEPFORM_TERRAFORM_BIN;
  const candidates: { path: string; source: Engine['source'] }[] = [];
  if (explicit) {
    candidates.push({ path: explicit, source: 'STEPFORM_TERRAFORM_BIN' });
  } else {
    for (const program of ['tofu', 'terraform']) {
      const path = await whichOnPath(program, env);
      if (path) candidates.push({ path, source: 'PATH' });
    }
    const built = builtTofuPath(env, OPENTOFU_VERSION);
    if (await isExecutable(built)) candidates.push({ path: built, source: 'cache' });
    else skipped.push(`no OpenTofu ${OPENTOFU_VERSION} built yet at ${built}`);
  }
  for (const candidate of candidates) {
    const probed = await probeEngine(candidate.path, candidate.source, env);
    if ('problem' in probed) skipped.push(probed.problem);
    else return { found: true, engine: probed, skipped };
  }
  return { found: false, skipped };
}
