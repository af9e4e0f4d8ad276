// The DynamoDB DocumentClient mocked for the unit tests of the DynamoDB stores
// (aws-sdk-client-mock): each test says what the table answers, then asserts on the exact
// commands the store sent.
import { beforeEach } from '@jest/globals';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type AwsCommand, mockClient } from 'aws-sdk-client-mock';

export const TABLE = 'stepform';

/**
 * The mocked DocumentClient (reset before each test), the client to build a store on,
 * `sent(Command)`: the inputs of the commands of that kind the store sent, in order, and
 * `consistentRead(key)`: the input of a strongly consistent GetItem of `key` in the table.
 */
export function mockDynamoTable() {
  const ddb = mockClient(DynamoDBDocumentClient);
  beforeEach(() => {
    ddb.reset();
  });
  // Typed as commandCalls is: the input type comes from the command class.
  /* eslint-disable @typescript-eslint/no-explicit-any */
  const sent = <
    Command extends AwsCommand<any, any>,
    Input extends (Command extends AwsCommand<infer I, any> ? I : never),
  >(
    command: new (input: Input) => Command,
  ): Input[] => ddb.commandCalls(command).map((call) => call.args[0].input as Input);
  /* eslint-enable @typescript-eslint/no-explicit-any */
  const consistentRead = (key: { pk: string; sk: string }) => ({
    TableName: TABLE,
    Key: key,
    ConsistentRead: true,
  });
  return { ddb, client: new DynamoDBClient({ region: 'us-east-1' }), sent, consistentRead };
}

/** What DynamoDB throws when a write's condition does not hold. */
export function conditionFailed(): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
  });
}
