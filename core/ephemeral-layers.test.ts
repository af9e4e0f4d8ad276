import { describe, expect, it } from '@jest/globals';
import { caught } from '../test/support/caught.ts';
import { nextDestroyLayer } from './destroy-layers.ts';
import { nextCreateLayer } from './ephemeral-layers.ts';
import { InvalidInput } from './errors.ts';
import {
  STATE_BUDGET_BYTES,
  largeResult,
  largestRun,
  layeredProject,
  layeredRun,
  stateBytes,
} from '../test/support/prepared-runs.ts';
import { prepareRun } from './run.ts';

const prepared = layeredRun({
  workflow: 'ephemeral',
  environment: 'pr-7',
  ttlSeconds: 3600,
  projects: [
    layeredProject('network', 0),
    { ...layeredProject('dns', 0), workspace: 'pr-7' },
    { ...layeredProject('app', 1), varFiles: ['infra/app/envs/pr.tfvars'] },
  ],
});
const turn = (creating: unknown) =>
  nextCreateLayer({ run: prepared.run, projects: prepared.projects, creating });
const applied = (name: string, layer: number) => ({
  name,
  dir: `infra/${name}`,
  layer,
  status: 'applied',
  result: {
    summary: { add: 2, change: 0, destroy: 0 },
    resultLocation: `/artifacts/run-1/project-${name}/apply`,
    outputs: { id: { sensitive: false, value: name } },
    startedAt: '2026-12-03T10:00:00Z',
    finishedAt: '2026-12-03T10:01:00Z',
  },
});
const failed = (name: string, layer: number) => ({
  name,
  dir: `infra/${name}`,
  layer,
  status: 'failed',
  error: { Error: 'JobFailed', Cause: 'plan-apply failed: Error: boom' },
});

describe('nextCreateLayer', () => {
  it('creates layer by layer, each project with its plan-apply job, then says it is created', () => {
    const first = turn({ layer: -1, created: [] });
    expect(first).toMatchObject({ outcome: 'creating', layer: 0, started: [] });
    expect(first.next.map((item) => [item.name, item.jobs.planApply.verb])).toEqual([
      ['network', 'plan-apply'],
      ['dns', 'plan-apply'],
    ]);
    // Each item has its own run view and the job that would destroy it again.
    expect(first.next[1]?.run.projects).toEqual([
      { name: 'dns', dir: 'infra/dns', layer: 0, workspace: 'pr-7', varFiles: [] },
    ]);
    expect(first.next[1]?.jobs.destroy).toMatchObject({ verb: 'destroy', workspace: 'pr-7' });

    const second = turn({
      layer: 0,
      created: [],
      results: [applied('network', 0), applied('dns', 0)],
    });
    expect(second).toMatchObject({ outcome: 'creating', layer: 1 });
    expect(second.next.map((item) => item.name)).toEqual(['app']);
    expect(second.projects.projects.map((p) => [p.name, p.status])).toEqual([
      ['network', 'applied'],
      ['dns', 'applied'],
      ['app', 'not_started'],
    ]);

    const done = turn({ layer: 1, created: second.created, results: [applied('app', 1)] });
    expect(done.outcome).toBe('created');
    expect(done.next).toEqual([]);
    expect(done.error).toBeUndefined();
    expect(done.started).toEqual(['network', 'dns', 'app']);
    expect(done.projects.failed).toBe(false);
    expect(done.projects.summary.add).toBe(6);
    expect(done.projects.projects[2]).toMatchObject({
      name: 'app',
      status: 'applied',
      varFiles: ['infra/app/envs/pr.tfvars'],
      outputs: { id: { sensitive: false, value: 'app' } },
      resultLocation: '/artifacts/run-1/project-app/apply',
      startedAt: '2026-12-03T10:00:00Z',
    });
  });

  it('starts no later layer once a project failed, and hands what started to the cleanup', () => {
    const done = turn({
      layer: 0,
      created: [],
      results: [applied('network', 0), failed('dns', 0)],
    });
    expect(done.outcome).toBe('failed');
    expect(done.next).toEqual([]);
    expect(done.error).toEqual({
      Error: 'JobFailed',
      Cause: 'dns: plan-apply failed: Error: boom',
    });
    expect(done.projects.projects.map((p) => [p.name, p.status])).toEqual([
      ['network', 'applied'],
      ['dns', 'failed'],
      ['app', 'not_started'],
    ]);
    // Both started (a failed apply may have created part of its resources); app never did.
    expect(done.started).toEqual(['network', 'dns']);

    // The cleanup is a destroy of exactly those, in reverse layers.
    const cleanup = nextDestroyLayer({
      run: prepared.run,
      projects: prepared.projects,
      only: done.started,
      destroying: { layer: null, destroyed: [] },
    });
    expect(cleanup.projects.projects.map((p) => p.name)).toEqual(['network', 'dns']);
    expect(cleanup.next.map((item) => [item.name, item.jobs.destroy.projectDir])).toEqual([
      ['network', 'infra/network'],
      ['dns', 'infra/dns'],
    ]);
  });

  it('names no project in the error of a run of one', () => {
    const single = prepareRun(
      {
        runId: 'run-2',
        workflow: 'ephemeral',
        repository: '/repo',
        commit: 'c'.repeat(40),
        projectDir: 'stack',
        environment: 'pr-7',
        ttlSeconds: 3600,
      },
      { backend: { type: 'local', stateDir: '/state' }, artifactsRoot: '/artifacts' },
    );
    const done = nextCreateLayer({
      run: single.run,
      projects: single.projects,
      creating: {
        layer: 0,
        created: [],
        results: [{ ...failed('stack', 0), name: 'stack', dir: 'stack' }],
      },
    });
    expect(done.error).toEqual({ Error: 'JobFailed', Cause: 'plan-apply failed: Error: boom' });
  });

  it('names the bad field of its input', () => {
    const error = caught(() => turn({ layer: -2, created: [] }));
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as InvalidInput).field).toBe('creating.creating.layer');
  });
});

