import { describe, expect, it } from '@jest/globals';
import { collectProjects } from './project-results.ts';

const planned = (name: string, layer: number, counts: Partial<Record<string, number>> = {}) => ({
  name,
  dir: `infra/${name}`,
  layer,
  status: 'planned',
  result: {
    status: 'succeeded',
    hasChanges: Object.values(counts).some((n) => (n ?? 0) > 0),
    summary: { add: 0, change: 0, destroy: 0, replace: 0, import: 0, ...counts },
    resultLocation: `/artifacts/run-1/project-${name}/plan`,
    outputs: { id: { sensitive: false, value: name } },
  },
});
const failed = (name: string, layer: number, cause: string | null = 'plan failed: boom') => ({
  name,
  dir: `infra/${name}`,
  layer,
  status: 'failed',
  error: { Error: 'JobFailed', Cause: cause },
});

describe('collectProjects', () => {
  it('adds the counts up and keeps each project in execution order', () => {
    const collected = collectProjects(
      [planned('network', 0, { add: 2 }), planned('app', 1, { change: 1, destroy: 1, replace: 1 })],
      [
        {
          name: 'network',
          dir: 'infra/network',
          layer: 0,
          workspace: 'dev',
          varFiles: ['dev.tfvars'],
        },
        { name: 'app', dir: 'infra/app', layer: 1, varFiles: [] },
      ],
    );
    expect(collected).toMatchObject({
      failed: false,
      hasChanges: true,
      summary: { add: 2, change: 1, destroy: 1, replace: 1, import: 0 },
    });
    expect(collected.error).toBeUndefined();
    expect(collected.projects.map((p) => [p.name, p.layer, p.status, p.hasChanges])).toEqual([
      ['network', 0, 'planned', true],
      ['app', 1, 'planned', true],
    ]);
    expect(collected.projects[0]).toMatchObject({
      workspace: 'dev',
      varFiles: ['dev.tfvars'],
      resultLocation: '/artifacts/run-1/project-network/plan',
      outputs: { id: { sensitive: false, value: 'network' } },
    });
  });

  it('blocks the run when a blocking policy set failed on a project, naming each such project', () => {
    const checked = (name: string, policy: Record<string, unknown>) => {
      const project = planned(name, 0, { add: 1 });
      return { ...project, result: { ...project.result, policy } };
    };
    const collected = collectProjects(
      [
        checked('network', { outcome: 'blocked', blockedBy: ['guardrails'], deny: 2, warn: 1 }),
        checked('app', { outcome: 'warned', blockedBy: [], deny: 1, warn: 0 }),
        planned('dns', 0, { add: 1 }),
      ],
      [],
    );
    expect(collected.policyBlocked).toBe(true);
    expect(collected.policyError).toEqual({
      Error: 'PolicyBlocked',
      Cause:
        'policy checks failed, nothing was applied: network: blocked by guardrails (2 deny, 1 warn)',
    });
    expect(collected.projects.map((p) => p.policy?.outcome)).toEqual([
      'blocked',
      'warned',
      undefined,
    ]);
    const clear = collectProjects(
      [checked('app', { outcome: 'passed', blockedBy: [], deny: 0, warn: 0 })],
      [],
    );
    expect(clear.policyBlocked).toBe(false);
    expect(clear.policyError).toBeUndefined();
    // Nobody may override here (no policies with owners): the run ends blocked.
    expect(collected.policyOverride).toBeUndefined();
    const owned = collectProjects(
      [checked('network', { outcome: 'blocked', blockedBy: ['guardrails'], deny: 1, warn: 0 })],
      [],
      [
        { name: 'guardrails', owners: ['alice', 'bob'] },
        { name: 'tags', owners: ['bob'] },
      ],
    );
    expect(owned.policyOverride).toEqual({ blockedBy: ['guardrails'], owners: ['alice', 'bob'] });
  });

  it('says no changes only when no project has any', () => {
    expect(collectProjects([planned('a', 0), planned('b', 0)], []).hasChanges).toBe(false);
  });

  it('fails the run when one project failed, naming it, and keeps the others planned', () => {
    const collected = collectProjects(
      [planned('network', 0, { add: 1 }), failed('app', 0), failed('db', 1, null)],
      [],
    );
    expect(collected.failed).toBe(true);
    expect(collected.summary.add).toBe(1);
    expect(collected.error).toEqual({
      Error: 'JobFailed',
      Cause: 'app: plan failed: boom (also failed: db)',
    });
    // A Catch with no cause (moto's interpreter) still names the error.
    expect(collected.projects[2]?.error).toEqual({ name: 'JobFailed', message: 'JobFailed' });
  });

  it('gives a run of one project its error as it was', () => {
    expect(collectProjects([failed('stack', 0)], []).error).toEqual({
      Error: 'JobFailed',
      Cause: 'plan failed: boom',
    });
  });

  it('refuses what no iteration returns, naming the field', () => {
    expect(() => collectProjects([], [])).toThrow(expect.objectContaining({ field: 'projects' }));
    expect(() => collectProjects([{ ...planned('a', 0), status: 'skipped' }], [])).toThrow(
      expect.objectContaining({ name: 'InvalidInput', field: 'projects.0.status' }),
    );
  });
});
