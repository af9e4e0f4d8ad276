// A saved plan travels as two artifacts: the plan file and its metadata. Apply trusts
// neither: it applies a private copy of the file only when that copy hashes to the approved
// digest, was made from the same commit, repository, environment and project, and the state
// is the very one the plan was made against.
import { createHash } from 'node:crypto';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ForeignPlan, PlanDigestMismatch, PlanNotFound, StalePlan } from '../../core/errors.ts';
import {
  COMMIT_SHA,
  ENVIRONMENT_NAME,
  type Job,
  type PlanRef,
  namedWorkspace,
  RUN_ID,
  SHA256_HEX,
} from '../../core/contracts/job-input.ts';
import { STATE_IDENTITY, type StateIdentity } from '../../core/contracts/job-result.ts';
import { describeState, sameState } from './state.ts';

export const PLAN_FILE = 'plan.tfplan';
export const PLAN_METADATA_FILE = 'plan.meta.json';

export const PLAN_METADATA = z.strictObject({
  schemaVersion: z.literal(1),
  runId: RUN_ID,
  repository: z.string(),
  commit: COMMIT_SHA,
  environment: ENVIRONMENT_NAME,
  projectDir: z.string(),
  /** The named workspace it was planned in (null: the default one; absent in older plans). */
  workspace: z.string().nullable().default(null),
  destroy: z.boolean(),
  sha256: SHA256_HEX,
  /** The state the plan was made against; null when there was none. */
  stateAtPlan: STATE_IDENTITY.nullable(),
  engine: z.strictObject({ name: z.string(), version: z.string() }),
  createdAt: z.string(),
});
export type PlanMetadata = z.output<typeof PLAN_METADATA>;

export async function sha256File(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** Copies the plan into the artifacts folder and writes its metadata beside it. */
export async function storePlan(
  planPath: string,
  artifactsDir: string,
  metadata: Omit<PlanMetadata, 'sha256' | 'schemaVersion'>,
): Promise<{ path: string; metadataPath: string; sha256: string }> {
  const path = join(artifactsDir, PLAN_FILE);
  await copyFile(planPath, path);
  const sha256 = await sha256File(path);
  const metadataPath = join(artifactsDir, PLAN_METADATA_FILE);
  const full: PlanMetadata = { schemaVersion: 1, ...metadata, sha256 };
  await writeFile(metadataPath, `${JSON.stringify(full, null, 2)}\n`, { mode: 0o600 });
  return { path, metadataPath, sha256 };
}

/**
 * Copies the approved plan to `destination` and checks the copy (so the file cannot change
 * between the check and the apply) and its metadata against the job. Throws before anything
 * is applied: PlanNotFound, PlanDigestMismatch or ForeignPlan.
 */
export async function takeApprovedPlan(
  ref: PlanRef,
  job: Job,
  destination: string,
): Promise<PlanMetadata> {
  let metadata: PlanMetadata;
  try {
    metadata = PLAN_METADATA.parse(
      JSON.parse(await readFile(join(ref.dir, PLAN_METADATA_FILE), 'utf8')),
    );
    await copyFile(join(ref.dir, PLAN_FILE), destination);
  } catch (error) {
    throw new PlanNotFound(`no readable saved plan in ${ref.dir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const digest = await sha256File(destination);
  if (digest !== ref.sha256) {
    throw new PlanDigestMismatch(
      `plan file has SHA-256 ${digest}, not the approved ${ref.sha256}: it changed after review`,
    );
  }
  if (metadata.sha256 !== ref.sha256) {
    throw new PlanDigestMismatch(
      `plan metadata describes SHA-256 ${metadata.sha256}, not the approved ${ref.sha256}`,
    );
  }
  const mismatches = (
    [
      ['commit', metadata.commit, job.commit],
      ['repository', metadata.repository, job.repository],
      ['environment', metadata.environment, job.environment],
      ['project', metadata.projectDir, job.projectDir],
      ['workspace', metadata.workspace ?? 'default', namedWorkspace(job.workspace) ?? 'default'],
    ] as const
  ).filter(([, planned, asked]) => planned !== asked);
  if (mismatches.length > 0) {
    const detail = mismatches
      .map(([what, planned, asked]) => `${what} ${planned}, not ${asked}`)
      .join('; ');
    throw new ForeignPlan(`the plan was made for another target: ${detail}`);
  }
  return metadata;
}

/** Refuses a plan whose state has moved on, including two plans made from an empty state. */
export function assertStateUnchanged(metadata: PlanMetadata, current: StateIdentity | null): void {
  if (!sameState(metadata.stateAtPlan, current)) {
    throw new StalePlan(
      `the state changed since the plan was made (planned against ${describeState(metadata.stateAtPlan)}, now ${describeState(current)}): plan again`,
    );
  }
}
