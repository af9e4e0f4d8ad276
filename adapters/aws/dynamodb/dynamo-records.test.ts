import { beforeEach, describe, expect, it } from '@jest/globals';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoRecordPort } from './dynamo-records.ts';
import { keys } from './table.ts';

const TABLE = 'stepform';
const COMMIT = 'c'.repeat(40);

const ddb = mockClient(DynamoDBDocumentClient);
const client = new DynamoDBClient({ region: 'us-east-1' });

function conditionFailed(): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
  });
}

beforeEach(() => {
  ddb.reset();
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
});
