import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { type AslDefinition, aslPath } from '../../state-machines/workflows.ts';
import { edgesOf, elapsed, layoutGraph, renderGraphSvg, runStates } from './graph.ts';

const PLAN_APPLY = JSON.parse(readFileSync(aslPath('plan-apply'), 'utf8')) as AslDefinition;

type Event = Parameters<typeof runStates>[0][number];
const entered = (state: string): Event => ({
  type: 'entered',
  state,
  durationMs: null,
  detail: null,
});
const exited = (state: string, durationMs = 10): Event => ({
  type: 'exited',
  state,
  durationMs,
  detail: null,
});
const failed = (state: string, detail: string): Event => ({
  type: 'failed',
  state,
  durationMs: 5,
  detail,
});
const retried = (state: string): Event => ({
  type: 'retried',
  state,
  durationMs: null,
  detail: null,
});

describe('edgesOf', () => {
  it('reads Next, each Choice and Default, and each Catch of the real plan-apply file', () => {
    const edges = edgesOf(PLAN_APPLY);
    expect(edges).toContainEqual({ from: 'PrepareRun', to: 'LockEnvironment', kind: 'next' });
    expect(edges).toContainEqual({ from: 'PrepareRun', to: 'InvalidInput', kind: 'catch' });
    expect(edges).toContainEqual({
      from: 'AnyPlanFailed',
      to: 'OutcomePlanFailed',
      kind: 'choice',
    });
    expect(edges).toContainEqual({ from: 'AnyPlanFailed', to: 'HasChanges', kind: 'choice' });
    expect(edges).toContainEqual({ from: 'RequestApproval', to: 'OutcomeRejected', kind: 'catch' });
    // The apply loop: a Map state back to the Task before it.
    expect(edges).toContainEqual({ from: 'ApplyLayer', to: 'NextLayer', kind: 'next' });
    // Each pair once, and never a state inside a Map (that is the Map box's).
    const pairs = edges.map((e) => `${e.from}>${e.to}`);
    expect(new Set(pairs).size).toBe(pairs.length);
    expect(pairs.some((p) => p.includes('RunPlanJob'))).toBe(false);
  });
});

describe('layoutGraph', () => {
  const layout = layoutGraph(PLAN_APPLY);
  const node = (name: string) => layout.nodes.find((n) => n.name === name)!;

  it('places every top-level state once, StartAt alone on top, layers by distance', () => {
    expect(layout.nodes.map((n) => n.name).sort()).toEqual(Object.keys(PLAN_APPLY.States).sort());
    expect(layout.nodes.filter((n) => n.layer === 0).map((n) => n.name)).toEqual(['PrepareRun']);
    expect(node('LockEnvironment').layer).toBe(1);
    expect(node('InvalidInput').layer).toBe(1);
    expect(node('NotifyStarted').layer).toBe(2);
    // Further down the graph is further down the picture.
    expect(node('ApplyLayer').y).toBeGreaterThan(node('RequestApproval').y);
    expect(node('RequestApproval').y).toBeGreaterThan(node('PlanProjects').y);
  });

  it('never overlaps two boxes, and fits them all in its size', () => {
    for (const a of layout.nodes) {
      expect(a.x).toBeGreaterThanOrEqual(0);
      expect(a.x + a.width).toBeLessThanOrEqual(layout.width);
      expect(a.y + a.height).toBeLessThanOrEqual(layout.height);
      for (const b of layout.nodes) {
        if (a === b) continue;
        const apart =
          a.x + a.width <= b.x ||
          b.x + b.width <= a.x ||
          a.y + a.height <= b.y ||
          b.y + b.height <= a.y;
        expect({ a: a.name, b: b.name, apart }).toEqual({ a: a.name, b: b.name, apart: true });
      }
    }
  });

  it('makes a box taller for the lines it lists', () => {
    const taller = layoutGraph(PLAN_APPLY, (name) => (name === 'PlanProjects' ? 3 : 0));
    const plain = node('PlanProjects').height;
    expect(taller.nodes.find((n) => n.name === 'PlanProjects')!.height).toBe(plain + 45);
  });
});

