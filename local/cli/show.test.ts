import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInput } from '../../core/errors.ts';
import type { PlanDiff } from '../../core/plan-diff.ts';
import { caught } from '../../test/support/caught.ts';
import { planDiffFiles, planDiffsOf } from '../engine/plan-diffs.ts';
import { wantsColour } from './show.ts';

const folders: string[] = [];
afterAll(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

const diff = (address: string): PlanDiff => ({
  resources: [
    {
      address,
      action: 'delete',
      createBeforeDestroy: false,
      replacePaths: [],
      importing: false,
      attributes: { kind: 'object', entries: [], unchanged: 2 },
    },
  ],
  outputs: [],
});

async function runFolder(files: Record<string, unknown>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'show-'));
  folders.push(root);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), JSON.stringify(content));
  }
  return root;
}

describe('planDiffsOf', () => {
  it('reads each project’s diff of a run of several, by name, the plan job’s before an apply’s', async () => {
    const root = await runFolder({
      'project-network/plan/plan-diff.json': diff('terraform_data.network'),
      'project-app/apply/plan-diff.json': diff('terraform_data.app'),
      'project-app/plan/other.json': {},
      'project-dns/destroy/result.json': {},
    });
    const plans = planDiffsOf(root);
    expect(plans.map((p) => [p.project, p.diff.resources[0]?.address])).toEqual([
      ['app', 'terraform_data.app'],
      ['network', 'terraform_data.network'],
    ]);
  });

  it('reads a run of one project from its own plan folder; nothing when there is none', async () => {
    const root = await runFolder({ 'plan/plan-diff.json': diff('terraform_data.one') });
    expect(planDiffsOf(root).map((p) => p.project)).toEqual([null]);
    expect(planDiffsOf(join(root, 'absent'))).toEqual([]);
  });

  it('refuses a diff that is not one, naming its file and field', async () => {
    const root = await runFolder({ 'plan/plan-diff.json': { resources: [{}], outputs: [] } });
    const error = caught(() => planDiffsOf(root));
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as InvalidInput).field).toMatch(/plan-diff\.json\.resources\.0\.address$/);
  });
});

describe('wantsColour', () => {
  it('colours a terminal unless NO_COLOR is set, and never a pipe', () => {
    expect(wantsColour({ env: {}, outIsTerminal: true })).toBe(true);
    expect(wantsColour({ env: { NO_COLOR: '1' }, outIsTerminal: true })).toBe(false);
    expect(wantsColour({ env: { NO_COLOR: '' }, outIsTerminal: true })).toBe(true);
    expect(wantsColour({ env: {}, outIsTerminal: false })).toBe(false);
    expect(wantsColour({ env: {} })).toBe(false);
  });
});

describe('planDiffFiles', () => {
  it('chooses the same files from a bucket listing as from a folder', () => {
    expect(
      planDiffFiles([
        'project-network/plan/plan-diff.json',
        'project-network/plan/executor.log',
        'project-app/apply/plan-diff.json',
        'project-app/plan/other.json',
        'project-dns/destroy/result.json',
      ]),
    ).toEqual([
      { project: 'app', name: 'project-app/apply/plan-diff.json' },
      { project: 'network', name: 'project-network/plan/plan-diff.json' },
    ]);
    expect(planDiffFiles(['plan/plan-diff.json', 'apply/plan-diff.json'])).toEqual([
      { project: null, name: 'plan/plan-diff.json' },
    ]);
    expect(planDiffFiles(['plan/executor.log'])).toEqual([]);
  });
});
