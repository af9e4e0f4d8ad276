import { describe, expect, it } from '@jest/globals';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE, conditionFailed, mockDynamoTable } from '../../../test/support/mock-dynamo.ts';
import { DynamoRecordPort } from './dynamo-records.ts';
import { keys } from './table.ts';

const COMMIT = 'c'.repeat(40);

const { ddb, client, sent, consistentRead } = mockDynamoTable();

describe('DynamoRecordPort', () => {
  const records = new DynamoRecordPort(client, TABLE);
  const good = { commit: COMMIT, runId: 'run-1', at: '2026-03-01T10:00:00.000Z' };

  it('reads the last good commit', async () => {
    ddb.on(GetCommand).resolves({
      Item: { ...keys.lastGood('dev', 'infra/app'), type: 'last-good', ...good },
    });
    expect(await records.getLastGood('dev', 'infra/app')).toEqual(good);
    expect(sent(GetCommand)[0]).toEqual(
      consistentRead({ pk: 'ENV#dev', sk: 'LASTGOOD#infra/app' }),
    );
  });

  it('has no last good commit when there is no item', async () => {
    ddb.on(GetCommand).resolves({});
    expect(await records.getLastGood('dev', 'infra/app')).toBeUndefined();
  });

  it('puts the last good commit unless a newer one is stored', async () => {
    ddb.on(PutCommand).resolves({});
    await records.setLastGood('dev', 'infra/app', good);
    expect(sent(PutCommand)[0]).toEqual({
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
    expect(sent(PutCommand)[0]).toEqual({
      TableName: TABLE,
      Item: { pk: 'ENV#dev', sk: 'PROJECT#infra/app', type: 'environment', ...record },
    });
    ddb.on(GetCommand).resolves({ Item: sent(PutCommand)[0]!.Item });
    expect(await records.getEnvironment('dev', 'infra/app')).toEqual(record);
  });
});
