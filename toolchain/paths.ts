import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The root of this repository (toolchain/ sits right below it). */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

type Env = Readonly<Record<string, string | undefined>>;

/** Go's names for this platform, as Terraform uses them in provider paths. */
export function goPlatform(
  platform: NodeJS.Platform = process.platform,
  arch: string = process.arch,
): { os: string; arch: string } {
  const goArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'arm' };
  return { os: platform === 'win32' ? 'windows' : platform, arch: goArch[arch] ?? arch };
}

/**
 * The cache outside any clone, shared by every clone on the machine:
 * $STEPFORM_CACHE_DIR, else $XDG_CACHE_HOME/stepform, else ~/.cache/stepform.
 */
export function cacheRoot(env: Env): string {
  if (env.STEPFORM_CACHE_DIR) return env.STEPFORM_CACHE_DIR;
  return join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'stepform');
}

/** Where the pinned OpenTofu is compiled to, keyed by version and platform. */
export function builtTofuPath(env: Env, version: string): string {
  const { os, arch } = goPlatform();
  return join(cacheRoot(env), 'opentofu', version, `${os}_${arch}`, 'tofu');
}

/** Where the pinned OPA is compiled to, keyed by version and platform (this one by default). */
export function builtOpaPath(env: Env, version: string, platform = goPlatform()): string {
  return join(cacheRoot(env), 'opa', version, `${platform.os}_${platform.arch}`, 'opa');
}

/** The read-only provider mirror: $STEPFORM_PROVIDER_MIRROR (the image sets it), else the cache. */
export function providerMirrorDir(env: Env): string {
  return env.STEPFORM_PROVIDER_MIRROR ?? join(cacheRoot(env), 'providers', 'mirror');
}

/** Terraform's shared plugin cache, which makes a warm `init` a link instead of a copy. */
export function pluginCacheDir(env: Env): string {
  return env.STEPFORM_PLUGIN_CACHE_DIR ?? join(cacheRoot(env), 'providers', 'plugin-cache');
}
