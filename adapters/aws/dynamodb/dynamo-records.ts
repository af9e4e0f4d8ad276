// What runs leave behind, in the DynamoDB table: the RecordPort (last good commit per
// environment and project, environments), plus the environment as stored.
import { type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import type {
  DriftState,
  EnvironmentRecord,
  LastGoodCommit,
  RecordPort,
} from '../../../core/ports.ts';
import { DynamoTable, keys, parseItem } from './table.ts';

// z.object: the table's own attributes are dropped on reading.
const LAST_GOOD_ITEM = z.object({ commit: z.string(), runId: z.string(), at: z.string() });

const DRIFT_ITEM = z.object({
  drifted: z.boolean(),
  commit: z.string(),
  runId: z.string(),
  at: z.string(),
});

const ENVIRONMENT_ITEM = z.object({
  environment: z.string(),
  projectDir: z.string(),
  status: z.string(),
  ttlExpiresAt: z.string().nullable().default(null),
  lastRunId: z.string(),
  updatedAt: z.string(),
});

/**
 * What runs leave behind. The last good commit only moves forward in time: a write older
 * than the stored one (a replayed or late step) is ignored.
 */
export class DynamoRecordPort implements RecordPort {
  readonly #table: DynamoTable;

  constructor(client: DynamoDBClient, tableName: string) {
    this.#table = new DynamoTable(client, tableName);
  }

  async getLastGood(environment: string, projectDir: string): Promise<LastGoodCommit | undefined> {
    return this.#table.read(keys.lastGood(environment, projectDir), LAST_GOOD_ITEM, 'lastGood');
  }

  async setLastGood(environment: string, projectDir: string, good: LastGoodCommit): Promise<void> {
    // False when a newer last good commit is already stored: it stays.
    await this.#table.put({
      Item: {
        ...keys.lastGood(environment, projectDir),
        type: 'last-good',
        environment,
        projectDir,
        commit: good.commit,
        runId: good.runId,
        at: good.at,
      },
      ConditionExpression: 'attribute_not_exists(pk) OR #at <= :at',
      ExpressionAttributeNames: { '#at': 'at' },
      ExpressionAttributeValues: { ':at': good.at },
    });
  }

  async getDrift(environment: string, projectDir: string): Promise<DriftState | undefined> {
    return this.#table.read(keys.drift(environment, projectDir), DRIFT_ITEM, 'drift');
  }

  /** Only moves forward in time, as setLastGood. */
  async setDrift(environment: string, projectDir: string, state: DriftState): Promise<void> {
    await this.#table.put({
      Item: {
        ...keys.drift(environment, projectDir),
        type: 'drift',
        environment,
        projectDir,
        drifted: state.drifted,
        commit: state.commit,
        runId: state.runId,
        at: state.at,
      },
      ConditionExpression: 'attribute_not_exists(pk) OR #at <= :at',
      ExpressionAttributeNames: { '#at': 'at' },
      ExpressionAttributeValues: { ':at': state.at },
    });
  }

  async setEnvironment(record: EnvironmentRecord): Promise<void> {
    await this.#table.put({
      Item: {
        ...keys.environment(record.environment, record.projectDir),
        type: 'environment',
        environment: record.environment,
        projectDir: record.projectDir,
        status: record.status,
        ttlExpiresAt: record.ttlExpiresAt,
        lastRunId: record.lastRunId,
        updatedAt: record.updatedAt,
      },
    });
  }

  /** Every environment and project a run recorded, by environment then project. */
  async listEnvironments(): Promise<EnvironmentRecord[]> {
    const items = await this.#table.scanAll('ENV#', ['environment']);
    return items
      .map((item) => parseItem(ENVIRONMENT_ITEM, item, 'environment'))
      .sort(
        (a, b) =>
          a.environment.localeCompare(b.environment) || a.projectDir.localeCompare(b.projectDir),
      );
  }

  async getEnvironment(
    environment: string,
    projectDir: string,
  ): Promise<EnvironmentRecord | undefined> {
    const key = keys.environment(environment, projectDir);
    return this.#table.read(key, ENVIRONMENT_ITEM, 'environment');
  }

  async readEnvironment(
    environment: string,
    projectDir: string,
  ): Promise<EnvironmentRecord | undefined> {
    return this.getEnvironment(environment, projectDir);
  }
}
