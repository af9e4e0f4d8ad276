// A run's own item in the DynamoDB table: the RunPort (details merged key by key), plus
// reading the merged details back.
import { type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { RunPort } from '../../../core/ports.ts';
import { dynamoDocumentClient, isConditionFailed, keys } from './table.ts';

/**
 * Run details are merged key by key into the run item's `details` map, creating the item on
 * first use.
 */
export class DynamoRunPort implements RunPort {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(client: DynamoDBClient, tableName: string) {
    this.#doc = dynamoDocumentClient(client);
    this.#table = tableName;
  }

  async addRunDetails(runId: string, details: Record<string, unknown>): Promise<void> {
    const entries = Object.entries(details).filter(([, value]) => value !== undefined);
    if (entries.length === 0) return;
    // The map exists: set each key in it (other keys stay). It does not: create it whole.
    // A creation that loses a race to another one falls back to the merge, once.
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        await this.#doc.send(this.#mergeDetails(runId, entries));
        return;
      } catch (error) {
        if (!isConditionFailed(error)) throw error;
      }
      try {
        await this.#doc.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: keys.run(runId),
            UpdateExpression: 'SET #type = :type, #runId = :runId, #details = :details',
            ConditionExpression: 'attribute_not_exists(#details)',
            ExpressionAttributeNames: { '#type': 'type', '#runId': 'runId', '#details': 'details' },
            ExpressionAttributeValues: {
              ':type': 'run',
              ':runId': runId,
              ':details': Object.fromEntries(entries),
            },
          }),
        );
        return;
      } catch (error) {
        if (!isConditionFailed(error)) throw error;
      }
    }
    throw new Error(`the details of run ${runId} could not be merged: concurrent writes`);
  }

  #mergeDetails(runId: string, entries: [string, unknown][]): UpdateCommand {
    const names: Record<string, string> = { '#details': 'details' };
    const values: Record<string, unknown> = {};
    const sets = entries.map(([key, value], index) => {
      names[`#k${index}`] = key;
      values[`:v${index}`] = value;
      return `#details.#k${index} = :v${index}`;
    });
    return new UpdateCommand({
      TableName: this.#table,
      Key: keys.run(runId),
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: 'attribute_exists(#details)',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
  }

  /** The run's merged details ({} when none were recorded). */
  async getRunDetails(runId: string): Promise<Record<string, unknown>> {
    const { Item } = await this.#doc.send(
      new GetCommand({ TableName: this.#table, Key: keys.run(runId), ConsistentRead: true }),
    );
    const details: unknown = Item?.details;
    return typeof details === 'object' && details !== null
      ? { ...(details as Record<string, unknown>) }
      : {};
  }
}
