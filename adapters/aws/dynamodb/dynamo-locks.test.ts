import { describe, expect, it } from '@jest/globals';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE, conditionFailed, mockDynamoTable } from '../../../test/support/mock-dynamo.ts';
import { LockHeld, LockNotOwned } from '../../../core/errors.ts';
import { DynamoLockPort } from './dynamo-locks.ts';
import { keys } from './table.ts';

const NOW = new Date('2026-03-01T10:00:00.000Z');
const HOUR = 3_600_000;

const { ddb, client, sent, consistentRead } = mockDynamoTable();

function lockItem(owner: string, acquiredAt: string, expiresAt: string) {
  return {
    ...keys.lock('dev', 'app'),
    type: 'lock',
    environment: 'dev',
    project: 'app',
    owner,
    acquiredAt,
    expiresAt,
  };
}

describe('DynamoLockPort.acquire', () => {
  const locks = new DynamoLockPort(client, TABLE);

  it('reads the lock, then puts a new one conditional on free, ours or expired', async () => {
    ddb.on(QueryCommand).resolves({});
    ddb.on(PutCommand).resolves({});
    const lock = await locks.acquire('dev', 'app', 'run-1', NOW, HOUR);
    expect(lock).toEqual({
      environment: 'dev',
      project: 'app',
      owner: 'run-1',
      acquiredAt: '2026-03-01T10:00:00.000Z',
      expiresAt: '2026-03-01T11:00:00.000Z',
    });
    expect(sent(QueryCommand)[0]).toEqual({
      TableName: TABLE,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :lock)',
      ExpressionAttributeValues: { ':pk': 'LOCK#dev', ':lock': 'LOCK' },
      ConsistentRead: true,
      ExclusiveStartKey: undefined,
    });
    expect(sent(PutCommand)).toEqual([
      {
        TableName: TABLE,
        Item: {
          pk: 'LOCK#dev',
          sk: 'LOCK#app',
          type: 'lock',
          environment: 'dev',
          project: 'app',
          owner: 'run-1',
          acquiredAt: '2026-03-01T10:00:00.000Z',
          expiresAt: '2026-03-01T11:00:00.000Z',
          expiresAtEpoch: Date.parse('2026-03-01T11:00:00.000Z') / 1000,
        },
        ConditionExpression: 'attribute_not_exists(pk) OR #owner = :owner OR expiresAt <= :now',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':owner': 'run-1', ':now': '2026-03-01T10:00:00.000Z' },
      },
    ]);
  });

  it('renews its own lock with the same acquiredAt', async () => {
    ddb.on(QueryCommand).resolves({
      Items: [lockItem('run-1', '2026-03-01T09:30:00.000Z', '2026-03-01T10:30:00.000Z')],
    });
    ddb.on(PutCommand).resolves({});
    const lock = await locks.acquire('dev', 'app', 'run-1', NOW, HOUR);
    expect(lock.acquiredAt).toBe('2026-03-01T09:30:00.000Z');
    expect(lock.expiresAt).toBe('2026-03-01T11:00:00.000Z');
    expect(sent(PutCommand)[0]!.Item).toMatchObject({
      acquiredAt: '2026-03-01T09:30:00.000Z',
      expiresAt: '2026-03-01T11:00:00.000Z',
    });
  });

  it('throws LockHeld without writing when another run holds a live lock', async () => {
    ddb.on(QueryCommand).resolves({
      Items: [lockItem('run-0', '2026-03-01T09:30:00.000Z', '2026-03-01T10:30:00.000Z')],
    });
    await expect(locks.acquire('dev', 'app', 'run-1', NOW, HOUR)).rejects.toThrow(
      new LockHeld(
        'project app in environment dev is locked by run run-0 until 2026-03-01T10:30:00.000Z',
      ),
    );
    expect(sent(PutCommand)).toHaveLength(0);
  });

  it('takes over an expired lock', async () => {
    ddb.on(QueryCommand).resolves({
      Items: [lockItem('run-0', '2026-03-01T08:00:00.000Z', '2026-03-01T09:00:00.000Z')],
    });
    ddb.on(PutCommand).resolves({});
    const lock = await locks.acquire('dev', 'app', 'run-1', NOW, HOUR);
    expect(lock).toMatchObject({ owner: 'run-1', acquiredAt: '2026-03-01T10:00:00.000Z' });
  });

  it('maps ConditionalCheckFailedException to LockHeld naming the owner read after it', async () => {
    ddb.on(QueryCommand).resolves({});
    ddb.on(GetCommand).resolves({
      Item: lockItem('run-2', '2026-03-01T10:00:00.000Z', '2026-03-01T12:00:00.000Z'),
    });
    ddb.on(PutCommand).rejects(conditionFailed());
    const error: unknown = await locks
      .acquire('dev', 'app', 'run-1', NOW, HOUR)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockHeld);
    expect((error as LockHeld).message).toBe(
      'project app in environment dev is locked by run run-2 until 2026-03-01T12:00:00.000Z',
    );
    expect(sent(GetCommand)[0]).toEqual(consistentRead({ pk: 'LOCK#dev', sk: 'LOCK#app' }));
    expect(sent(PutCommand)).toHaveLength(1);
  });

  it('passes other errors through', async () => {
    ddb.on(QueryCommand).resolves({});
    ddb.on(PutCommand).rejects(new Error('ProvisionedThroughputExceeded'));
    await expect(locks.acquire('dev', 'app', 'run-1', NOW, HOUR)).rejects.toThrow(
      'ProvisionedThroughputExceeded',
    );
  });
});

