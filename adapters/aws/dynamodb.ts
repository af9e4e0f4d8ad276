// The DynamoDB adapters of the state-store ports: locks, records and approvals, in ONE table
// (single-table design). Every write that must be exclusive is a conditional write, so two
// Lambdas racing can never both win; the core (core/locks.ts, approval.ts) decides
// what to write, exactly as it does for the local SQLite store (local/engine/store.ts).
//
// Table: partition key `pk` (S), sort key `sk` (S), TTL attribute `expiresAtEpoch` (N, epoch
// seconds), on-demand capacity. Item layout (`type` names the kind of item):
//
// | pk              | sk                             | type          | attributes
// | --------------- | ------------------------------ | ------------- | ----------------------------------------------
// | LOCK#<env>      | LOCK                           | lock          | environment, owner, acquiredAt, expiresAt (ISO-8601),
// |                 |                                |               | expiresAtEpoch = expiresAt (an expired lock may vanish)
// | LOCK#<env>      | HISTORY#<acquiredAt>#<owner>   | lock-history  | environment, owner, acquiredAt, releasedAt,
// |                 |                                |               | expiresAtEpoch = releasedAt + history retention
// | ENV#<env>       | LASTGOOD#<projectDir>          | last-good     | environment, projectDir, commit, runId, at
// | ENV#<env>       | PROJECT#<projectDir>           | environment   | environment, projectDir, status, ttlExpiresAt
// |                 |                                |               | (ISO-8601 or null), lastRunId, updatedAt
// | RUN#<runId>     | RUN                            | run           | runId, details (map, merged key by key)
// | APPROVAL#<id>   | APPROVAL                       | approval      | id, runId, taskToken, environment, projectDir,
// |                 |                                |               | commit, planSha256, status, requestedAt, expiresAt,
// |                 |                                |               | decidedBy?, decidedAt?,
// |                 |                                |               | expiresAtEpoch = expiresAt + approval retention
//
// Every ISO-8601 time is written by Date#toISOString (UTC, milliseconds), so comparing two of
// them as strings in a condition compares the instants.
import { type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { InvalidInput, LockHeld } from '../../core/errors.ts';
import { type LockRecord, assertCanRelease, decideLock } from '../../core/locks.ts';
import type {
  ApprovalPort,
  EnvironmentRecord,
  LastGoodCommit,
  LockPort,
  RecordPort,
  StoredApproval,
} from '../../core/ports.ts';
import { isAwsError } from './aws-errors.ts';

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
  lock: (environment: string) => ({ pk: `LOCK#${environment}`, sk: 'LOCK' }),
  lockHistory: (environment: string, acquiredAt: string, owner: string) => ({
    pk: `LOCK#${environment}`,
    sk: `HISTORY#${acquiredAt}#${owner}`,
  }),
  lastGood: (environment: string, projectDir: string) => ({
    pk: `ENV#${environment}`,
    sk: `LASTGOOD#${projectDir}`,
  }),
  environment: (environment: string, projectDir: string) => ({
    pk: `ENV#${environment}`,
    sk: `PROJECT#${projectDir}`,
  }),
  run: (runId: string) => ({ pk: `RUN#${runId}`, sk: 'RUN' }),
  approval: (id: string) => ({ pk: `APPROVAL#${id}`, sk: 'APPROVAL' }),
} as const;

/**
 * The DocumentClient every adapter here uses: plain JavaScript values in and out, and
 * `undefined` properties dropped rather than refused.
 */
export function dynamoDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
}

/** Epoch seconds of an ISO-8601 time (rounded up), for the TTL attribute. */
function epochSeconds(iso: string, field: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new InvalidInput(field, 'is not an ISO date');
  return Math.ceil(ms / 1000);
}

function isConditionFailed(error: unknown): boolean {
  return isAwsError(error, 'ConditionalCheckFailedException');
}

const LOCK_ITEM = z.looseObject({
  environment: z.string(),
  owner: z.string(),
  acquiredAt: z.string(),
  expiresAt: z.string(),
});

