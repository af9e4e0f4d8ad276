// In a local run, a plan job hands its checkout, initialised, to the apply job that follows it:
// the same commit, project, environment, workspace, var files, backend and engine give the same
// checkout and the same `init`, so the apply job skips both. With it goes the plan's
// `show -json`, under the digest of the plan it shows: an apply of that very plan reads its
// sensitive values from there instead of showing it again. The folder lives in the run's own
// work root (the local engine's $STEPFORM_PREPARED_ROOT, removed when the run ends); on Batch
// every job starts in a fresh container and nothing is handed on.
//
// It is as safe as a fresh checkout: the apply still takes the approved plan from the artifacts
// by its digest, and Terraform applies the configuration saved in that plan, not the folder's.
// The plan JSON holds the plan's secrets, as the plan itself does: mode 0600, in the same
// private folder, gone with the run.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
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

/** A saved plan's `show -json`, as the engine printed it, and the plan's SHA-256. */
export interface ShownPlan {
  readonly sha256: string;
  readonly json: string;
}

const CHECKOUT = 'checkout';
const PLAN_JSON_FILE = 'plan.json';
const PLAN_SHA256_FILE = 'plan.sha256';

/**
 * Leaves `checkout` (and the plan's JSON) for a later job of the run under `key`. Assembled
 * beside it and renamed into place, so a taker sees all of it or nothing. Best effort: when it
 * cannot be kept (one is already there), it is removed, as without reuse.
 */
export async function keepPrepared(
  root: string,
  key: string,
  checkout: string,
  shown?: ShownPlan,
): Promise<boolean> {
  let staging: string | undefined;
  try {
    await mkdir(root, { recursive: true, mode: 0o700 });
    staging = await mkdtemp(join(root, `${key}.`));
    await rename(checkout, join(staging, CHECKOUT));
    if (shown !== undefined) {
      await writeFile(join(staging, PLAN_JSON_FILE), shown.json, { mode: 0o600 });
      await writeFile(join(staging, PLAN_SHA256_FILE), shown.sha256, { mode: 0o600 });
    }
    await rename(staging, join(root, key));
    return true;
  } catch {
    if (staging !== undefined) await rm(staging, { recursive: true, force: true });
    return false;
  }
}

/** What a job took: the checkout, in place, and the plan JSON handed on with it. */
export interface TakenPrepared {
  /** The `show -json` of the plan whose digest is `sha256`; undefined for any other plan. */
  shownPlan(sha256: string): Promise<string | undefined>;
}

/**
 * Takes what was kept under `key`: its checkout becomes `checkout` (which must not exist), the
 * rest goes into `into` (likewise). A rename, so one job at most gets it. undefined when there
 * is none.
 */
export async function takePrepared(
  root: string,
  key: string,
  checkout: string,
  into: string,
): Promise<TakenPrepared | undefined> {
  try {
    await rename(join(root, key), into);
  } catch {
    return undefined;
  }
  await rename(join(into, CHECKOUT), checkout);
  return {
    shownPlan: async (sha256) => {
      const kept = await readFile(join(into, PLAN_SHA256_FILE), 'utf8').catch(() => undefined);
      if (kept !== sha256) return undefined;
      return readFile(join(into, PLAN_JSON_FILE), 'utf8').catch(() => undefined);
    },
  };
}