describe('DynamoLockPort with an environment-wide lock an older version wrote', () => {
  const locks = new DynamoLockPort(client, TABLE);
  const legacy = (owner: string, expiresAt: string) => ({
    pk: 'LOCK#dev',
    sk: 'LOCK',
    type: 'lock',
    environment: 'dev',
    owner,
    acquiredAt: '2026-03-01T09:00:00.000Z',
    expiresAt,
  });

  it('lists it as project *, and refuses every project while it lives', async () => {
    ddb.on(QueryCommand).resolves({ Items: [legacy('run-0', '2026-03-01T11:00:00.000Z')] });
    expect((await locks.environmentLocks('dev')).map((l) => [l.project, l.owner])).toEqual([
      ['*', 'run-0'],
    ]);
    await expect(locks.acquire('dev', 'app', 'run-1', NOW, HOUR)).rejects.toThrow(LockHeld);
    expect(sent(PutCommand)).toHaveLength(0);
  });

  it('is no obstacle once expired, and is released under its own key', async () => {
    ddb.on(QueryCommand).resolves({ Items: [legacy('run-0', '2026-03-01T09:30:00.000Z')] });
    ddb.on(PutCommand).resolves({});
    ddb.on(DeleteCommand).resolves({});
    await locks.acquire('dev', 'app', 'run-1', NOW, HOUR);
    await locks.release('dev', '*', 'run-0', NOW);
    expect(sent(DeleteCommand)[0]?.Key).toEqual({ pk: 'LOCK#dev', sk: 'LOCK' });
  });
});

describe('DynamoLockPort.release', () => {
  const locks = new DynamoLockPort(client, TABLE, { historyRetentionSeconds: 100 });

  it('deletes conditional on the owner and writes a lock-history item', async () => {
    ddb.on(DeleteCommand).resolves({
      Attributes: lockItem('run-1', '2026-03-01T09:00:00.000Z', '2026-03-01T11:00:00.000Z'),
    });
    ddb.on(PutCommand).resolves({});
    expect(await locks.release('dev', 'app', 'run-1', NOW)).toBe(true);
    expect(sent(DeleteCommand)[0]).toEqual({
      TableName: TABLE,
      Key: { pk: 'LOCK#dev', sk: 'LOCK#app' },
      ConditionExpression: 'attribute_not_exists(pk) OR #owner = :owner',
      ExpressionAttributeNames: { '#owner': 'owner' },
      ExpressionAttributeValues: { ':owner': 'run-1' },
      ReturnValues: 'ALL_OLD',
    });
    expect(sent(PutCommand)).toEqual([
      {
        TableName: TABLE,
        Item: {
          pk: 'LOCK#dev',
          sk: 'HISTORY#2026-03-01T09:00:00.000Z#run-1#app',
          type: 'lock-history',
          environment: 'dev',
          project: 'app',
          owner: 'run-1',
          acquiredAt: '2026-03-01T09:00:00.000Z',
          releasedAt: '2026-03-01T10:00:00.000Z',
          expiresAtEpoch: NOW.getTime() / 1000 + 100,
        },
      },
    ]);
  });

  it('is a no-op when there is no lock', async () => {
    ddb.on(DeleteCommand).resolves({});
    expect(await locks.release('dev', 'app', 'run-1', NOW)).toBe(false);
    expect(sent(DeleteCommand)).toHaveLength(1);
    expect(sent(PutCommand)).toHaveLength(0);
  });

  it("refuses another run's lock with LockNotOwned", async () => {
    ddb.on(DeleteCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({
      Item: lockItem('run-2', '2026-03-01T09:00:00.000Z', '2026-03-01T11:00:00.000Z'),
    });
    await expect(locks.release('dev', 'app', 'run-1', NOW)).rejects.toThrow(
      new LockNotOwned('run run-1 cannot release the lock on app in dev: run run-2 holds it'),
    );
    expect(sent(PutCommand)).toHaveLength(0);
  });

  it('is fine when the other lock went between the delete and the read', async () => {
    ddb.on(DeleteCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({});
    await expect(locks.release('dev', 'app', 'run-1', NOW)).resolves.toBe(false);
  });
});

describe('DynamoLockPort.lockHistory', () => {
  it('queries the history items, page by page', async () => {
    const locks = new DynamoLockPort(client, TABLE);
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [{ project: 'app', owner: 'a', acquiredAt: '1', releasedAt: '2' }],
        LastEvaluatedKey: { pk: 'LOCK#dev', sk: 'HISTORY#1#a#app' },
      })
      // An older version's item has no project.
      .resolves({ Items: [{ owner: 'b', acquiredAt: '3', releasedAt: '4' }] });
    expect(await locks.lockHistory('dev')).toEqual([
      { project: 'app', owner: 'a', acquiredAt: '1', releasedAt: '2' },
      { project: '*', owner: 'b', acquiredAt: '3', releasedAt: '4' },
    ]);
    expect(sent(QueryCommand)[1]).toEqual({
      TableName: TABLE,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :history)',
      ExpressionAttributeValues: { ':pk': 'LOCK#dev', ':history': 'HISTORY#' },
      ConsistentRead: true,
      ExclusiveStartKey: { pk: 'LOCK#dev', sk: 'HISTORY#1#a#app' },
    });
  });
});
