// Builds the executor image's bundle: `node toolchain/build-executor.ts OUTDIR` writes
// OUTDIR/executor.js (and its source map), the executor with every dependency inlined. The
// Dockerfile's bundle stage runs it, and executor-image/dockerfile.test.ts runs that stage here.
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { executorImageBuildOptions } from './build-package.ts';

/** Bundles the executor into `outdir`; returns the source files it holds, for the checks. */
export async function buildExecutorBundle(outdir: string): Promise<string[]> {
  const result = await build(executorImageBuildOptions(outdir));
  return Object.keys(result.metafile.inputs);
}

if (import.meta.main) {
  const outdir = resolve(process.argv[2] ?? 'executor-bundle');
  const inputs = await buildExecutorBundle(outdir);
  process.stdout.write(`bundled the executor (${inputs.length} modules) into ${outdir}\n`);
}
