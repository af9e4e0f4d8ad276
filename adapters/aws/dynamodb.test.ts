import { beforeEach, describe, expect, it } from '@jest/globals';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { InvalidInput, LockHeld, LockNotOwned } from '../../core/errors.ts';
import type { StoredApproval } from '../../core/ports.ts';
import { DynamoApprovalPort, DynamoLockPort, DynamoRecordPort, keys } from './dynamodb.ts';

const TABLE = 'stepform';
const NOW = new Date('2026-03-01T10:00:00.000Z');
const HOUR = 3_600_000;
const COMMIT = 'c'.repeat(40);

const ddb = mockClient(DynamoDBDocumentClient);
const client = new DynamoDBClient({ region: 'us-east-1' });

function conditionFailed(): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
  });
}

function lockItem(owner: string, acquiredAt: string, expiresAt: string) {
  return { ...keys.lock('dev'), type: 'lock', environment: 'dev', owner, acquiredAt, expiresAt };
}

beforeEach(() => {
  ddb.reset();
});

describe('DynamoLockPort.acquire', () => {
  const locks = new DynamoLockPort(client, TABLE);

  it('reads the lock, then puts a new one conditional on free, ours or expired', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(PutCommand).resolves({});
    const lock = await locks.acquire('dev', 'run-1', NOW, HOUR);
    expect(lock).toEqual({
      environment: 'dev',
      owner: 'run-1',
      acquiredAt: '2026-03-01T10:00:00.000Z',
      expiresAt: '2026-03-01T11:00:00.000Z',
    });
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: 'LOCK#dev', sk: 'LOCK' },
      ConsistentRead: true,
    });
    expect(ddb.commandCalls(PutCommand)).toHaveLength(1);
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Item: {
        pk: 'LOCK#dev',
        sk: 'LOCK',
        type: 'lock',
        environment: 'dev',
        owner: 'run-1',
        acquiredAt: '2026-03-01T10:00:00.000Z',
        expiresAt: '2026-03-01T11:00:00.000Z',
        expiresAtEpoch: Date.parse('2026-03-01T11:00:00.000Z') / 1000,
      },
      ConditionExpression: 'attribute_not_exists(pk) OR #owner = :owner OR expiresAt <= :now',
      ExpressionAttributeNames: { '#owner': 'owner' },
      ExpressionAttributeValues: { ':owner': 'run-1', ':now': '2026-03-01T10:00:00.000Z' },
    });
  });

  it('renews its own lock with the same acquiredAt', async () => {
    ddb.on(GetCommand).resolves({
      Item: lockItem('run-1', '2026-03-01T09:30:00.000Z', '2026-03-01T10:30:00.000Z'),
    });
    ddb.on(PutCommand).resolves({});
    const lock = await locks.acquire('dev', 'run-1', NOW, HOUR);
    expect(lock.acquiredAt).toBe('2026-03-01T09:30:00.000Z');
    expect(lock.expiresAt).toBe('2026-03-01T11:00:00.000Z');
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input.Item).toMatchObject({
      acquiredAt: '2026-03-01T09:30:00.000Z',
      expiresAt: '2026-03-01T11:00:00.000Z',
    });
  });

  it('throws LockHeld without writing when another run holds a live lock', async () => {
    ddb.on(GetCommand).resolves({
      Item: lockItem('run-0', '2026-03-01T09:30:00.000Z', '2026-03-01T10:30:00.000Z'),
    });
    await expect(locks.acquire('dev', 'run-1', NOW, HOUR)).rejects.toThrow(
      new LockHeld('environment dev is locked by run run-0 until 2026-03-01T10:30:00.000Z'),
    );
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('takes over an expired lock', async () => {
    ddb.on(GetCommand).resolves({
      Item: lockItem('run-0', '2026-03-01T08:00:00.000Z', '2026-03-01T09:00:00.000Z'),
    });
    ddb.on(PutCommand).resolves({});
    const lock = await locks.acquire('dev', 'run-1', NOW, HOUR);
    expect(lock).toMatchObject({ owner: 'run-1', acquiredAt: '2026-03-01T10:00:00.000Z' });
  });

  it('maps ConditionalCheckFailedException to LockHeld naming the owner read after it', async () => {
    ddb
      .on(GetCommand)
      .resolvesOnce({})
      .resolves({
        Item: lockItem('run-2', '2026-03-01T10:00:00.000Z', '2026-03-01T12:00:00.000Z'),
      });
    ddb.on(PutCommand).rejects(conditionFailed());
    const error: unknown = await locks.acquire('dev', 'run-1', NOW, HOUR).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockHeld);
    expect((error as LockHeld).message).toBe(
      'environment dev is locked by run run-2 until 2026-03-01T12:00:00.000Z',
    );
    expect(ddb.commandCalls(GetCommand)).toHaveLength(2);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(1);
  });

  it('passes other errors through', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(PutCommand).rejects(new Error('ProvisionedThroughputExceeded'));
    await expect(locks.acquire('dev', 'run-1', NOW, HOUR)).rejects.toThrow(
      'ProvisionedThroughputExceeded',
    );
  });
});

