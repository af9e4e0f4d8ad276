import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
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
 * $STEPFORM_CACHE_DIR, else $XDG_CACHE_HOME/stepform, else ~/.cache/stepform. An empty or
 * relative XDG_CACHE_HOME is ignored, as the XDG spec says (it would be a folder below
 * wherever the command runs). The package's bin has this in ES5 (build-package.ts).
 */
export function cacheRoot(env: Env): string {
  if (env.STEPFORM_CACHE_DIR) return env.STEPFORM_CACHE_DIR;
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'stepform');
}

/**
 * Node's module compile cache (V8 code cache) for the package's CLI and executor, per user.
 * The package's bin computes the same path in ES5 (toolchain/build-package.ts, BIN_CACHE_ROOT;
 * toolchain/build-package.test.ts pins that they agree). Never a shared temp folder, where
 * another user could plant entries.
 */
export function compileCacheDir(env: Env): string {
  return join(cacheRoot(env), COMPILE_CACHE_NAME);
}

/** The compile cache's folder name below cacheRoot. */
export const COMPILE_CACHE_NAME = 'node-compile-cache';

/** Where toolchain/engine.ts keeps what each engine binary said to `version`. */
export function engineProbeCacheDir(env: Env): string {
  return join(cacheRoot(env), 'engine-probes');
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