describe('runStates', () => {
  it('ends each state with its last exit or failure, counting entries, retries and time', () => {
    const { states } = runStates(
      [
        entered('PrepareRun'),
        exited('PrepareRun', 30),
        entered('LockEnvironment'),
        failed('LockEnvironment', 'LockHeld: held by run r-1'),
        retried('LockEnvironment'),
        entered('LockEnvironment'),
        exited('LockEnvironment', 20),
        entered('NextLayer'),
        exited('NextLayer'),
        entered('NextLayer'),
        exited('NextLayer'),
        entered('RequestApproval'),
      ],
      PLAN_APPLY,
      true,
    );
    expect(states.get('PrepareRun')).toEqual({
      outcome: 'succeeded',
      entries: 1,
      retries: 0,
      durationMs: 30,
      detail: null,
    });
    expect(states.get('LockEnvironment')).toMatchObject({
      outcome: 'succeeded',
      entries: 2,
      retries: 1,
      durationMs: 25,
      detail: 'LockHeld: held by run r-1',
    });
    expect(states.get('NextLayer')).toMatchObject({ outcome: 'succeeded', entries: 2 });
    expect(states.get('RequestApproval')?.outcome).toBe('running');
    expect(states.has('Applied')).toBe(false);
  });

  it('calls a state left open failed once the run ended', () => {
    const { states } = runStates([entered('RequestApproval')], PLAN_APPLY, false);
    expect(states.get('RequestApproval')?.outcome).toBe('failed');
  });

  it('groups a Map state’s iterations by item, failed when a state in it failed', () => {
    const { iterations } = runStates(
      [
        entered('PlanProjects'),
        entered('RunPlanJob [network]'),
        exited('RunPlanJob [network]', 100),
        entered('CollectPlan [network]'),
        exited('CollectPlan [network]', 5),
        entered('ProjectPlanned [network]'),
        exited('ProjectPlanned [network]', 1),
        entered('RunPlanJob [app]'),
        failed('RunPlanJob [app]', 'JobFailed: exit 1'),
        entered('ProjectPlanFailed [app]'),
        exited('ProjectPlanFailed [app]', 1),
        entered('RunPlanJob [db]'),
      ],
      PLAN_APPLY,
      true,
    );
    expect(iterations.get('PlanProjects')).toEqual([
      { item: 'network', lastState: 'ProjectPlanned', outcome: 'succeeded', durationMs: 106 },
      { item: 'app', lastState: 'ProjectPlanFailed', outcome: 'failed', durationMs: 6 },
      { item: 'db', lastState: 'RunPlanJob', outcome: 'running', durationMs: 0 },
    ]);
  });
});

describe('renderGraphSvg', () => {
  it('draws each state with its outcome, the taken edges darker, all text escaped', () => {
    const run = runStates(
      [
        entered('PrepareRun'),
        exited('PrepareRun'),
        entered('LockEnvironment'),
        failed('LockEnvironment', '<b>held</b>'),
        entered('NotifyLockFailed'),
      ],
      PLAN_APPLY,
      true,
    );
    const svg = renderGraphSvg(PLAN_APPLY, run, 'The plan-apply workflow of run <r>');
    expect(svg).toMatch(/^<svg class="graph" [^>]*role="img" aria-labelledby="graph-title">/);
    expect(svg).toContain(
      '<title id="graph-title">The plan-apply workflow of run &lt;r&gt;</title>',
    );
    const outcome = (name: string) =>
      new RegExp(`data-state="${name}" data-outcome="([a-z-]+)"`).exec(svg)?.[1];
    expect(outcome('PrepareRun')).toBe('succeeded');
    expect(outcome('LockEnvironment')).toBe('failed');
    expect(outcome('NotifyLockFailed')).toBe('running');
    expect(outcome('Applied')).toBe('not-reached');
    expect(svg).toContain('class="state state-failed"');
    expect(svg).toContain('&lt;b&gt;held&lt;/b&gt;');
    expect(svg).not.toContain('<b>');
    expect(svg.match(/edge-taken/g)).toHaveLength(2);
    expect(svg.match(/<g class="state /g)).toHaveLength(Object.keys(PLAN_APPLY.States).length);
  });

  it('lists a Map state’s iterations in its box, and counts those past the limit', () => {
    const events = Array.from({ length: 8 }, (_, i) => [
      entered(`RunPlanJob [p${i}]`),
      exited(`RunPlanJob [p${i}]`),
    ]).flat();
    const svg = renderGraphSvg(
      PLAN_APPLY,
      runStates([entered('PlanProjects'), ...events], PLAN_APPLY, true),
      'graph',
    );
    expect(svg).toContain('✓ p0: RunPlanJob 10 ms');
    expect(svg).toContain('+2 more');
    expect(svg).not.toContain('p7: RunPlanJob 10 ms</text>');
  });
});

describe('elapsed', () => {
  it('reads as people write it', () => {
    expect([elapsed(340), elapsed(4200), elapsed(192_000)]).toEqual(['340 ms', '4.2 s', '3m12s']);
  });
});
