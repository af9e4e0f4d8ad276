import { describe, expect, it } from '@jest/globals';
import { nextDestroyLayer } from './destroy-layers.ts';
import { layeredProject, layeredRun } from '../test/support/prepared-runs.ts';

const prepared = layeredRun({
  workflow: 'plan',
  projects: [layeredProject('network', 0), layeredProject('dns', 0), layeredProject('app', 1)],
});
const turn = (destroying: unknown) =>
  nextDestroyLayer({ run: prepared.run, projects: prepared.projects, destroying });
const destroyed = (name: string, layer: number) => ({
  name,
  dir: `infra/${name}`,
  layer,
  status: 'destroyed',
  result: {
    summary: { add: 0, change: 0, destroy: 2 },
    resultLocation: `/a/${name}/destroy`,
  },
});

describe('nextDestroyLayer', () => {
  it('destroys the last layer first: app before network and dns', () => {
    const first = turn({ layer: null, destroyed: [] });
    expect(first).toMatchObject({ outcome: 'destroying', layer: 1 });
    expect(first.next.map((item) => [item.name, item.jobs.destroy.verb])).toEqual([
      ['app', 'destroy'],
    ]);
    const second = turn({ layer: 1, destroyed: [], results: [destroyed('app', 1)] });
    expect(second).toMatchObject({ outcome: 'destroying', layer: 0 });
    expect(second.next.map((item) => item.name)).toEqual(['network', 'dns']);
    const done = turn({
      layer: 0,
      destroyed: second.destroyed,
      results: [destroyed('network', 0), destroyed('dns', 0)],
    });
    expect(done.outcome).toBe('destroyed');
    expect(done.error).toBeUndefined();
    expect(done.projects.summary.destroy).toBe(6);
    expect(done.projects.projects.map((p) => [p.name, p.status])).toEqual([
      ['network', 'destroyed'],
      ['dns', 'destroyed'],
      ['app', 'destroyed'],
    ]);
  });

  it('starts no lower layer once a destroy failed: what the failed one needs stays', () => {
    const done = turn({
      layer: 1,
      destroyed: [],
      results: [
        {
          name: 'app',
          dir: 'infra/app',
          layer: 1,
          status: 'destroy_failed',
          error: { Error: 'JobFailed', Cause: 'destroy failed: boom' },
        },
      ],
    });
    expect(done.outcome).toBe('destroy_failed');
    expect(done.next).toEqual([]);
    expect(done.error).toEqual({ Error: 'JobFailed', Cause: 'app: destroy failed: boom' });
    expect(done.projects.projects.map((p) => [p.name, p.status])).toEqual([
      ['network', 'not_started'],
      ['dns', 'not_started'],
      ['app', 'destroy_failed'],
    ]);
  });

  it('refuses a turn it cannot trust, naming the field', () => {
    expect(() => turn({ layer: 'x', destroyed: [] })).toThrow(
      expect.objectContaining({ name: 'InvalidInput', field: 'destroying.destroying.layer' }),
    );
  });
});
