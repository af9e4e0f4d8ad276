// The AWS clients the Lambda handlers build, mocked (aws-sdk-client-mock) and reset before each
// test of the file that calls this; and an approval as the DynamoDB table stores it.
import { beforeEach } from '@jest/globals';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';

/** The configuration every handler reads (lambdas/config.ts), for a deployment in eu-west-1. */
export const LAMBDA_ENV = {
  AWS_REGION: 'eu-west-1',
  TABLE_NAME: 'stepform',
  ARTIFACTS_BUCKET: 'stepform-artifacts',
  STATE_BUCKET: 'stepform-state',
  STATUS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/stepform-status.fifo',
  APPROVAL_URL: 'https://abc.lambda-url.eu-west-1.on.aws',
  SIGNING_KEY_SECRET_ID: 'stepform/approval-signing-key',
  SCHEDULE_GROUP: 'stepform',
  DESTROY_STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:stepform-destroy',
  SCHEDULER_ROLE_ARN: 'arn:aws:iam::123456789012:role/stepform-scheduler',
  // Quiet Powertools in tests: no log lines, no metric blobs on stdout.
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
};

export function mockLambdaClients() {
  const clients = {
    dynamo: mockClient(DynamoDBDocumentClient),
    sfn: mockClient(SFNClient),
    secrets: mockClient(SecretsManagerClient),
    sqs: mockClient(SQSClient),
  };
  beforeEach(() => {
    for (const client of Object.values(clients)) client.reset();
  });
  return clients;
}

/** The table item of approval appr-1 of run-1, waiting on task token TOKEN-SECRET-123. */
export function approvalItem(
  status: string,
  environment = 'dev',
  expiresAt = '2099-01-01T00:00:00.000Z',
) {
  return {
    pk: 'APPROVAL#appr-1',
    sk: 'APPROVAL',
    type: 'approval',
    id: 'appr-1',
    runId: 'run-1',
    taskToken: 'TOKEN-SECRET-123',
    environment,
    projectDir: 'stack',
    commit: 'c'.repeat(40),
    planSha256: 'd'.repeat(64),
    status,
    requestedAt: '2026-11-23T00:00:00.000Z',
    expiresAt,
    expiresAtEpoch: Date.parse(expiresAt) / 1000,
  };
}
