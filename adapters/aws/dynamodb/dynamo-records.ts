// What runs leave behind, in the DynamoDB table: the RecordPort (last good commit per
// environment and project, environments), plus the environment as stored.
import { type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { EnvironmentRecord, LastGoodCommit, RecordPort } from '../../../core/ports.ts';
import { dynamoDocumentClient, isConditionFailed, keys, parseItem } from './table.ts';

const LAST_GOOD_ITEM = z.looseObject({ commit: z.string(), runId: z.string(), at: z.string() });

const ENVIRONMENT_ITEM = z.looseObject({
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
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(client: DynamoDBClient, tableName: string) {
    this.#doc = dynamoDocumentClient(client);
    this.#table = tableName;
  }

  async getLastGood(environment: string, projectDir: string): Promise<LastGoodCommit | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({
        TableName: this.#table,
        Key: keys.lastGood(environment, projectDir),
        ConsistentRead: true,
      }),
    );
    if (Item === undefined) return undefined;
    const { commit, runId, at } = parseItem(LAST_GOOD_ITEM, Item, 'lastGood');
    return { commit, runId, at };
  }

  async setLastGood(environment: string, projectDir: string, good: LastGoodCommit): Promise<void> {
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#table,
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
        }),
      );
    } catch (error) {
      // A newer last good commit is already stored: it stays.
      if (!isConditionFailed(error)) throw error;
    }
  }

  async setEnvironment(record: EnvironmentRecord): Promise<void> {
    await this.#doc.send(
      new PutCommand({
        TableName: this.#table,
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
      }),
    );
  }

  async getEnvironment(
    environment: string,
    projectDir: string,
  ): Promise<EnvironmentRecord | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({
        TableName: this.#table,
        Key: keys.environment(environment, projectDir),
        ConsistentRead: true,
      }),
    );
    if (Item === undefined) return undefined;
    const env = parseItem(ENVIRONMENT_ITEM, Item, 'environment');
    return {
      environment: env.environment,
      projectDir: env.projectDir,
      status: env.status,
      ttlExpiresAt: env.ttlExpiresAt,
      lastRunId: env.lastRunId,
      updatedAt: env.updatedAt,
    };
  }
}
