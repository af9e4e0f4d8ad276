import { describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInput } from '../../core/validation.ts';
import { JOB } from '../../core/contracts/job-input.ts';
import {
  PLAN_FILE,
  assertStateUnchanged,
  sha256File,
  storePlan,
  takeApprovedPlan,
} from './plan-store.ts';

const COMMIT = 'a'.repeat(40);

async function storedPlan(state: { lineage: string; serial: number } | null = null) {
  const dir = await mkdtemp(join(tmpdir(), 'stepform-plan-store-'));
  const source = join(dir, 'source.tfplan');
  await writeFile(source, 'plan bytes');
  const stored = await storePlan(source, dir, {
    runId: 'r1',
    repository: '/repo',
    commit: COMMIT,
    environment: 'dev',
    projectDir: 'p',
    workspace: null,
    destroy: false,
    stateAtPlan: state,
    engine: { name: 'opentofu', version: '1.12.6' },
    createdAt: '2026-11-23T00:00:00.000Z',
  });
  const job = parseInput(
    JOB,
    {
      runId: 'r2',
      verb: 'apply',
      repository: '/repo',
      commit: COMMIT,
      projectDir: 'p',
      environment: 'dev',
      backend: { type: 'local', stateDir: '/s' },
      artifactsDir: '/a',
      plan: { dir, sha256: stored.sha256 },
    },
    'job',
  );
  return { dir, stored, job, destination: join(dir, 'copy.tfplan') };
}

describe('storePlan', () => {
  it('stores the plan with its SHA-256 and metadata', async () => {
    const { dir, stored } = await storedPlan({ lineage: 'l', serial: 3 });
    expect(stored.sha256).toBe(await sha256File(join(dir, PLAN_FILE)));
    expect(JSON.parse(await readFile(stored.metadataPath, 'utf8'))).toMatchObject({
      schemaVersion: 1,
      sha256: stored.sha256,
      commit: COMMIT,
      stateAtPlan: { lineage: 'l', serial: 3 },
    });
  });
});

describe('takeApprovedPlan', () => {
  it('reads the metadata of a plan stored before workspaces as the default workspace', async () => {
    const { job, destination, stored } = await storedPlan();
    if (job.verb !== 'apply') throw new Error('unreachable');
    const older = JSON.parse(await readFile(stored.metadataPath, 'utf8')) as Record<
      string,
      unknown
    >;
    delete older.workspace;
    await writeFile(stored.metadataPath, JSON.stringify(older));
    expect((await takeApprovedPlan(job.plan, job, destination)).workspace).toBeNull();
    await expect(
      takeApprovedPlan(job.plan, { ...job, workspace: 'default' }, destination),
    ).resolves.toMatchObject({ workspace: null });
  });

  it('copies the approved plan and returns its metadata', async () => {
    const { job, destination, stored } = await storedPlan();
    if (job.verb !== 'apply') throw new Error('unreachable');
    const metadata = await takeApprovedPlan(job.plan, job, destination);
    expect(metadata.sha256).toBe(stored.sha256);
    expect(await readFile(destination, 'utf8')).toBe('plan bytes');
  });

  it('refuses a changed plan file', async () => {
    const { dir, job, destination } = await storedPlan();
    if (job.verb !== 'apply') throw new Error('unreachable');
    await writeFile(join(dir, PLAN_FILE), 'other bytes');
    await expect(takeApprovedPlan(job.plan, job, destination)).rejects.toMatchObject({
      name: 'PlanDigestMismatch',
    });
  });

  it('refuses metadata that describes another plan', async () => {
    const { dir, job, destination, stored } = await storedPlan();
    if (job.verb !== 'apply') throw new Error('unreachable');
    const metadata = JSON.parse(await readFile(stored.metadataPath, 'utf8')) as Record<
      string,
      unknown
    >;
    await writeFile(stored.metadataPath, JSON.stringify({ ...metadata, sha256: 'b'.repeat(64) }));
    await expect(takeApprovedPlan(job.plan, job, destination)).rejects.toMatchObject({
      name: 'PlanDigestMismatch',
    });
    await expect(
      takeApprovedPlan({ dir, sha256: 'c'.repeat(64) }, job, destination),
    ).rejects.toMatchObject({
      name: 'PlanDigestMismatch',
    });
  });

  it.each([
    ['commit', { commit: 'b'.repeat(40) }],
    ['repository', { repository: '/other' }],
    ['environment', { environment: 'prod' }],
    ['project', { projectDir: 'q' }],
    ['workspace', { workspace: 'blue' }],
  ])('refuses a plan made for another %s', async (what, override) => {
    const { job, destination } = await storedPlan();
    if (job.verb !== 'apply') throw new Error('unreachable');
    await expect(
      takeApprovedPlan(job.plan, { ...job, ...override }, destination),
    ).rejects.toMatchObject({
      name: 'ForeignPlan',
      message: expect.stringContaining(what),
    });
  });

  it('reports a missing plan', async () => {
    const { job, destination } = await storedPlan();
    if (job.verb !== 'apply') throw new Error('unreachable');
    await expect(
      takeApprovedPlan({ ...job.plan, dir: '/nonexistent' }, job, destination),
    ).rejects.toMatchObject({
      name: 'PlanNotFound',
    });
  });
});

describe('assertStateUnchanged', () => {
  it('accepts the same state and refuses any other, including empty against new', async () => {
    const { stored } = await storedPlan(null);
    const metadata = JSON.parse(await readFile(stored.metadataPath, 'utf8')) as Parameters<
      typeof assertStateUnchanged
    >[0];
    expect(() => assertStateUnchanged(metadata, null)).not.toThrow();
    expect(() => assertStateUnchanged(metadata, { lineage: 'l', serial: 1 })).toThrow(
      expect.objectContaining({ name: 'StalePlan' }),
    );
    const later = { ...metadata, stateAtPlan: { lineage: 'l', serial: 1 } };
    expect(() => assertStateUnchanged(later, { lineage: 'l', serial: 1 })).not.toThrow();
    expect(() => assertStateUnchanged(later, { lineage: 'l', serial: 2 })).toThrow(
      expect.objectContaining({ name: 'StalePlan' }),
    );
  });
});
