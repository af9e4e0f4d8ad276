import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { nextLayer } from './apply-layers.ts';
import { approvalPlanOf, collectProjects } from './project-results.ts';
import { MAX_RUN_PROJECTS } from './contracts/workflow-input.ts';
import {
  STATE_BUDGET_BYTES,
  largeResult,
  largestRun,
  layeredProject,
  layeredRun,
  stateBytes,
} from '../test/support/prepared-runs.ts';

/** network and dns in layer 0, app in 1, jobs in 2 (it has no changes in these tests). */
const prepared = layeredRun({
  workflow: 'plan-apply',
  projects: [
    layeredProject('network', 0),
    layeredProject('dns', 0),
    layeredProject('app', 1),
    layeredProject('jobs', 2),
  ],
});
const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const planned = prepared.projects.map((p) => {
  const hasChanges = p.name !== 'jobs';
  const plan = { dir: p.jobs.plan.artifactsDir, sha256: sha(p.name) };
  return {
    name: p.name,
    dir: p.dir,
    layer: p.layer,
    status: 'planned',
    result: {
      hasChanges,
      summary: { add: hasChanges ? 1 : 0, change: 0, destroy: 0, replace: 0, import: 0 },
      resultLocation: p.jobs.plan.artifactsDir,
      outputs: {},
      plan,
      ...(hasChanges
        ? { applyJob: { ...p.jobs.plan, verb: 'apply', plan, artifactsDir: `/a/${p.name}/apply` } }
        : {}),
    },
  };
});
const turn = (applying: unknown) =>
  nextLayer({ run: prepared.run, projects: prepared.projects, planned, applying });
const applied = (name: string, layer: number) => ({
  name,
  dir: `infra/${name}`,
  layer,
  status: 'applied',
  result: {
    summary: { add: 1, change: 0, destroy: 0 },
    resultLocation: `/a/${name}/apply`,
    outputs: { id: { sensitive: false, value: name } },
  },
});
const rolledBack = (name: string, layer: number) => ({
  name,
  dir: `infra/${name}`,
  layer,
  status: 'rolled_back',
  error: { Error: 'JobFailed', Cause: 'apply failed: boom' },
  rollback: { commit: 'a'.repeat(40), failedCommit: 'c'.repeat(40), message: 'rolled back' },
});

describe('nextLayer', () => {
  it('starts with the first layer: its projects with their apply jobs and rollback views', () => {
    const progress = turn({ layer: -1, applied: [] });
    expect(progress.outcome).toBe('applying');
    expect(progress.layer).toBe(0);
    expect(progress.next.map((item) => item.name)).toEqual(['network', 'dns']);
    expect(progress.next[0]).toMatchObject({
      run: { projectDir: 'infra/network' },
      jobs: { plan: { projectDir: 'infra/network' } },
      applyJob: { verb: 'apply', plan: { sha256: sha('network') } },
    });
    expect(progress.projects.projects.map((p) => [p.name, p.status])).toEqual([
      ['network', 'not_started'],
      ['dns', 'not_started'],
      ['app', 'not_started'],
      ['jobs', 'no_changes'],
    ]);
  });

  it('goes on with the next layer once every project of one applied, skipping unchanged ones', () => {
    const second = turn({
      layer: 0,
      applied: [],
      results: [applied('network', 0), applied('dns', 0)],
    });
    expect(second).toMatchObject({ outcome: 'applying', layer: 1 });
    expect(second.next.map((item) => item.name)).toEqual(['app']);
    // Layer 2 has nothing to apply: after app the apply is over.
    const done = turn({ layer: 1, applied: second.applied, results: [applied('app', 1)] });
    expect(done.outcome).toBe('applied');
    expect(done.next).toEqual([]);
    expect(done.error).toBeUndefined();
    expect(done.projects.failed).toBe(false);
    expect(done.projects.projects.map((p) => [p.name, p.status, p.resultLocation])).toEqual([
      ['network', 'applied', '/a/network/apply'],
      ['dns', 'applied', '/a/dns/apply'],
      ['app', 'applied', '/a/app/apply'],
      ['jobs', 'no_changes', '/artifacts/run-1/project-jobs/plan'],
    ]);
    expect(done.projects.projects[2]?.outputs).toEqual({ id: { sensitive: false, value: 'app' } });
  });

  it('starts no later layer after a project that rolled back: the run’s error and rollback are its own', () => {
    const done = turn({
      layer: 0,
      applied: [],
      results: [applied('network', 0), rolledBack('dns', 0)],
    });
    expect(done.outcome).toBe('rolled_back');
    expect(done.next).toEqual([]);
    expect(done.error).toEqual({ Error: 'JobFailed', Cause: 'dns: apply failed: boom' });
    expect(done.rollback).toMatchObject({ commit: 'a'.repeat(40), message: 'dns: rolled back' });
    expect(done.projects.failed).toBe(true);
    expect(done.projects.projects.map((p) => [p.name, p.status])).toEqual([
      ['network', 'applied'],
      ['dns', 'rolled_back'],
      ['app', 'not_started'],
      ['jobs', 'no_changes'],
    ]);
    expect(done.projects.projects[1]?.error).toEqual({
      name: 'JobFailed',
      message: 'apply failed: boom',
    });
  });

  it('ends failed, with no rollback, after a refused plan', () => {
    const done = turn({
      layer: 0,
      applied: [],
      results: [
        {
          name: 'network',
          dir: 'infra/network',
          layer: 0,
          status: 'failed',
          error: { Error: 'NothingApplied', Cause: null },
        },
        applied('dns', 0),
      ],
    });
    expect(done.outcome).toBe('failed');
    expect(done.rollback).toBeUndefined();
    expect(done.error).toEqual({ Error: 'NothingApplied', Cause: 'network: NothingApplied' });
  });

  it('refuses a turn it cannot trust, naming the field', () => {
    expect(() => turn({ layer: -1 })).toThrow(
      expect.objectContaining({ name: 'InvalidInput', field: 'applying.applying.applied' }),
    );
    expect(() =>
      nextLayer({
        run: prepared.run,
        projects: prepared.projects,
        planned: planned.map((p) => ({ ...p, result: { ...p.result, applyJob: undefined } })),
        applying: { layer: -1, applied: [] },
      }),
    ).toThrow(expect.objectContaining({ name: 'InvalidInput' }));
  });
});

