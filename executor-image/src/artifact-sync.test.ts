import { describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ArtifactStore, pullPlan, pushArtifacts } from './artifact-sync.ts';

function memoryStore(initial: Record<string, string> = {}) {
  const objects = new Map<string, Uint8Array>(
    Object.entries(initial).map(([key, value]) => [key, Buffer.from(value)]),
  );
  const puts: string[] = [];
  const store: ArtifactStore = {
    getArtifact: async (location, name) => objects.get(`${location}/${name}`),
    putArtifact: async (location, name, body) => {
      puts.push(name);
      objects.set(`${location}/${name}`, Buffer.from(body));
      return `s3://bucket${location}/${name}`;
    },
  };
  return { store, objects, puts };
}

describe('artifact sync', () => {
  it('uploads every file of the job folder with result.json last', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stepform-sync-'));
    for (const name of ['result.json', 'executor.log', 'plan.tfplan', 'plan.meta.json']) {
      await writeFile(join(dir, name), name);
    }
    const { store, puts } = memoryStore();
    const uploaded = await pushArtifacts(store, dir);
    expect(puts).toEqual(['executor.log', 'plan.meta.json', 'plan.tfplan', 'result.json']);
    expect(uploaded.at(-1)).toBe(`s3://bucket${dir}/result.json`);
  });

  it('downloads the plan and its metadata before an apply', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'stepform-sync-')), 'run-1', 'plan');
    const { store } = memoryStore({
      [`${dir}/plan.tfplan`]: 'PLAN',
      [`${dir}/plan.meta.json`]: '{}',
    });
    await pullPlan(store, dir);
    expect(await readFile(join(dir, 'plan.tfplan'), 'utf8')).toBe('PLAN');
    expect(await readFile(join(dir, 'plan.meta.json'), 'utf8')).toBe('{}');
  });

  it('fails with PlanNotFound when the plan was never uploaded', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'stepform-sync-')), 'missing');
    await expect(pullPlan(memoryStore().store, dir)).rejects.toMatchObject({
      name: 'PlanNotFound',
    });
  });
});