const LOCK_HISTORY_ITEM = z.looseObject({
  owner: z.string(),
  acquiredAt: z.string(),
  releasedAt: z.string(),
});

/** One item as read, checked against its schema (a malformed item is a bug, not a miss). */
function parseItem<T>(schema: z.ZodType<T>, item: unknown, what: string): T {
  const parsed = schema.safeParse(item);
  if (!parsed.success) {
    throw new InvalidInput(what, `the stored item is malformed: ${parsed.error.message}`);
  }
  return parsed.data;
}

/**
 * Environment locks. acquire reads the lock, lets the core decide (free, expired, or renewed
 * by its owner with the same acquiredAt; LockHeld otherwise), then writes it with a PutItem
 * conditional on the lock being free, ours or expired. Of two runs racing, exactly one write
 * succeeds; the other gets LockHeld naming the winner.
 */
export class DynamoLockPort implements LockPort {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #historyRetentionSeconds: number;

  constructor(
    client: DynamoDBClient,
    tableName: string,
    options: { historyRetentionSeconds?: number } = {},
  ) {
    this.#doc = dynamoDocumentClient(client);
    this.#table = tableName;
    this.#historyRetentionSeconds =
      options.historyRetentionSeconds ?? DEFAULT_LOCK_HISTORY_RETENTION_SECONDS;
  }

  /** The lock item as stored (strongly consistent), expired or not. */
  async getLock(environment: string): Promise<LockRecord | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({ TableName: this.#table, Key: keys.lock(environment), ConsistentRead: true }),
    );
    if (Item === undefined) return undefined;
    const lock = parseItem(LOCK_ITEM, Item, 'lock');
    return {
      environment: lock.environment,
      owner: lock.owner,
      acquiredAt: lock.acquiredAt,
      expiresAt: lock.expiresAt,
    };
  }

  async acquire(environment: string, owner: string, now: Date, ttlMs: number): Promise<LockRecord> {
    const lock = decideLock(await this.getLock(environment), { environment, owner, now, ttlMs });
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            ...keys.lock(environment),
            type: 'lock',
            environment: lock.environment,
            owner: lock.owner,
            acquiredAt: lock.acquiredAt,
            expiresAt: lock.expiresAt,
            expiresAtEpoch: epochSeconds(lock.expiresAt, 'lock.expiresAt'),
          },
          ConditionExpression: 'attribute_not_exists(pk) OR #owner = :owner OR expiresAt <= :now',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': owner, ':now': now.toISOString() },
        }),
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      // Another run wrote the lock between our read and our write: name it.
      const current = await this.getLock(environment);
      throw new LockHeld(
        current
          ? `environment ${environment} is locked by run ${current.owner} until ${current.expiresAt}`
          : `environment ${environment} was locked by another run meanwhile`,
      );
    }
    return lock;
  }

  async release(environment: string, owner: string, now: Date): Promise<void> {
    let released: Record<string, unknown> | undefined;
    try {
      ({ Attributes: released } = await this.#doc.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: keys.lock(environment),
          ConditionExpression: 'attribute_not_exists(pk) OR #owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': owner },
          ReturnValues: 'ALL_OLD',
        }),
      ));
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      // Another run holds it: LockNotOwned, naming it (or nothing, if it went meanwhile).
      assertCanRelease(await this.getLock(environment), owner);
      return;
    }
    if (released === undefined) return; // there was no lock: a release is idempotent
    const lock = parseItem(LOCK_ITEM, released, 'lock');
    const releasedAt = now.toISOString();
    await this.#doc.send(
      new PutCommand({
        TableName: this.#table,
        Item: {
          ...keys.lockHistory(environment, lock.acquiredAt, lock.owner),
          type: 'lock-history',
          environment,
          owner: lock.owner,
          acquiredAt: lock.acquiredAt,
          releasedAt,
          expiresAtEpoch: epochSeconds(releasedAt, 'now') + this.#historyRetentionSeconds,
        },
      }),
    );
  }

  /** Every lock that was held and released, oldest first (proof that holds never overlapped). */
  async lockHistory(
    environment: string,
  ): Promise<{ owner: string; acquiredAt: string; releasedAt: string }[]> {
    const history: { owner: string; acquiredAt: string; releasedAt: string }[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#doc.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :history)',
          ExpressionAttributeValues: { ':pk': `LOCK#${environment}`, ':history': 'HISTORY#' },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const { owner, acquiredAt, releasedAt } = parseItem(
          LOCK_HISTORY_ITEM,
          item,
          'lock history',
        );
        history.push({ owner, acquiredAt, releasedAt });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return history;
  }
}

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
 * than the stored one (a replayed or late step) is ignored. Run details are merged key by
 * key into the run item's `details` map, creating the item on first use.
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

