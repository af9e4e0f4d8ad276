import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInput } from '../../core/errors.ts';
import type { PlanDiff } from '../../core/plan-diff.ts';
import { caught } from '../../test/support/caught.ts';
import { planDiffFiles, planDiffsOf } from '../engine/plan-diffs.ts';
import type { PolicyResult } from '../../core/policy.ts';
import type { Io } from './io.ts';
import type { CliValues } from './main.ts';
import { renderShow, wantsColour } from './show.ts';

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

describe('renderShow', () => {
  const io = (values: CliValues) => {
    const out: string[] = [];
    const sink: Io = {
      out: (text) => void out.push(text),
      err: () => undefined,
      cwd: '/',
      env: { NO_COLOR: '1' },
      interactive: false,
      ask: async () => Promise.resolve(''),
    };
    return {
      out,
      show: (policy: readonly PolicyResult[]) => renderShow('run-1', PLANS, policy, values, sink),
    };
  };
  const PLANS = [
    { project: 'app', diff: diff('terraform_data.app') },
    { project: 'network', diff: diff('terraform_data.network') },
  ];
  const set = (project: string): PolicyResult => ({
    policy: 'guardrails',
    project,
    onFailure: 'block',
    passed: false,
    violations: [{ policy: 'guardrails', rule: 'deny', message: `no ${project}` }],
  });

  it('prints each set’s verdict after the plans, of the --project names only', () => {
    const { out, show } = io({ project: ['network'] });
    show([set('app'), set('network')]);
    const text = out.join('');
    expect(text).toContain('terraform_data.network');
    expect(text).not.toContain('terraform_data.app');
    expect(text).toMatch(
      /\npolicy checks:\n {2}policy guardrails on network: failed \(blocks the run\)\n {4}✗ deny {2}no network\n$/,
    );
    expect(text).not.toContain('on app');
  });

  it('gives the results under `policy` with --json, and leaves it out when none ran', () => {
    const checked = io({ json: true });
    checked.show([set('app')]);
    expect(JSON.parse(checked.out.join(''))).toMatchObject({
      runId: 'run-1',
      policy: [set('app')],
    });
    const unchecked = io({ json: true });
    unchecked.show([]);
    expect(JSON.parse(unchecked.out.join(''))).not.toHaveProperty('policy');
  });
});
