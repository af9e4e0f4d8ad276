// `node toolchain/verify-mirror.ts MIRROR LOCK_FILE`: checks that every provider package in a
// filesystem mirror hashes to an h1: hash the lock file accepts for its address and version.
// The executor image build runs it, so no image ships a provider that `init` would refuse.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { providerPackageHash } from './provider-hash.ts';
import { type MirroredProvider, readMirror } from './provider-mirror.ts';

export interface LockedProvider {
  /** `hostname/namespace/type`, as in `provider "…" {` */
  readonly address: string;
  readonly version: string;
  readonly hashes: readonly string[];
}

/** Reads the provider blocks of a .terraform.lock.hcl, keyed by address. */
export function parseLockFile(text: string): Map<string, LockedProvider> {
  const locked = new Map<string, LockedProvider>();
  for (const [, address = '', body = ''] of text.matchAll(/^provider "([^"]+)" \{\n([^]*?)^\}/gm)) {
    const version = /^\s*version\s*=\s*"([^"]+)"/m.exec(body)?.[1] ?? '';
    const list = /^\s*hashes\s*=\s*\[([^\]]*)\]/m.exec(body)?.[1] ?? '';
    const hashes = [...list.matchAll(/"([^"]+)"/g)].map(([, hash = '']) => hash);
    locked.set(address, { address, version, hashes });
  }
  return locked;
}

export function providerAddress(provider: MirroredProvider): string {
  return `${provider.hostname}/${provider.namespace}/${provider.type}`;
}

/** Why the lock file refuses this package, or undefined when it accepts it. */
export function lockProblem(
  locked: ReadonlyMap<string, LockedProvider>,
  provider: MirroredProvider,
  hash: string,
): string | undefined {
  const address = providerAddress(provider);
  const entry = locked.get(address);
  if (!entry) return `${address} is not in the lock file`;
  if (entry.version !== provider.version) {
    return `the lock file has ${address} ${entry.version}, not ${provider.version}`;
  }
  if (!entry.hashes.includes(hash)) return `${hash} is not a locked hash of ${address}`;
  return undefined;
}

export interface PackageCheck {
  readonly provider: MirroredProvider;
  readonly hash: string;
  readonly problem: string | undefined;
}

/** Hashes every package in the mirror and checks it against the lock file, in address order. */
export async function verifyMirror(mirror: string, lockFile: string): Promise<PackageCheck[]> {
  const locked = parseLockFile(await readFile(lockFile, 'utf8'));
  const checks: PackageCheck[] = [];
  for (const provider of await readMirror(mirror)) {
    const { hostname, namespace, type, version, platform } = provider;
    const hash = await providerPackageHash(
      join(mirror, hostname, namespace, type, version, platform),
    );
    checks.push({ provider, hash, problem: lockProblem(locked, provider, hash) });
  }
  const key = (check: PackageCheck) =>
    `${providerAddress(check.provider)} ${check.provider.version} ${check.provider.platform}`;
  return checks.sort((a, b) => key(a).localeCompare(key(b)));
}

/** Prints one line a package; 0 when the lock file accepts them all, 1 otherwise. */
export async function main(args: readonly string[]): Promise<number> {
  const [mirror, lockFile] = args;
  if (mirror === undefined || lockFile === undefined) {
    process.stderr.write('usage: node toolchain/verify-mirror.ts MIRROR LOCK_FILE\n');
    return 2;
  }
  const checks = await verifyMirror(mirror, lockFile);
  if (checks.length === 0) {
    process.stderr.write(`no provider package in ${mirror}\n`);
    return 1;
  }
  for (const { provider, hash, problem } of checks) {
    const name = `${providerAddress(provider)} ${provider.version} ${provider.platform}`;
    if (problem === undefined) process.stdout.write(`ok ${name} ${hash}\n`);
    else process.stderr.write(`NOT LOCKED ${name}: ${problem}\n`);
  }
  return checks.every((check) => check.problem === undefined) ? 0 : 1;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(
      `verify-mirror: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return 1;
  });
}
