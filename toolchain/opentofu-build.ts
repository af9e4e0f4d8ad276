import { goBuild } from './go-build.ts';
import { builtTofuPath, goPlatform } from './paths.ts';
import { OPENTOFU_PACKAGE, OPENTOFU_VERSION } from './pins.ts';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Compiles the pinned OpenTofu into the cache (keyed by version and platform). `dev=no` is
 * what OpenTofu's release build sets, so `tofu version` reads 1.12.6 and not 1.12.6-dev.
 */
export async function buildOpenTofu(env: Env, log: (line: string) => void): Promise<string> {
  const output = builtTofuPath(env, OPENTOFU_VERSION);
  const { os, arch } = goPlatform();
  log(`compiling OpenTofu ${OPENTOFU_VERSION} from the Go module proxy into ${output}`);
  log('this happens once per machine and takes about 5 minutes on 2 cores');
  await goBuild(
    {
      module: 'opentofu',
      goPackage: OPENTOFU_PACKAGE,
      output,
      os,
      arch,
      ldflags: '-s -w -X github.com/opentofu/opentofu/version.dev=no',
      onLine: (line) => log(`  ${line}`),
    },
    { ...process.env, ...env },
  );
  return output;
}
