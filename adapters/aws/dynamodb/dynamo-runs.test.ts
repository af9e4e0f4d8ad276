import { describe, expect, it } from '@jest/globals';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE, conditionFailed, mockDynamoTable } from '../../../test/support/mock-dynamo.ts';
import { DynamoRunPort } from './dynamo-runs.ts';

const COMMIT = 'c'.repeat(40);

const { ddb, client, sent } = mockDynamoTable();

/** Where run-1's item is. */
const RUN_1 = { TableName: TABLE, Key: { pk: 'RUN#run-1', sk: 'RUN' } };

describe('DynamoRunPort', () => {
  const runs = new DynamoRunPort(client, TABLE);

  it('merges run details into the details map with UpdateItem SET', async () => {
    ddb.on(UpdateCommand).resolves({});
    await runs.addRunDetails('run-1', {
      outcome: 'applied',
      rollback: { commit: COMMIT },
      skip: undefined,
    });
    expect(sent(UpdateCommand)).toEqual([
      {
        ...RUN_1,
        UpdateExpression: 'SET #details.#k0 = :v0, #details.#k1 = :v1',
        ConditionExpression: 'attribute_exists(#details)',
        ExpressionAttributeNames: { '#details': 'details', '#k0': 'outcome', '#k1': 'rollback' },
        ExpressionAttributeValues: { ':v0': 'applied', ':v1': { commit: COMMIT } },
      },
    ]);
  });

  it('creates the details map when the run has none yet', async () => {
    ddb.on(UpdateCommand).rejectsOnce(conditionFailed()).resolves({});
    await runs.addRunDetails('run-1', { outcome: 'applied' });
    expect(sent(UpdateCommand)).toHaveLength(2);
    expect(sent(UpdateCommand)[1]).toEqual({
      ...RUN_1,
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
    expect(sent(UpdateCommand)).toHaveLength(3);
    expect(sent(UpdateCommand)[2]!.ConditionExpression).toBe('attribute_exists(#details)');
  });

  it('writes nothing for empty details', async () => {
    await runs.addRunDetails('run-1', {});
    expect(ddb.calls()).toHaveLength(0);
  });
});
