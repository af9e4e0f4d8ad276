// Environment locks in the DynamoDB table: the LockPort, plus the lock as stored and the
// history of holds (tests and operators read them).
import { type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { LockHeld } from '../../../core/errors.ts';
import { type LockRecord, assertCanRelease, decideLock } from '../../../core/locks.ts';
import type { LockPort } from '../../../core/ports.ts';
import {
  DEFAULT_LOCK_HISTORY_RETENTION_SECONDS,
  dynamoDocumentClient,
  epochSeconds,
  isConditionFailed,
  keys,
  parseItem,
} from './table.ts';

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
      throw current
        ? LockHeld.heldBy(environment, current)
        : new LockHeld(`environment ${environment} was locked by another run meanwhile`);
    }
    return lock;
  }

  async release(environment: string, owner: string, now: Date): Promise<boolean> {
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
      return false;
    }
    if (released === undefined) return false; // there was no lock: a release is idempotent
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
    return true;
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
