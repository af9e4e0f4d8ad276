// The local "run a Terraform job" port: the executor entrypoint as a child process, exactly
// what the container runs on Batch. The job's result is read back from result.json.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobInput } from '../core/contracts/job-input.ts';
import {
  type JobResult,
  PLAN_DIFF_FILE,
  RESULT_FILE,
  parseJobResult,
} from '../core/contracts/job-result.ts';
import { type PlanDiff, parsePlanDiff } from '../core/plan-diff.ts';
import { REPO_ROOT, compileCacheDir } from '../toolchain/paths.ts';
import { PACKAGE_BUILD } from './package-build.ts';
import { run } from '../toolchain/process.ts';

/** The executor's entry: in the package, its bundle beside this module's (lib/executor.js). */
export const EXECUTOR_MAIN = PACKAGE_BUILD
  ? fileURLToPath(new URL('./executor.js', import.meta.url))
  : join(REPO_ROOT, 'executor-image', 'src', 'main.ts');

/**
 * The executor child's environment. The package's executor shares the CLI's compile cache
 * (Node's NODE_COMPILE_CACHE, in Stepform's per-user cache: see the bin in
 * toolchain/build-package.ts), unless the user set NODE_COMPILE_CACHE or
 * NODE_DISABLE_COMPILE_CACHE. A clone's executor runs the TypeScript sources without one, so
 * that its tests share no cache.
 */
export function executorEnv(
  env: NodeJS.ProcessEnv,
  packageBuild: boolean = PACKAGE_BUILD !== undefined,
): NodeJS.ProcessEnv {
  if (
    !packageBuild ||
    env.NODE_COMPILE_CACHE !== undefined ||
    env.NODE_DISABLE_COMPILE_CACHE !== undefined
  )
    return env;
  return { ...env, NODE_COMPILE_CACHE: compileCacheDir(env) };
}

export interface ExecutorRun {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** result.json, when the executor wrote one (not on bad input). */
  readonly result?: JobResult;
}

export async function readResult(artifactsDir: string): Promise<JobResult | undefined> {
  const path = join(artifactsDir, RESULT_FILE);
  const text = await readFile(path, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseJobResult(text, path);
}

/** The plan diff in a job's artifacts folder (ArtifactPort.readPlanDiff, locally). */
export async function readPlanDiff(artifactsDir: string): Promise<PlanDiff | undefined> {
  const path = join(artifactsDir, PLAN_DIFF_FILE);
  const text = await readFile(path, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parsePlanDiff(text, path);
}

export interface ExecutorProcessOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly onLine?: (line: string) => void;
  /** Aborting sends SIGINT to the executor alone: it stops Terraform gracefully. */
  readonly signal?: AbortSignal;
  /** The executor's pid, which is also its process group's id. */
  readonly onSpawn?: (pid: number) => void;
}

/**
 * Runs one job in a child process on this Node, as the leader of its own process group (every
 * Terraform it starts is in that group: see local/engine/processes.ts). `job` is passed as
 * given: the executor, not the caller, validates it.
 */
export async function runExecutorProcess(
  job: JobInput | Record<string, unknown>,
  options: ExecutorProcessOptions = {},
): Promise<ExecutorRun> {
  const ran = await run(process.execPath, [EXECUTOR_MAIN, '--job', JSON.stringify(job)], {
    env: executorEnv({ ...process.env, ...options.env }),
    detached: true,
    killSignal: 'SIGINT',
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onSpawn ? { onSpawn: options.onSpawn } : {}),
    ...(options.onLine ? { onLine: (line: string) => options.onLine?.(line) } : {}),
  });
  const artifactsDir = job.artifactsDir;
  const result = typeof artifactsDir === 'string' ? await readResult(artifactsDir) : undefined;
  return {
    exitCode: ran.exitCode,
    stdout: ran.stdout,
    stderr: ran.stderr,
    ...(result ? { result } : {}),
  };
}
