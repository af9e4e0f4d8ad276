// The one DynamoDB table the AWS stores share (single-table design): its keys, the item keys
// of each kind of item, and the helpers every store uses (the DocumentClient, the TTL
// attribute, checked reads, conditional writes). Each port has its own file beside
// this one; every write that must be exclusive is a conditional write, so two Lambdas racing
// can never both win, and the core decides what to write, exactly as it does for the local
// SQLite stores (local/engine/store/).
//
// Table: partition key `pk` (S), sort key `sk` (S), TTL attribute `expiresAtEpoch` (N, epoch
// seconds), on-demand capacity. Item layout (`type` names the kind of item):
//
// | pk              | sk                             | type          | attributes
// | --------------- | ------------------------------ | ------------- | ----------------------------------------------
// | LOCK#<env>      | LOCK#<project>                 | lock          | environment, project, owner, acquiredAt, expiresAt
// |                 |                                |               | (ISO-8601), expiresAtEpoch = expiresAt (an expired
// |                 |                                |               | lock may vanish). One per (environment, project): a
// |                 |                                |               | Query of pk, sk begins_with LOCK, lists an env's locks
// | LOCK#<env>      | LOCK                           | lock          | an environment-wide lock an older version wrote (no
// |                 |                                |               | project): read as project `*`, excludes while live
// | LOCK#<env>      | HISTORY#<acquiredAt>#<owner>#  | lock-history  | environment, project, owner, acquiredAt, releasedAt,
// |                 | <project>                      |               | expiresAtEpoch = releasedAt + history retention
// | ENV#<env>       | LASTGOOD#<projectDir>          | last-good     | environment, projectDir, commit, runId, at
// | ENV#<env>       | PROJECT#<projectDir>           | environment   | environment, projectDir, status, ttlExpiresAt
// |                 |                                |               | (ISO-8601 or null), lastRunId, updatedAt
// | RUN#<runId>     | RUN                            | run           | runId, details (map, merged key by key)
// | RUN#<runId>     | APPROVAL#<requestedAt>#<id>    | run-approval  | runId, approvalId (the run's approvals, by
// |                 |                                |               | time: `stepform cancel`, ExecutionEnded and
// |                 |                                |               | `approve RUN_ID` find the run's approval by a
// |                 |                                |               | Query, never a Scan), expiresAtEpoch as the approval's
// | APPROVAL#<id>   | APPROVAL                       | approval      | id, runId, taskToken, environment, projectDir,
// |                 |                                |               | commit, planSha256, status, requestedAt, expiresAt,
// |                 |                                |               | decidedBy?, decidedAt?, subject? (a map: what
// |                 |                                |               | is approved, core/approval.ts APPROVAL_SUBJECT),
// |                 |                                |               | expiresAtEpoch = expiresAt + approval retention
//
// Every ISO-8601 time is written by Date#toISOString (UTC, milliseconds), so comparing two of
// them as strings in a condition compares the instants.
import { type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DeleteCommandInput,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  type PutCommandInput,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { z } from 'zod';
import { InvalidInput } from '../../../core/errors.ts';
import { WHOLE_ENVIRONMENT_PROJECT } from '../../../core/locks.ts';
import { isAwsError } from '../aws-errors.ts';

/** The table's key and TTL attributes, for whoever creates it (CDK, tests). */
export const TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  timeToLiveAttribute: 'expiresAtEpoch',
} as const;

const DAY_SECONDS = 24 * 60 * 60;

/** Lock history is kept this long after a release, unless the constructor says otherwise. */
export const DEFAULT_LOCK_HISTORY_RETENTION_SECONDS = 90 * DAY_SECONDS;

/** Approvals are kept this long after they expire (audit, "already decided" pages). */
export const DEFAULT_APPROVAL_RETENTION_SECONDS = 30 * DAY_SECONDS;

/** The item keys, one function per kind of item. */
export const keys = {
  lock: (environment: string, project: string) => ({
    pk: `LOCK#${environment}`,
    sk: project === WHOLE_ENVIRONMENT_PROJECT ? 'LOCK' : `LOCK#${project}`,
  }),
  lockHistory: (environment: string, acquiredAt: string, owner: string, project: string) => ({
    pk: `LOCK#${environment}`,
    sk: `HISTORY#${acquiredAt}#${owner}#${project}`,
  }),
  lastGood: (environment: string, projectDir: string) => ({
    pk: `ENV#${environment}`,
    sk: `LASTGOOD#${projectDir}`,
  }),
  environment: (environment: string, projectDir: string) => ({
    pk: `ENV#${environment}`,
    sk: `PROJECT#${projectDir}`,
  }),
  drift: (environment: string, projectDir: string) => ({
    pk: `ENV#${environment}`,
    sk: `DRIFT#${projectDir}`,
  }),
  run: (runId: string) => ({ pk: `RUN#${runId}`, sk: 'RUN' }),
  approval: (id: string) => ({ pk: `APPROVAL#${id}`, sk: 'APPROVAL' }),
  runApproval: (runId: string, requestedAt: string, id: string) => ({
    pk: `RUN#${runId}`,
    sk: `APPROVAL#${requestedAt}#${id}`,
  }),
} as const;

