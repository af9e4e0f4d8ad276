import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ToolchainMissing } from '../core/errors.ts';
import { whichOnPath } from './engine.ts';
import { REPO_ROOT } from './paths.ts';
import { run } from './process.ts';

/** The wrapper modules committed under toolchain/go/. */
export const GO_MODULES_DIR = join(REPO_ROOT, 'toolchain', 'go');

export interface GoBuild {
  /** Wrapper module folder under toolchain/go/. */
  readonly module: 'opentofu' | 'opa' | 'providers';
  readonly goPackage: string;
  readonly output: string;
  readonly os: string;
  readonly arch: string;
  readonly ldflags: string;
  /** Exact toolchain to use (downloaded through the module proxy when it is not local). */
  readonly toolchain?: string;
  readonly onLine?: (line: string) => void;
}

/**
 * Builds one Go main package from a committed wrapper module. -mod=readonly makes Go verify
 * every module against go.sum; the binary is written beside its target and renamed into
 * place, so an interrupted build never leaves a half-written binary behind.
 */
export async function goBuild(build: GoBuild, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const go = await whichOnPath('go', env);
  if (!go) {
    throw new ToolchainMissing(
      'Go is not on PATH: it is needed to compile OpenTofu, OPA and the providers. Install Go 1.26 ' +
        '(https://go.dev/dl/ or your package manager), or put tofu/terraform on PATH.',
    );
  }
  await mkdir(dirname(build.output), { recursive: true });
  const partial = `${build.output}.partial-${process.pid}`;
  const result = await run(
    go,
    [
      'build',
      '-trimpath',
      '-buildvcs=false',
      `-ldflags=${build.ldflags}`,
      '-o',
      partial,
      build.goPackage,
    ],
    {
      cwd: join(GO_MODULES_DIR, build.module),
      env: {
        ...env,
        CGO_ENABLED: '0',
        GOOS: build.os,
        GOARCH: build.arch,
        GOFLAGS: '-mod=readonly',
        ...(build.toolchain ? { GOTOOLCHAIN: build.toolchain } : {}),
        // The amd64 micro-architecture level changes the binary, so it is fixed too.
        GOAMD64: 'v1',
      },
      ...(build.onLine ? { onLine: build.onLine } : {}),
    },
  );
  if (result.exitCode !== 0) {
    await rm(partial, { force: true });
    throw new ToolchainMissing(
      `go build ${build.goPackage} failed (exit ${result.exitCode}):\n${result.stderr.trim()}`,
    );
  }
  await rename(partial, build.output);
}