const APPROVAL_ITEM = z.looseObject({
  id: z.string(),
  runId: z.string(),
  taskToken: z.string(),
  environment: z.string(),
  projectDir: z.string(),
  commit: z.string(),
  planSha256: z.string(),
  status: z.enum(['pending', 'approved', 'rejected', 'expired']),
  requestedAt: z.string(),
  expiresAt: z.string(),
  decidedBy: z.string().optional(),
  decidedAt: z.string().optional(),
});

/**
 * Approvals with the task token the workflow waits on. A decision is single use: it is
 * written only while the approval is pending (a conditional UpdateItem), so of two racing
 * decisions exactly one returns true. The TTL attribute removes an approval some time after
 * it expires (`retentionSeconds`, 30 days by default).
 */
export class DynamoApprovalPort implements ApprovalPort {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #retentionSeconds: number;

  constructor(
    client: DynamoDBClient,
    tableName: string,
    options: { retentionSeconds?: number } = {},
  ) {
    this.#doc = dynamoDocumentClient(client);
    this.#table = tableName;
    this.#retentionSeconds = options.retentionSeconds ?? DEFAULT_APPROVAL_RETENTION_SECONDS;
  }

  /** Stores a new, pending approval; InvalidInput when one with this id exists. */
  async create(approval: StoredApproval): Promise<void> {
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            ...keys.approval(approval.id),
            type: 'approval',
            id: approval.id,
            runId: approval.runId,
            taskToken: approval.taskToken,
            environment: approval.environment,
            projectDir: approval.projectDir,
            commit: approval.commit,
            planSha256: approval.planSha256,
            status: 'pending',
            requestedAt: approval.requestedAt,
            expiresAt: approval.expiresAt,
            expiresAtEpoch:
              epochSeconds(approval.expiresAt, 'approval.expiresAt') + this.#retentionSeconds,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      throw new InvalidInput('approval.id', `an approval ${approval.id} already exists`);
    }
  }

  async get(id: string): Promise<StoredApproval | undefined> {
    const { Item } = await this.#doc.send(
      new GetCommand({ TableName: this.#table, Key: keys.approval(id), ConsistentRead: true }),
    );
    if (Item === undefined) return undefined;
    const item = parseItem(APPROVAL_ITEM, Item, 'approval');
    return {
      id: item.id,
      runId: item.runId,
      taskToken: item.taskToken,
      environment: item.environment,
      projectDir: item.projectDir,
      commit: item.commit,
      planSha256: item.planSha256,
      status: item.status,
      requestedAt: item.requestedAt,
      expiresAt: item.expiresAt,
      ...(item.decidedBy === undefined ? {} : { decidedBy: item.decidedBy }),
      ...(item.decidedAt === undefined ? {} : { decidedAt: item.decidedAt }),
    };
  }

  async decide(
    id: string,
    status: 'approved' | 'rejected' | 'expired',
    by: string | null,
    at: string,
  ): Promise<boolean> {
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: keys.approval(id),
          UpdateExpression:
            by === null
              ? 'SET #status = :status, decidedAt = :at'
              : 'SET #status = :status, decidedAt = :at, decidedBy = :by',
          ConditionExpression: '#status = :pending',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':status': status,
            ':at': at,
            ':pending': 'pending',
            ...(by === null ? {} : { ':by': by }),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false; // decided already, or no such approval
      throw error;
    }
  }
}
