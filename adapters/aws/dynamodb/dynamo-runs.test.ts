import { beforeEach, describe, expect, it } from '@jest/globals';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoRunPort } from './dynamo-runs.ts';

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

describe('DynamoRunPort', () => {
  const runs = new DynamoRunPort(client, TABLE);

  it('merges run details into the details map with UpdateItem SET', async () => {
    ddb.on(UpdateCommand).resolves({});
    await runs.addRunDetails('run-1', {
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
    await runs.addRunDetails('run-1', { outcome: 'applied' });
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
    await runs.addRunDetails('run-1', { outcome: 'applied' });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(3);
    expect(ddb.commandCalls(UpdateCommand)[2]!.args[0].input.ConditionExpression).toBe(
      'attribute_exists(#details)',
    );
  });

  it('writes nothing for empty details', async () => {
    await runs.addRunDetails('run-1', {});
    expect(ddb.calls()).toHaveLength(0);
  });
});
