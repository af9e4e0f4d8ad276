import { describe, expect, it } from '@jest/globals';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE, conditionFailed, mockDynamoTable } from '../../../test/support/mock-dynamo.ts';
import { InvalidInput } from '../../../core/errors.ts';
import type { StoredApproval } from '../../../core/ports.ts';
import { DynamoApprovalPort } from './dynamo-approvals.ts';

const COMMIT = 'c'.repeat(40);

const { ddb, client, sent, consistentRead } = mockDynamoTable();

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
    expect(sent(PutCommand)[0]).toEqual({
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
    expect(sent(GetCommand)[0]).toEqual(consistentRead({ pk: 'APPROVAL#appr-1', sk: 'APPROVAL' }));
  });

  it('gets nothing for an unknown id', async () => {
    ddb.on(GetCommand).resolves({});
    expect(await approvals.get('nope')).toBeUndefined();
  });

  it('decides with an UpdateItem conditional on pending and not expired', async () => {
    ddb.on(UpdateCommand).resolves({});
    expect(await approvals.decide('appr-1', 'approved', 'ann', '2026-03-01T10:05:00.000Z')).toBe(
      true,
    );
    expect(sent(UpdateCommand)[0]).toEqual({
      TableName: TABLE,
      Key: { pk: 'APPROVAL#appr-1', sk: 'APPROVAL' },
      UpdateExpression: 'SET #status = :status, decidedAt = :at, decidedBy = :by',
      ConditionExpression: '#status = :pending AND :at <= expiresAt',
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
    expect(sent(UpdateCommand)[0]).toMatchObject({
      UpdateExpression: 'SET #status = :status, decidedAt = :at',
      // Marking it expired is allowed past the expiry: that is when it happens.
      ConditionExpression: '#status = :pending',
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
    expect(sent(UpdateCommand)).toHaveLength(1);
  });

  it('passes other errors through', async () => {
    ddb.on(UpdateCommand).rejects(new Error('boom'));
    await expect(approvals.decide('appr-1', 'rejected', 'bob', 'x')).rejects.toThrow('boom');
  });
});
