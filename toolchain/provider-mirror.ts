import { copyFile, chmod, mkdir, readdir, rename, stat, symlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { goBuild } from './go-build.ts';
import { cacheRoot, goPlatform } from './paths.ts';
import { MIRROR_HOSTNAMES, PROVIDER_GO_TOOLCHAIN, PROVIDERS, type ProviderPin } from './pins.ts';
import { providerPackageHash } from './provider-hash.ts';

type Env = Readonly<Record<string, string | undefined>>;

export interface MirroredProvider {
  readonly hostname: string;
  readonly namespace: string;
  readonly type: string;
  readonly version: string;
  readonly platform: string;
}

export function providerBinaryName(pin: ProviderPin): string {
  return `terraform-provider-${pin.type}_v${pin.version}`;
}

/** The unpacked layout of a filesystem mirror: HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/. */
export function mirrorPackageDir(
  mirror: string,
  hostname: string,
  pin: ProviderPin,
  platform: string,
): string {
  return join(mirror, hostname, pin.namespace, pin.type, pin.version, platform);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Compiles one pinned provider for one platform into the build cache, once. */
export async function buildProvider(
  env: Env,
  pin: ProviderPin,
  os: string,
  arch: string,
  log: (line: string) => void = () => {},
): Promise<string> {
  const dir = join(
    cacheRoot(env),
    'providers',
    'build',
    pin.namespace,
    pin.type,
    pin.version,
    `${os}_${arch}`,
  );
  const binary = join(dir, providerBinaryName(pin));
  if (!(await exists(binary))) {
    log(`compiling provider ${pin.namespace}/${pin.type} ${pin.version} for ${os}_${arch}`);
    await goBuild(
      {
        module: 'providers',
        goPackage: pin.goPackage,
        output: binary,
        os,
        arch,
        ldflags: '-s -w',
        toolchain: PROVIDER_GO_TOOLCHAIN,
      },
      { ...process.env, ...env },
    );
  }
  return dir;
}

/**
 * Makes sure the mirror holds every pinned provider for this platform under both registry
 * hostnames, building what is missing. The first hostname's package holds the binary; the
 * others link to it (a relative link, which Terraform and OpenTofu follow and the image's COPY
 * keeps), so the mirror holds each build once. Returns each package with its h1: hash.
 */
export async function ensureProviderMirror(
  env: Env,
  mirror: string,
  log: (line: string) => void = () => {},
): Promise<{ provider: MirroredProvider; hash: string }[]> {
  const { os, arch } = goPlatform();
  const platform = `${os}_${arch}`;
  const installed: { provider: MirroredProvider; hash: string }[] = [];
  for (const pin of PROVIDERS) {
    const buildDir = await buildProvider(env, pin, os, arch, log);
    const [first] = MIRROR_HOSTNAMES;
    const original = join(mirrorPackageDir(mirror, first, pin, platform), providerBinaryName(pin));
    for (const hostname of MIRROR_HOSTNAMES) {
      const target = mirrorPackageDir(mirror, hostname, pin, platform);
      const binary = join(target, providerBinaryName(pin));
      if (!(await exists(binary))) {
        await mkdir(target, { recursive: true });
        const partial = `${binary}.partial-${process.pid}`;
        if (hostname === first) {
          await copyFile(join(buildDir, providerBinaryName(pin)), partial);
          await chmod(partial, 0o755);
        } else {
          await symlink(relative(target, original), partial);
        }
        await rename(partial, binary);
      }
      installed.push({
        provider: {
          hostname,
          namespace: pin.namespace,
          type: pin.type,
          version: pin.version,
          platform,
        },
        hash: await providerPackageHash(target),
      });
    }
  }
  return installed;
}

/** Lists what a mirror holds (for the CLI configuration and for `stepform doctor`). */
export async function readMirror(mirror: string): Promise<MirroredProvider[]> {
  const found: MirroredProvider[] = [];
  const children = async (dir: string) =>
    (await readdir(dir, { withFileTypes: true }).catch(() => []))
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  for (const hostname of await children(mirror)) {
    for (const namespace of await children(join(mirror, hostname))) {
      for (const type of await children(join(mirror, hostname, namespace))) {
        for (const version of await children(join(mirror, hostname, namespace, type))) {
          for (const platform of await children(join(mirror, hostname, namespace, type, version))) {
            found.push({ hostname, namespace, type, version, platform });
          }
        }
      }
    }
  }
  return found;
}
