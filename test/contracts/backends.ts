// What every contract suite runs against: a fresh SQLite file per test, and a real moto server
// (started once per suite file, on loopback) with a fresh Stepform table, queue or schedule
// group per test. A suite calls `contractBackends()` at its top level; the hooks it registers
// start and stop everything.
import { afterAll, afterEach, beforeAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type LocalStores, openLocalStores } from '../../local/engine/store/local-stores.ts';
import { type MotoServer, startMotoServer } from '../aws/moto-server.ts';
import { createStepformTable } from '../support/dynamo-table.ts';

/** The rows of a suite's `describe.each`: each subject's name, and how to open a fresh one. */
export type Subjects<T> = [name: string, open: () => Promise<T>][];

export interface ContractBackends {
  /** Every local store, on a new SQLite file (closed after the test). */
  sqlite(): Promise<LocalStores>;
  /** A new Stepform table on moto. */
  dynamo(): Promise<{ client: DynamoDBClient; table: string }>;
  /** The moto server, for suites that need other services (SQS, Scheduler). */
  moto(): MotoServer;
  /** A store's subjects: made from the local stores, and from a new table on moto. */
  sqliteAndDynamo<T>(
    local: (stores: LocalStores) => T,
    dynamo: (client: DynamoDBClient, table: string) => T,
  ): Subjects<T>;
}

/** A name no other test of the suite uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export function contractBackends(): ContractBackends {
  let moto: MotoServer | undefined;
  let dynamo: DynamoDBClient | undefined;
  const opened: LocalStores[] = [];

  beforeAll(async () => {
    moto = await startMotoServer();
    dynamo = new DynamoDBClient(moto.clientConfig);
  }, 300_000);

  afterEach(() => {
    for (const stores of opened.splice(0)) stores.close();
  });

  afterAll(async () => {
    dynamo?.destroy();
    await moto?.stop();
  });

  const started = (): { moto: MotoServer; dynamo: DynamoDBClient } => {
    if (!moto || !dynamo) throw new Error('the moto server did not start (see beforeAll)');
    return { moto, dynamo };
  };

  const sqlite = async (): Promise<LocalStores> => {
    const dir = await mkdtemp(join(tmpdir(), 'stepform-contract-'));
    const stores = openLocalStores(join(dir, 'stepform.db'));
    opened.push(stores);
    return stores;
  };
  const newTable = async (): Promise<{ client: DynamoDBClient; table: string }> => {
    const { dynamo: client } = started();
    const table = uniqueName('stepform');
    await createStepformTable(client, table);
    return { client, table };
  };
  return {
    sqlite,
    dynamo: newTable,
    moto: () => started().moto,
    sqliteAndDynamo: (local, onTable) => [
      ['SQLite', async () => local(await sqlite())],
      [
        'DynamoDB',
        async () => {
          const { client, table } = await newTable();
          return onTable(client, table);
        },
      ],
    ],
  };
}
