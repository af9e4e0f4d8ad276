// On AWS Batch the job's folders are in the container only: the result, log and plan are
// uploaded to S3 after the job (where CollectJobResult reads them), and an apply first
// downloads the plan it was given. Locally the folders are shared, so nothing moves.
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PlanNotFound } from '../../core/errors.ts';
import { PLAN_FILE, PLAN_METADATA_FILE } from './plan-store.ts';
import { RESULT_FILE } from '../../core/contracts/job-result.ts';

/** What the sync needs of the artifact store (S3ArtifactPort has it). */
export interface ArtifactStore {
  getArtifact(location: string, name: string): Promise<Uint8Array | undefined>;
  putArtifact(location: string, name: string, body: string | Uint8Array): Promise<string>;
}

/** Downloads a saved plan and its metadata into `dir` before an apply checks them. */
export async function pullPlan(store: ArtifactStore, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const name of [PLAN_FILE, PLAN_METADATA_FILE]) {
    const body = await store.getArtifact(dir, name);
    if (body === undefined) throw new PlanNotFound(`no ${name} in the artifacts of ${dir}`);
    await writeFile(join(dir, name), body, { mode: 0o600 });
  }
}

/** Uploads every file of the job's folder, result.json last: its presence means the rest is there. */
export async function pushArtifacts(store: ArtifactStore, dir: string): Promise<string[]> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => e.name);
  const ordered = [
    ...names.filter((n) => n !== RESULT_FILE).sort(),
    ...names.filter((n) => n === RESULT_FILE),
  ];
  const uploaded: string[] = [];
  for (const name of ordered)
    uploaded.push(await store.putArtifact(dir, name, await readFile(join(dir, name))));
  return uploaded;
}
