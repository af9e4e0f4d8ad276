// A run's own item in the DynamoDB table: the RunPort (details merged key by key), plus
// reading the merged details back.
import { type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { RunPort } from '../../../core/ports.ts';
import { DynamoTable, keys } from './table.ts';

/**
 * Run details are merged key by key into the run item's `details` map, creating the item on
 * first use.
 */
export class DynamoRunPort implements RunPort {
  readonly #table: DynamoTable;

  constructor(client: DynamoDBClient, tableName: string) {
    this.#table = new DynamoTable(client, tableName);
  }

  async addRunDetails(runId: string, details: Record<string, unknown>): Promise<void> {
    const entries = Object.entries(details).filter(([, value]) => value !== undefined);
    if (entries.length === 0) return;
    // The map exists: set each key in it (other keys stay). It does not: create it whole.
    // A creation that loses a race to another one falls back to the merge, once.
    for (let attempt = 0; attempt < 2; attempt += 1) {
      if (await this.#mergeDetails(runId, entries)) return;
      const created = await this.#table.update({
        Key: keys.run(runId),
        UpdateExpression: 'SET #type = :type, #runId = :runId, #details = :details',
        ConditionExpression: 'attribute_not_exists(#details)',
        ExpressionAttributeNames: { '#type': 'type', '#runId': 'runId', '#details': 'details' },
        ExpressionAttributeValues: {
          ':type': 'run',
          ':runId': runId,
          ':details': Object.fromEntries(entries),
        },
      });
      if (created) return;
    }
    throw new Error(`the details of run ${runId} could not be merged: concurrent writes`);
  }

  /** False when the run has no details map yet. */
  async #mergeDetails(runId: string, entries: [string, unknown][]): Promise<boolean> {
    const names: Record<string, string> = { '#details': 'details' };
    const values: Record<string, unknown> = {};
    const sets = entries.map(([key, value], index) => {
      names[`#k${index}`] = key;
      values[`:v${index}`] = value;
      return `#details.#k${index} = :v${index}`;
    });
    return this.#table.update({
      Key: keys.run(runId),
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: 'attribute_exists(#details)',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
  }

  /** The run's merged details ({} when none were recorded). */
  async getRunDetails(runId: string): Promise<Record<string, unknown>> {
    const details: unknown = (await this.#table.get(keys.run(runId)))?.details;
    return typeof details === 'object' && details !== null
      ? { ...(details as Record<string, unknown>) }
      : {};
  }
}
