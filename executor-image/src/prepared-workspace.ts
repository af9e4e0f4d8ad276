// In a local run, a plan job hands its checkout, initialised, to the apply job that follows it:
// the same commit, project, environment, workspace, var files, backend and engine give the same
// checkout and the same `init`, so the apply job skips both. The folder lives in the run's own
// work root (the local engine's $STEPFORM_PREPARED_ROOT, removed when the run ends); on Batch
// every job starts in a fresh container and nothing is handed on.
//
// It is as safe as a fresh checkout: the apply still takes the approved plan from the artifacts
// by its digest, and Terraform applies the configuration saved in that plan, not the folder's.
import { createHash } from 'node:crypto';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { type Job, namedWorkspace } from '../../core/contracts/job-input.ts';
import type { Engine } from '../../toolchain/engine.ts';

/** What makes two jobs' checkout and `init` the same: their key. */
export interface PreparedFor {
  readonly job: Job;
  readonly engine: Pick<Engine, 'path' | 'version'>;
  readonly mirrorDir: string;
  readonly pluginCacheDir?: string;
}

export function preparedKey({ job, engine, mirrorDir, pluginCacheDir }: PreparedFor): string {
  const identity = {
    repository: job.repository,
    commit: job.commit,
    projectDir: job.projectDir,
    environment: job.environment,
    workspace: namedWorkspace(job.workspace) ?? null,
    varFiles: job.varFiles,
    backend: job.backend,
    engine: { path: engine.path, version: engine.version },
    mirrorDir,
    pluginCacheDir: pluginCacheDir ?? null,
  };
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex');
}

/**
 * Leaves `checkout` for a later job of the run under `key`. Best effort: a folder that cannot
 * be moved (one is already there) is removed with the job's work folder, as without reuse.
 */
export async function keepPrepared(root: string, key: string, checkout: string): Promise<boolean> {
  try {
    await mkdir(root, { recursive: true, mode: 0o700 });
    await rename(checkout, join(root, key));
    return true;
  } catch {
    return false;
  }
}

/**
 * Takes the checkout kept under `key` into `destination` (which must not exist): a rename, so
 * one job at most gets it. false when there is none.
 */
export async function takePrepared(
  root: string,
  key: string,
  destination: string,
): Promise<boolean> {
  try {
    await rename(join(root, key), destination);
    return true;
  } catch {
    return false;
  }
}
