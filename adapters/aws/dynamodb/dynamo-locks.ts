// Environment locks in the DynamoDB table: the LockPort, plus the lock as stored and the
// history of holds (tests and operators read them).
import { type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { LockHeld } from '../../../core/errors.ts';
import { type LockRecord, assertCanRelease, decideLock } from '../../../core/locks.ts';
import type { LockPort } from '../../../core/ports.ts';
import {
  DEFAULT_LOCK_HISTORY_RETENTION_SECONDS,
  DynamoTable,
  epochSeconds,
  keys,
  parseItem,
} from './table.ts';

// z.object: the table's own attributes are dropped on reading.
const LOCK_ITEM = z.object({
  environment: z.string(),
  owner: z.string(),
  acquiredAt: z.string(),
  expiresAt: z.string(),
});

const LOCK_HISTORY_ITEM = z.object({
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
  readonly #table: DynamoTable;
  readonly #historyRetentionSeconds: number;

  constructor(
    client: DynamoDBClient,
    tableName: string,
    options: { historyRetentionSeconds?: number } = {},
  ) {
    this.#table = new DynamoTable(client, tableName);
    this.#historyRetentionSeconds =
      options.historyRetentionSeconds ?? DEFAULT_LOCK_HISTORY_RETENTION_SECONDS;
  }

  /** The lock item as stored (strongly consistent), expired or not. */
  async getLock(environment: string): Promise<LockRecord | undefined> {
    return this.#table.read(keys.lock(environment), LOCK_ITEM, 'lock');
  }

  async acquire(environment: string, owner: string, now: Date, ttlMs: number): Promise<LockRecord> {
    const lock = decideLock(await this.getLock(environment), { environment, owner, now, ttlMs });
    const written = await this.#table.put({
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
    });
    if (!written) {
      // Another run wrote the lock between our read and our write: name it.
      const current = await this.getLock(environment);
      throw current
        ? LockHeld.heldBy(environment, current)
        : new LockHeld(`environment ${environment} was locked by another run meanwhile`);
    }
    return lock;
  }

  async release(environment: string, owner: string, now: Date): Promise<boolean> {
    const release = await this.#table.delete({
      Key: keys.lock(environment),
      ConditionExpression: 'attribute_not_exists(pk) OR #owner = :owner',
      ExpressionAttributeNames: { '#owner': 'owner' },
      ExpressionAttributeValues: { ':owner': owner },
    });
    if (!release.deleted) {
      // Another run holds it: LockNotOwned, naming it (or nothing, if it went meanwhile).
      assertCanRelease(await this.getLock(environment), owner);
      return false;
    }
    if (release.old === undefined) return false; // there was no lock: a release is idempotent
    const lock = parseItem(LOCK_ITEM, release.old, 'lock');
    const releasedAt = now.toISOString();
    await this.#table.put({
      Item: {
        ...keys.lockHistory(environment, lock.acquiredAt, lock.owner),
        type: 'lock-history',
        environment,
        owner: lock.owner,
        acquiredAt: lock.acquiredAt,
        releasedAt,
        expiresAtEpoch: epochSeconds(releasedAt, 'now') + this.#historyRetentionSeconds,
      },
    });
    return true;
  }

  /** Every lock held now (expired ones too, until DynamoDB's TTL removes them), by environment. */
  async list(): Promise<LockRecord[]> {
    const items = await this.#table.scanAll('LOCK#', ['lock']);
    return items
      .map((item) => parseItem(LOCK_ITEM, item, 'lock'))
      .sort((a, b) => a.environment.localeCompare(b.environment));
  }

  /** Every lock that was held and released, oldest first (proof that holds never overlapped). */
  async lockHistory(
    environment: string,
  ): Promise<{ owner: string; acquiredAt: string; releasedAt: string }[]> {
    const items = await this.#table.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :history)',
      ExpressionAttributeValues: { ':pk': `LOCK#${environment}`, ':history': 'HISTORY#' },
      ConsistentRead: true,
    });
    return items.map((item) => parseItem(LOCK_HISTORY_ITEM, item, 'lock history'));
  }
}