describe('the state of an ephemeral run of the most projects a run may have', () => {
  it(`stays under ${STATE_BUDGET_BYTES / 1024} KB through its create and its cleanup`, () => {
    const many = largestRun({
      workflow: 'ephemeral',
      environment: 'pull-request-12345-preview',
      ttlSeconds: 86_400,
    });
    const sizes: number[] = [];
    let creating: unknown = { layer: -1, created: [] };
    let last: ReturnType<typeof nextCreateLayer> | undefined;
    for (let turn = 0; turn < 5; turn += 1) {
      const progress = nextCreateLayer({ run: many.run, projects: many.projects, creating });
      const results = progress.next.map((item) => ({
        name: item.name,
        dir: item.dir,
        layer: item.layer,
        status: 'applied',
        result: largeResult(item.jobs.planApply.artifactsDir, item.name, 'plan-apply'),
      }));
      sizes.push(stateBytes({ ...many, creating: { ...progress, results } }));
      last = progress;
      if (progress.outcome !== 'creating') break;
      creating = { ...progress, results };
    }
    expect(last?.outcome).toBe('created');
    // The largest: every project created (the schedule failed), then destroyed again.
    const cleanup = { only: last?.started, error: { Error: 'States.TaskFailed', Cause: 'x' } };
    let destroying: unknown = { layer: null, destroyed: [] };
    for (let turn = 0; turn < 5; turn += 1) {
      const progress = nextDestroyLayer({
        run: many.run,
        projects: many.projects,
        only: cleanup.only,
        destroying,
      });
      const results = progress.next.map((item) => ({
        name: item.name,
        dir: item.dir,
        layer: item.layer,
        status: 'destroyed',
        result: largeResult(item.jobs.destroy.artifactsDir, item.name, 'destroy'),
      }));
      const state = { ...many, creating: last, cleanup, destroying: { ...progress, results } };
      sizes.push(stateBytes(state));
      if (progress.outcome !== 'destroying') break;
      destroying = { ...progress, results };
    }
    expect(sizes.length).toBe(8);
    expect(Math.max(...sizes)).toBeLessThan(STATE_BUDGET_BYTES);
  });
});