describe('approvalPlanOf', () => {
  it('is a project’s own plan, or for several one digest over each one’s, by name', () => {
    const one = [{ name: 'a', dir: '/r/plan', sha256: 'x' }];
    expect(approvalPlanOf(one, 1)).toEqual({ dir: '/r/plan', sha256: 'x' });
    const two = [
      { name: 'b', dir: '/r/project-b/plan', sha256: 'y' },
      { name: 'a', dir: '/r/project-a/plan', sha256: 'x' },
    ];
    const digest = approvalPlanOf(two, 2);
    expect(digest?.dir).toBe('/r');
    expect(digest?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(approvalPlanOf([...two].reverse(), 2)).toEqual(digest);
    expect(approvalPlanOf([two[0], { ...two[1], sha256: 'z' }] as typeof two, 2)?.sha256).not.toBe(
      digest?.sha256,
    );
    expect(approvalPlanOf([], 2)).toBeUndefined();
  });
});

describe('the state of a plan-apply of the most projects a run may have', () => {
  it(`stays under ${STATE_BUDGET_BYTES / 1024} KB at every turn with ${MAX_RUN_PROJECTS} projects`, () => {
    const many = largestRun({
      workflow: 'plan-apply',
      afterApply: [{ dispatch: { repository: 'acme/app-deploy', event_type: 'infra-applied' } }],
    });
    const plannedMany = many.projects.map((p) => {
      const plan = { dir: p.jobs.plan.artifactsDir, sha256: sha(p.name) };
      return {
        name: p.name,
        dir: p.dir,
        layer: p.layer,
        status: 'planned',
        result: {
          ...largeResult(p.jobs.plan.artifactsDir, p.name, 'plan'),
          plan,
          applyJob: { ...p.jobs.plan, verb: 'apply', plan },
        },
      };
    });
    const plans = collectProjects(plannedMany, many.run.projects ?? []);
    const sizes: number[] = [];
    let applying: unknown = { layer: -1, applied: [] };
    for (let turn = 0; turn < 5; turn += 1) {
      const progress = nextLayer({
        run: many.run,
        projects: many.projects,
        planned: plannedMany,
        applying,
      });
      // The largest the state gets: the layer's Map output next to everything before it.
      const results = progress.next.map((item) => ({
        name: item.name,
        dir: item.dir,
        layer: item.layer,
        status: 'applied',
        result: largeResult(item.applyJob.artifactsDir, item.name, 'apply'),
      }));
      const state = {
        ...many,
        lock: { acquired: true },
        planned: plannedMany,
        plans,
        approval: { approved: true, by: 'someone' },
        applying: { ...progress, results },
      };
      sizes.push(stateBytes(state));
      if (progress.outcome !== 'applying') break;
      applying = { ...progress, results };
    }
    expect(sizes.length).toBe(4);
    expect(Math.max(...sizes)).toBeLessThan(STATE_BUDGET_BYTES);
  });
});
