// The RecordPort contract, on both stores: the SQLite store of the local engine and the
// DynamoDB store of the Lambdas (on moto). The last good commit per environment and project
// only moves forward in time (README: it "only moves forward"), and environment records are
// replaced whole.
import { describe, expect, it } from '@jest/globals';
import { DynamoRecordPort } from '../../adapters/aws/dynamodb/dynamo-records.ts';
import type {
  DriftState,
  EnvironmentRecord,
  LastGoodCommit,
  RecordPort,
} from '../../core/ports.ts';
import { contractBackends } from './backends.ts';

const backends = contractBackends();

interface RecordsUnderTest {
  readonly records: RecordPort;
  readonly environment: (
    environment: string,
    projectDir: string,
  ) => Promise<EnvironmentRecord | undefined>;
}

const STORES = backends.sqliteAndDynamo<RecordsUnderTest>(
  // Read back through the port's own readEnvironment, which ChangeTtl uses.
  ({ records }) => ({ records, environment: async (e, p) => records.readEnvironment(e, p) }),
  (client, table) => {
    const records = new DynamoRecordPort(client, table);
    return { records, environment: async (e, p) => records.readEnvironment(e, p) };
  },
);

const T0 = new Date('2030-01-01T00:00:00.000Z');

/** T0 plus some seconds. */
function at(seconds: number): string {
  return new Date(T0.getTime() + seconds * 1000).toISOString();
}

function good(digit: string, runId: string, when: string): LastGoodCommit {
  return { commit: digit.repeat(40), runId, at: when };
}

describe.each(STORES)('RecordPort on %s', (_name, open) => {
  describe('last good commit', () => {
    it('has none until one is set, then returns exactly what was set', async () => {
      const { records } = await open();
      expect(await records.getLastGood('dev', 'infra/app')).toBeUndefined();

      await records.setLastGood('dev', 'infra/app', good('a', 'run-1', at(0)));

      expect(await records.getLastGood('dev', 'infra/app')).toEqual(good('a', 'run-1', at(0)));
    });

    it('keeps one last good commit per environment and project, the latest written', async () => {
      const { records } = await open();
      await records.setLastGood('dev', 'p', good('1', 'run-1', at(0)));
      await records.setLastGood('dev', 'p', good('2', 'run-2', at(10)));
      await records.setLastGood('dev', 'q', good('3', 'run-3', at(20)));

      expect(await records.getLastGood('dev', 'p')).toEqual(good('2', 'run-2', at(10)));
      expect(await records.getLastGood('dev', 'q')).toEqual(good('3', 'run-3', at(20)));
      expect(await records.getLastGood('prod', 'p')).toBeUndefined();
    });

    it('only moves forward: an older commit (a late or replayed step) never replaces a newer one', async () => {
      const { records } = await open();
      const newer = good('b', 'run-2', at(60));
      await records.setLastGood('dev', 'infra/app', newer);

      await records.setLastGood('dev', 'infra/app', good('a', 'run-1', at(0)));

      expect(await records.getLastGood('dev', 'infra/app')).toEqual(newer);
      const newest = good('c', 'run-3', at(120));
      await records.setLastGood('dev', 'infra/app', newest);
      expect(await records.getLastGood('dev', 'infra/app')).toEqual(newest);
    });
  });

  describe('environments', () => {
    const record: EnvironmentRecord = {
      environment: 'pr-7',
      projectDir: 'p',
      status: 'live',
      ttlExpiresAt: at(3600),
      lastRunId: 'run-1',
      updatedAt: at(0),
    };

    it('stores an environment record and replaces it whole', async () => {
      const { records, environment } = await open();
      await records.setEnvironment(record);
      expect(await environment('pr-7', 'p')).toEqual(record);

      await records.setEnvironment({
        ...record,
        status: 'destroyed',
        ttlExpiresAt: null,
        lastRunId: 'run-2',
      });

      expect(await environment('pr-7', 'p')).toEqual({
        ...record,
        status: 'destroyed',
        ttlExpiresAt: null,
        lastRunId: 'run-2',
      });
      expect(await environment('pr-8', 'p')).toBeUndefined();
      expect(await environment('pr-7', 'q')).toBeUndefined();
    });
  });

  describe('drift state', () => {
    const check = (drifted: boolean, runId: string, when: string): DriftState => ({
      drifted,
      commit: 'a'.repeat(40),
      runId,
      at: when,
    });

    it('has none until a check is recorded, then the latest check per environment and project', async () => {
      const { records } = await open();
      expect(await records.getDrift('dev', 'infra/app')).toBeUndefined();

      await records.setDrift('dev', 'infra/app', check(true, 'run-1', at(0)));
      await records.setDrift('dev', 'infra/app', check(false, 'run-2', at(10)));
      await records.setDrift('dev', 'other', check(true, 'run-3', at(20)));

      expect(await records.getDrift('dev', 'infra/app')).toEqual(check(false, 'run-2', at(10)));
      expect(await records.getDrift('dev', 'other')).toEqual(check(true, 'run-3', at(20)));
      expect(await records.getDrift('prod', 'infra/app')).toBeUndefined();
    });

    it('only moves forward, and lives apart from the last good commit and the environment', async () => {
      const { records, environment } = await open();
      await records.setDrift('dev', 'p', check(true, 'run-2', at(60)));

      await records.setDrift('dev', 'p', check(false, 'run-1', at(0)));

      expect(await records.getDrift('dev', 'p')).toEqual(check(true, 'run-2', at(60)));
      expect(await records.getLastGood('dev', 'p')).toBeUndefined();
      expect(await environment('dev', 'p')).toBeUndefined();
    });
  });
});