describe('DynamoLockPort.release', () => {
  const locks = new DynamoLockPort(client, TABLE, { historyRetentionSeconds: 100 });

  it('deletes conditional on the owner and writes a lock-history item', async () => {
    ddb.on(DeleteCommand).resolves({
      Attributes: lockItem('run-1', '2026-03-01T09:00:00.000Z', '2026-03-01T11:00:00.000Z'),
    });
    ddb.on(PutCommand).resolves({});
    await locks.release('dev', 'run-1', NOW);
    expect(ddb.commandCalls(DeleteCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: 'LOCK#dev', sk: 'LOCK' },
      ConditionExpression: 'attribute_not_exists(pk) OR #owner = :owner',
      ExpressionAttributeNames: { '#owner': 'owner' },
      ExpressionAttributeValues: { ':owner': 'run-1' },
      ReturnValues: 'ALL_OLD',
    });
    expect(ddb.commandCalls(PutCommand)).toHaveLength(1);
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Item: {
        pk: 'LOCK#dev',
        sk: 'HISTORY#2026-03-01T09:00:00.000Z#run-1',
        type: 'lock-history',
        environment: 'dev',
        owner: 'run-1',
        acquiredAt: '2026-03-01T09:00:00.000Z',
        releasedAt: '2026-03-01T10:00:00.000Z',
        expiresAtEpoch: NOW.getTime() / 1000 + 100,
      },
    });
  });

  it('is a no-op when there is no lock', async () => {
    ddb.on(DeleteCommand).resolves({});
    await locks.release('dev', 'run-1', NOW);
    expect(ddb.commandCalls(DeleteCommand)).toHaveLength(1);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it("refuses another run's lock with LockNotOwned", async () => {
    ddb.on(DeleteCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({
      Item: lockItem('run-2', '2026-03-01T09:00:00.000Z', '2026-03-01T11:00:00.000Z'),
    });
    await expect(locks.release('dev', 'run-1', NOW)).rejects.toThrow(
      new LockNotOwned('run run-1 cannot release the lock on dev: run run-2 holds it'),
    );
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('is fine when the other lock went between the delete and the read', async () => {
    ddb.on(DeleteCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({});
    await expect(locks.release('dev', 'run-1', NOW)).resolves.toBeUndefined();
  });
});

describe('DynamoLockPort.lockHistory', () => {
  it('queries the history items, page by page', async () => {
    const locks = new DynamoLockPort(client, TABLE);
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [{ owner: 'a', acquiredAt: '1', releasedAt: '2' }],
        LastEvaluatedKey: { pk: 'LOCK#dev', sk: 'HISTORY#1#a' },
      })
      .resolves({ Items: [{ owner: 'b', acquiredAt: '3', releasedAt: '4' }] });
    expect(await locks.lockHistory('dev')).toEqual([
      { owner: 'a', acquiredAt: '1', releasedAt: '2' },
      { owner: 'b', acquiredAt: '3', releasedAt: '4' },
    ]);
    expect(ddb.commandCalls(QueryCommand)[1]!.args[0].input).toEqual({
      TableName: TABLE,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :history)',
      ExpressionAttributeValues: { ':pk': 'LOCK#dev', ':history': 'HISTORY#' },
      ConsistentRead: true,
      ExclusiveStartKey: { pk: 'LOCK#dev', sk: 'HISTORY#1#a' },
    });
  });
});

describe('DynamoRecordPort', () => {
  const records = new DynamoRecordPort(client, TABLE);
  const good = { commit: COMMIT, runId: 'run-1', at: '2026-03-01T10:00:00.000Z' };

  it('reads the last good commit', async () => {
    ddb.on(GetCommand).resolves({
      Item: { ...keys.lastGood('dev', 'infra/app'), type: 'last-good', ...good },
    });
    expect(await records.getLastGood('dev', 'infra/app')).toEqual(good);
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: 'ENV#dev', sk: 'LASTGOOD#infra/app' },
      ConsistentRead: true,
    });
  });

  it('has no last good commit when there is no item', async () => {
    ddb.on(GetCommand).resolves({});
    expect(await records.getLastGood('dev', 'infra/app')).toBeUndefined();
  });

  it('puts the last good commit unless a newer one is stored', async () => {
    ddb.on(PutCommand).resolves({});
    await records.setLastGood('dev', 'infra/app', good);
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Item: {
        pk: 'ENV#dev',
        sk: 'LASTGOOD#infra/app',
        type: 'last-good',
        environment: 'dev',
        projectDir: 'infra/app',
        ...good,
      },
      ConditionExpression: 'attribute_not_exists(pk) OR #at <= :at',
      ExpressionAttributeNames: { '#at': 'at' },
      ExpressionAttributeValues: { ':at': good.at },
    });
  });

  it('keeps a newer last good commit (the condition fails quietly)', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    await expect(records.setLastGood('dev', 'infra/app', good)).resolves.toBeUndefined();
  });

  it('puts the environment record', async () => {
    ddb.on(PutCommand).resolves({});
    const record = {
      environment: 'dev',
      projectDir: 'infra/app',
      status: 'active',
      ttlExpiresAt: null,
      lastRunId: 'run-1',
      updatedAt: '2026-03-01T10:00:00.000Z',
    };
    await records.setEnvironment(record);
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Item: { pk: 'ENV#dev', sk: 'PROJECT#infra/app', type: 'environment', ...record },
    });
    ddb.on(GetCommand).resolves({ Item: ddb.commandCalls(PutCommand)[0]!.args[0].input.Item });
    expect(await records.getEnvironment('dev', 'infra/app')).toEqual(record);
  });

  it('merges run details into the details map with UpdateItem SET', async () => {
    ddb.on(UpdateCommand).resolves({});
    await records.addRunDetails('run-1', {
      outcome: 'applied',
      rollback: { commit: COMMIT },
      skip: undefined,
    });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: 'RUN#run-1', sk: 'RUN' },
      UpdateExpression: 'SET #details.#k0 = :v0, #details.#k1 = :v1',
      ConditionExpression: 'attribute_exists(#details)',
      ExpressionAttributeNames: { '#details': 'details', '#k0': 'outcome', '#k1': 'rollback' },
      ExpressionAttributeValues: { ':v0': 'applied', ':v1': { commit: COMMIT } },
    });
  });

  it('creates the details map when the run has none yet', async () => {
    ddb.on(UpdateCommand).rejectsOnce(conditionFailed()).resolves({});
    await records.addRunDetails('run-1', { outcome: 'applied' });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(2);
    expect(ddb.commandCalls(UpdateCommand)[1]!.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: 'RUN#run-1', sk: 'RUN' },
      UpdateExpression: 'SET #type = :type, #runId = :runId, #details = :details',
      ConditionExpression: 'attribute_not_exists(#details)',
      ExpressionAttributeNames: { '#type': 'type', '#runId': 'runId', '#details': 'details' },
      ExpressionAttributeValues: {
        ':type': 'run',
        ':runId': 'run-1',
        ':details': { outcome: 'applied' },
      },
    });
  });

  it('merges after losing the creation race', async () => {
    ddb
      .on(UpdateCommand)
      .rejectsOnce(conditionFailed())
      .rejectsOnce(conditionFailed())
      .resolves({});
    await records.addRunDetails('run-1', { outcome: 'applied' });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(3);
    expect(ddb.commandCalls(UpdateCommand)[2]!.args[0].input.ConditionExpression).toBe(
      'attribute_exists(#details)',
    );
  });

  it('writes nothing for empty details', async () => {
    await records.addRunDetails('run-1', {});
    expect(ddb.calls()).toHaveLength(0);
  });
});

