// Locks per (environment, project) in the DynamoDB table: the LockPort, plus the locks as
// stored and the history of holds (tests and operators read them).
import { type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { LockHeld } from '../../../core/errors.ts';
import {
  type LockRecord,
  WHOLE_ENVIRONMENT_PROJECT,
  assertCanRelease,
  assertNoWholeEnvironmentLock,
  decideLock,
} from '../../../core/locks.ts';
import type { LockPort } from '../../../core/ports.ts';
import {
  DEFAULT_LOCK_HISTORY_RETENTION_SECONDS,
  DynamoTable,
  epochSeconds,
  keys,
  parseItem,
} from './table.ts';

// z.object: the table's own attributes are dropped on reading. An environment-wide lock an
// older version wrote has no project.
const LOCK_ITEM = z.object({
  environment: z.string(),
  project: z.string().default(WHOLE_ENVIRONMENT_PROJECT),
  owner: z.string(),
  acquiredAt: z.string(),
  expiresAt: z.string(),
});

const LOCK_HISTORY_ITEM = z.object({
  project: z.string().default(WHOLE_ENVIRONMENT_PROJECT),
  owner: z.string(),
  acquiredAt: z.string(),
  releasedAt: z.string(),
});

const byProject = (a: LockRecord, b: LockRecord) =>
  a.environment === b.environment
    ? a.project < b.project
      ? -1
      : a.project > b.project
        ? 1
        : 0
    : a.environment < b.environment
      ? -1
      : 1;

/**
 * Locks per (environment, project). acquire reads the environment's locks (one consistent
 * Query), lets the core decide (free, expired, or renewed by its owner with the same
 * acquiredAt; LockHeld otherwise), then writes the project's lock with a PutItem conditional
 * on it being free, ours or expired. Of two runs racing, exactly one write succeeds; the other
 * gets LockHeld naming the winner.
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
  async getLock(environment: string, project: string): Promise<LockRecord | undefined> {
    return this.#table.read(keys.lock(environment, project), LOCK_ITEM, 'lock');
  }

  /** The environment's lock items as stored (strongly consistent), expired or not, by project. */
  async environmentLocks(environment: string): Promise<LockRecord[]> {
    const items = await this.#table.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :lock)',
      ExpressionAttributeValues: { ':pk': `LOCK#${environment}`, ':lock': 'LOCK' },
      ConsistentRead: true,
    });
    return items.map((item) => parseItem(LOCK_ITEM, item, 'lock')).sort(byProject);
  }

  async acquire(
    environment: string,
    project: string,
    owner: string,
    now: Date,
    ttlMs: number,
  ): Promise<LockRecord> {
    const stored = await this.environmentLocks(environment);
    assertNoWholeEnvironmentLock(
      stored.find((lock) => lock.project === WHOLE_ENVIRONMENT_PROJECT),
      owner,
      now,
    );
    const existing = stored.find((lock) => lock.project === project);
    const lock = decideLock(existing, { environment, project, owner, now, ttlMs });
    const written = await this.#table.put({
      Item: {
        ...keys.lock(environment, project),
        type: 'lock',
        environment: lock.environment,
        project: lock.project,
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
      const current = await this.getLock(environment, project);
      throw current
        ? LockHeld.heldBy(current)
        : new LockHeld(
            `project ${project} in environment ${environment} was locked by another run meanwhile`,
          );
    }
    return lock;
  }

  async release(environment: string, project: string, owner: string, now: Date): Promise<boolean> {
    const release = await this.#table.delete({
      Key: keys.lock(environment, project),
      ConditionExpression: 'attribute_not_exists(pk) OR #owner = :owner',
      ExpressionAttributeNames: { '#owner': 'owner' },
      ExpressionAttributeValues: { ':owner': owner },
    });
    if (!release.deleted) {
      // Another run holds it: LockNotOwned, naming it (or nothing, if it went meanwhile).
      assertCanRelease(await this.getLock(environment, project), owner);
      return false;
    }
    if (release.old === undefined) return false; // there was no lock: a release is idempotent
    const lock = parseItem(LOCK_ITEM, release.old, 'lock');
    const releasedAt = now.toISOString();
    await this.#table.put({
      Item: {
        ...keys.lockHistory(environment, lock.acquiredAt, lock.owner, project),
        type: 'lock-history',
        environment,
        project,
        owner: lock.owner,
        acquiredAt: lock.acquiredAt,
        releasedAt,
        expiresAtEpoch: epochSeconds(releasedAt, 'now') + this.#historyRetentionSeconds,
      },
    });
    return true;
  }

  /**
   * Every lock held now (expired ones too, until DynamoDB's TTL removes them), by environment
   * and project.
   */
  async list(): Promise<LockRecord[]> {
    const items = await this.#table.scanAll('LOCK#', ['lock']);
    return items.map((item) => parseItem(LOCK_ITEM, item, 'lock')).sort(byProject);
  }

  /** Every lock that was held and released, oldest first (proof that holds never overlapped). */
  async lockHistory(
    environment: string,
  ): Promise<{ project: string; owner: string; acquiredAt: string; releasedAt: string }[]> {
    const items = await this.#table.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :history)',
      ExpressionAttributeValues: { ':pk': `LOCK#${environment}`, ':history': 'HISTORY#' },
      ConsistentRead: true,
    });
    return items.map((item) => parseItem(LOCK_HISTORY_ITEM, item, 'lock history'));
  }
}
