// OPA, the policy engine (README: why OPA). Set-up compiles the pinned version from the Go module
// proxy into the cache, once per version and platform, and checks its SHA-256 against the one
// committed in go/opa/opa.sha256 (the build is reproducible: pinned toolchain, -trimpath, CGO
// off). Jobs find it through opa.ts.
//
// `node toolchain/opa-build.ts --record-checksums` builds it for every locked platform and rewrites
// opa.sha256: run it after changing OPA_VERSION and go/opa/go.mod.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ToolchainMissing } from '../core/errors.ts';
import { GO_MODULES_DIR, goBuild } from './go-build.ts';
import { LOCKED_PLATFORMS } from './lock-providers.ts';
import { builtOpaPath, goPlatform } from './paths.ts';
import { OPA_PACKAGE, OPA_VERSION, PROVIDER_GO_TOOLCHAIN } from './pins.ts';

type Env = Readonly<Record<string, string | undefined>>;
type Platform = { readonly os: string; readonly arch: string };

/** `sha256sum` format, one line a platform: `<hex>  <os>_<arch>/opa` (the Dockerfile checks it). */
export const OPA_CHECKSUMS_FILE = join(GO_MODULES_DIR, 'opa', 'opa.sha256');

/** The name a platform's binary has in opa.sha256. */
export function checksumName(platform: Platform): string {
  return `${platform.os}_${platform.arch}/opa`;
}

export function parseChecksums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [, hex, name] = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line.trim()) ?? [];
    if (hex && name) sums.set(name, hex);
  }
  return sums;
}

export function renderChecksums(sums: ReadonlyMap<string, string>): string {
  return [...sums]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, hex]) => `${hex}  ${name}\n`)
    .join('');
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Compiles the pinned OPA for a platform into the cache (whether or not it is there). */
export async function buildOpa(
  env: Env,
  log: (line: string) => void,
  platform: Platform = goPlatform(),
): Promise<string> {
  const output = builtOpaPath(env, OPA_VERSION, platform);
  log(`compiling OPA ${OPA_VERSION} for ${platform.os}_${platform.arch} into ${output}`);
  await goBuild(
    {
      module: 'opa',
      goPackage: OPA_PACKAGE,
      output,
      os: platform.os,
      arch: platform.arch,
      // OPA's version is in its source (v1/version): no -X needed, and none of its build-time
      // stamps (host name, time) is set, which would make every build differ.
      ldflags: '-s -w',
      toolchain: PROVIDER_GO_TOOLCHAIN,
      onLine: (line) => log(`  ${line}`),
    },
    { ...process.env, ...env },
  );
  return output;
}

/** Why the binary is not the recorded build, or undefined when it is (or none is recorded). */
export async function checksumProblem(
  path: string,
  platform: Platform = goPlatform(),
): Promise<string | undefined> {
  const recorded = parseChecksums(await readFile(OPA_CHECKSUMS_FILE, 'utf8')).get(
    checksumName(platform),
  );
  if (recorded === undefined) return undefined;
  const actual = await sha256File(path);
  return actual === recorded
    ? undefined
    : `${path} has SHA-256 ${actual}, not the ${recorded} recorded in ${OPA_CHECKSUMS_FILE}`;
}

/**
 * Set-up: the pinned OPA in the cache, built when missing (or not the recorded build). A build
 * that still differs from the recorded checksum is removed, so no job runs it.
 */
export async function ensureOpa(
  env: Env,
  log: (line: string) => void,
): Promise<{ path: string; buildSeconds?: number }> {
  const path = builtOpaPath(env, OPA_VERSION);
  if (await exists(path)) {
    const problem = await checksumProblem(path);
    if (problem === undefined) return { path };
    log(`rebuilding: ${problem}`);
  }
  const started = performance.now();
  await buildOpa(env, log);
  const problem = await checksumProblem(path);
  if (problem !== undefined) {
    await rm(path, { force: true });
    throw new ToolchainMissing(`the OPA just built is not the recorded build: ${problem}`);
  }
  return { path, buildSeconds: (performance.now() - started) / 1000 };
}

/** Builds every locked platform and rewrites opa.sha256. */
async function recordChecksums(): Promise<void> {
  const sums = new Map<string, string>();
  for (const [os, arch] of LOCKED_PLATFORMS) {
    const started = performance.now();
    const path = await buildOpa(process.env, (line) => console.log(line), { os, arch });
    sums.set(checksumName({ os, arch }), await sha256File(path));
    console.log(`built ${os}_${arch} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  await writeFile(OPA_CHECKSUMS_FILE, renderChecksums(sums));
  console.log(`wrote ${OPA_CHECKSUMS_FILE}`);
}

if (import.meta.main) {
  if (process.argv[2] === '--record-checksums') await recordChecksums();
  else console.error('usage: node toolchain/opa-build.ts --record-checksums');
}