describe('DynamoApprovalPort', () => {
  const approvals = new DynamoApprovalPort(client, TABLE, { retentionSeconds: 60 });
  const approval: StoredApproval = {
    id: 'appr-1',
    runId: 'run-1',
    taskToken: 'token-1',
    environment: 'dev',
    projectDir: 'infra/app',
    commit: COMMIT,
    planSha256: 'f'.repeat(64),
    status: 'pending',
    requestedAt: '2026-03-01T10:00:00.000Z',
    expiresAt: '2026-03-01T11:00:00.000Z',
  };
  const item = {
    pk: 'APPROVAL#appr-1',
    sk: 'APPROVAL',
    type: 'approval',
    ...approval,
    expiresAtEpoch: Date.parse('2026-03-01T11:00:00.000Z') / 1000 + 60,
  };

  it('creates a pending approval, only if none has the id, with the TTL from expiresAt', async () => {
    ddb.on(PutCommand).resolves({});
    await approvals.create(approval);
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Item: item,
      ConditionExpression: 'attribute_not_exists(pk)',
    });
  });

  it('refuses a second approval with the same id', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    await expect(approvals.create(approval)).rejects.toThrow(InvalidInput);
  });

  it('gets an approval without the table attributes', async () => {
    ddb
      .on(GetCommand)
      .resolves({ Item: { ...item, status: 'approved', decidedBy: 'ann', decidedAt: 'x' } });
    expect(await approvals.get('appr-1')).toEqual({
      ...approval,
      status: 'approved',
      decidedBy: 'ann',
      decidedAt: 'x',
    });
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: 'APPROVAL#appr-1', sk: 'APPROVAL' },
      ConsistentRead: true,
    });
  });

  it('gets nothing for an unknown id', async () => {
    ddb.on(GetCommand).resolves({});
    expect(await approvals.get('nope')).toBeUndefined();
  });

  it('decides with an UpdateItem conditional on pending', async () => {
    ddb.on(UpdateCommand).resolves({});
    expect(await approvals.decide('appr-1', 'approved', 'ann', '2026-03-01T10:05:00.000Z')).toBe(
      true,
    );
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: 'APPROVAL#appr-1', sk: 'APPROVAL' },
      UpdateExpression: 'SET #status = :status, decidedAt = :at, decidedBy = :by',
      ConditionExpression: '#status = :pending',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':status': 'approved',
        ':at': '2026-03-01T10:05:00.000Z',
        ':pending': 'pending',
        ':by': 'ann',
      },
    });
  });

  it('decides without a decider (expiry)', async () => {
    ddb.on(UpdateCommand).resolves({});
    expect(await approvals.decide('appr-1', 'expired', null, '2026-03-01T11:00:00.000Z')).toBe(
      true,
    );
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input).toMatchObject({
      UpdateExpression: 'SET #status = :status, decidedAt = :at',
      ExpressionAttributeValues: {
        ':status': 'expired',
        ':at': '2026-03-01T11:00:00.000Z',
        ':pending': 'pending',
      },
    });
  });

  it('returns false when the approval is no longer pending', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());
    expect(await approvals.decide('appr-1', 'rejected', 'bob', '2026-03-01T10:05:00.000Z')).toBe(
      false,
    );
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
  });

  it('passes other errors through', async () => {
    ddb.on(UpdateCommand).rejects(new Error('boom'));
    await expect(approvals.decide('appr-1', 'rejected', 'bob', 'x')).rejects.toThrow('boom');
  });
});
