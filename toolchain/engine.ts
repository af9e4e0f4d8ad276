import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import {
  access,
  mkdir,
  open,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { basename, delimiter, join } from 'node:path';
import { z } from 'zod';
import { builtTofuPath, engineProbeCacheDir } from './paths.ts';
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

/**
 * What a successful probe of one binary found, kept in engineProbeCacheDir so that the next
 * resolveEngine (the executor's, once per job) need not run `<path> version` again. The file
 * is named by the hash of the binary's real path and its stat identity: a binary replaced,
 * rebuilt or touched has another key, and is probed again.
 */
const PROBE_RECORD = z.object({
  key: z.string(),
  name: z.enum(['opentofu', 'terraform']),
  version: z.string().regex(/^\d+\.\d+\.\d+\S*$/),
});

/**
 * A version manager's shim picks the engine it runs by folder or environment (tfenv and asdf
 * install scripts, mise a link to itself): what it said once says nothing of its next run. Only
 * a program named tofu or terraform that is not a script is taken to be the engine itself.
 */
async function isShim(real: string): Promise<boolean> {
  if (!/^(tofu|terraform)/.test(basename(real))) return true;
  const file = await open(real, 'r');
  try {
    const head = Buffer.alloc(2);
    await file.read(head, 0, 2, 0);
    return head.toString('latin1') === '#!';
  } finally {
    await file.close();
  }
}

/**
 * The binary's real path and stat identity; undefined when it cannot be read, or is a shim
 * (never recorded).
 */
async function probeKey(path: string): Promise<string | undefined> {
  try {
    const real = await realpath(path);
    if (await isShim(real)) return undefined;
    const { dev, ino, size, mtimeMs, ctimeMs } = await stat(real);
    return JSON.stringify({ real, dev, ino, size, mtimeMs, ctimeMs });
  } catch {
    return undefined;
  }
}

function probeFile(env: Env, key: string): string {
  return join(engineProbeCacheDir(env), `${createHash('sha256').update(key).digest('hex')}.json`);
}

/** The recorded probe for `key`; a missing, unreadable or malformed record is none. */
async function readProbe(env: Env, key: string): Promise<z.infer<typeof PROBE_RECORD> | undefined> {
  try {
    const parsed = PROBE_RECORD.safeParse(JSON.parse(await readFile(probeFile(env, key), 'utf8')));
    return parsed.success && parsed.data.key === key ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Records a successful probe: temp file and rename, 0600 in a 0700 folder; best effort. */
async function writeProbe(env: Env, key: string, engine: Engine): Promise<void> {
  const file = probeFile(env, key);
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await mkdir(engineProbeCacheDir(env), { recursive: true, mode: 0o700 });
    const record: z.infer<typeof PROBE_RECORD> = {
      key,
      name: engine.name,
      version: engine.version,
    };
    await writeFile(temp, `${JSON.stringify(record)}\n`, { mode: 0o600, flag: 'wx' });
    await rename(temp, file);
  } catch {
    // An unwritable cache (read-only home, the image's root file system) only costs a probe.
    await rm(temp, { force: true }).catch(() => undefined);
  }
}

/**
 * probeEngine, remembered: a binary whose real path and stat identity were probed with success
 * before is not run again. The minimum version is checked on every call; a failed probe is
 * not recorded.
 */
export async function probeEngineCached(
  path: string,
  source: Engine['source'],
  env: Env = process.env,
): Promise<Engine | { problem: string }> {
  const key = await probeKey(path);
  const recorded = key === undefined ? undefined : await readProbe(env, key);
  if (recorded && compareVersions(recorded.version, MINIMUM_VERSIONS[recorded.name]) >= 0)
    return { name: recorded.name, path, version: recorded.version, source };
  const probed = await probeEngine(path, source, env);
  if (key !== undefined && !('problem' in probed)) {
    // Recorded only if the binary is still the one probed.
    if ((await probeKey(path)) === key) await writeProbe(env, key, probed);
  }
  return probed;
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
 * Each candidate passed over is listed in `skipped` with the reason. A candidate probed with
 * success before, unchanged since, is not run again (probeEngineCached).
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
    const probed = await probeEngineCached(candidate.path, candidate.source, env);
    if ('problem' in probed) skipped.push(probed.problem);
    else return { found: true, engine: probed, skipped };
  }
  return { found: false, skipped };
}
