// The RunPort contract, on both stores: the SQLite store of the local engine and the DynamoDB
// store of the Lambdas (on moto). A run's details are merged key by key, later keys winning;
// undefined values are dropped. Locally a run's row exists from its start (the engine creates
// it), so the SQLite side creates it first, as the engine does.
import { describe, expect, it } from '@jest/globals';
import { DynamoRunPort } from '../../adapters/aws/dynamodb/dynamo-runs.ts';
import type { RunPort } from '../../core/ports.ts';
import { contractBackends } from './backends.ts';

const backends = contractBackends();

interface RunsUnderTest {
  readonly runs: RunPort;
  /** What the engine or the workflow does before any step records details. */
  readonly start: (runId: string) => void;
  readonly details: (runId: string) => Promise<Record<string, unknown>>;
}

const STORES = backends.sqliteAndDynamo<RunsUnderTest>(
  ({ runs }) => ({
    runs,
    start: (runId) => {
      runs.create({
        runId,
        workflow: 'plan-apply',
        environment: 'dev',
        projectDir: 'infra/app',
        repository: '/repo',
        commit: 'd'.repeat(40),
        startedAt: '2030-01-01T00:00:00.000Z',
      });
    },
    details: async (runId) => runs.getRunDetails(runId),
  }),
  (client, table) => {
    const runs = new DynamoRunPort(client, table);
    return { runs, start: () => undefined, details: async (runId) => runs.getRunDetails(runId) };
  },
);

const COMMIT = 'c'.repeat(40);

describe.each(STORES)('RunPort on %s', (_name, open) => {
  it('has no details until some are added', async () => {
    const { start, details } = await open();
    start('run-1');
    expect(await details('run-1')).toEqual({});
  });

  it('merges details key by key, later keys winning, values kept whole', async () => {
    const { runs, start, details } = await open();
    start('run-3');

    await runs.addRunDetails('run-3', {
      outcome: 'planned',
      summary: { add: 1, change: 0, destroy: 0 },
      error: { name: 'E', stack: undefined },
    });
    await runs.addRunDetails('run-3', { outcome: 'applied', rollback: { commit: COMMIT } });

    expect(await details('run-3')).toEqual({
      outcome: 'applied',
      summary: { add: 1, change: 0, destroy: 0 },
      error: { name: 'E' },
      rollback: { commit: COMMIT },
    });
  });

  it('keeps every key when two first writes race', async () => {
    const { runs, start, details } = await open();
    start('run-4');

    await Promise.all([
      runs.addRunDetails('run-4', { a: 1 }),
      runs.addRunDetails('run-4', { b: 2 }),
    ]);

    expect(await details('run-4')).toEqual({ a: 1, b: 2 });
  });

  it('keeps runs apart', async () => {
    const { runs, start, details } = await open();
    start('run-5');
    start('run-6');

    await runs.addRunDetails('run-5', { outcome: 'applied' });
    await runs.addRunDetails('run-6', { outcome: 'failed' });

    expect(await details('run-5')).toEqual({ outcome: 'applied' });
    expect(await details('run-6')).toEqual({ outcome: 'failed' });
  });
});