/** Epoch seconds of an ISO-8601 time (rounded up), for the TTL attribute. */
export function epochSeconds(iso: string, field: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new InvalidInput(field, 'is not an ISO date');
  return Math.ceil(ms / 1000);
}

function isConditionFailed(error: unknown): boolean {
  return isAwsError(error, 'ConditionalCheckFailedException');
}

/** What `write` returned; undefined when its condition did not hold (other errors throw). */
async function ifConditionHeld<T>(write: Promise<T>): Promise<T | undefined> {
  try {
    return await write;
  } catch (error) {
    if (isConditionFailed(error)) return undefined;
    throw error;
  }
}

/** One item as read, checked against its schema (a malformed item is a bug, not a miss). */
export function parseItem<T>(schema: z.ZodType<T>, item: unknown, what: string): T {
  const parsed = schema.safeParse(item);
  if (!parsed.success) {
    throw new InvalidInput(what, `the stored item is malformed: ${parsed.error.message}`);
  }
  return parsed.data;
}

/** A command's input without the table name, which the table adds. */
type InTable<T> = Omit<T, 'TableName'>;

type Item = Record<string, unknown>;

/**
 * The table as every store uses it: reads are strongly consistent, and a conditional write
 * whose condition does not hold says so (false) rather than throwing.
 */
export class DynamoTable {
  readonly #doc: DynamoDBDocumentClient;
  readonly #name: string;

  constructor(client: DynamoDBClient, tableName: string) {
    // Plain JavaScript values in and out, and `undefined` properties dropped, not refused.
    this.#doc = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true },
    });
    this.#name = tableName;
  }

  /** The item under `key` as stored; undefined when there is none. */
  async get(key: Item): Promise<Item | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({ TableName: this.#name, Key: key, ConsistentRead: true }),
    );
    return Item;
  }

  /** The item under `key`, checked against its schema; undefined when there is none. */
  async read<T>(key: Item, schema: z.ZodType<T>, what: string): Promise<T | undefined> {
    const item = await this.get(key);
    return item === undefined ? undefined : parseItem(schema, item, what);
  }

  /** False when the put's condition did not hold. */
  async put(input: InTable<PutCommandInput>): Promise<boolean> {
    const put = this.#doc.send(new PutCommand({ TableName: this.#name, ...input }));
    return (await ifConditionHeld(put)) !== undefined;
  }

  /** False when the update's condition did not hold. */
  async update(input: InTable<UpdateCommandInput>): Promise<boolean> {
    const update = this.#doc.send(new UpdateCommand({ TableName: this.#name, ...input }));
    return (await ifConditionHeld(update)) !== undefined;
  }

  /**
   * Deletes an item, returning it as it was (`old` undefined when there was none);
   * `deleted: false` when the delete's condition did not hold.
   */
  async delete(
    input: InTable<DeleteCommandInput>,
  ): Promise<{ deleted: false } | { deleted: true; old: Item | undefined }> {
    const output = await ifConditionHeld(
      this.#doc.send(
        new DeleteCommand({ TableName: this.#name, ...input, ReturnValues: 'ALL_OLD' }),
      ),
    );
    return output === undefined ? { deleted: false } : { deleted: true, old: output.Attributes };
  }

  /** The first page of a query (with Limit: its first items). */
  async queryPage(input: InTable<QueryCommandInput>): Promise<Item[]> {
    const page = await this.#doc.send(new QueryCommand({ TableName: this.#name, ...input }));
    return page.Items ?? [];
  }

  /**
   * Every item of the given types whose pk starts with `pkPrefix`, page after page: a Scan, for
   * the operator's listings (`stepform envs`, `locks`) only, never on a workflow's path.
   */
  async scanAll(pkPrefix: string, types: readonly string[]): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Item | undefined;
    const values: Record<string, string> = { ':prefix': pkPrefix };
    types.forEach((type, index) => {
      values[`:t${index}`] = type;
    });
    do {
      const page = await this.#doc.send(
        new ScanCommand({
          TableName: this.#name,
          FilterExpression: `begins_with(pk, :prefix) AND #type IN (${types.map((_, i) => `:t${i}`).join(', ')})`,
          ExpressionAttributeNames: { '#type': 'type' },
          ExpressionAttributeValues: values,
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items;
  }

  /** Every item the query finds, page after page. */
  async queryAll(input: InTable<QueryCommandInput>): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Item | undefined;
    do {
      const page = await this.#doc.send(
        new QueryCommand({ TableName: this.#name, ...input, ExclusiveStartKey: startKey }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items;
  }
}
