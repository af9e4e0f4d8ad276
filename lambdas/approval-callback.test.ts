// The approval endpoint on AWS with an approver list, as the stack deploys it then (APPROVERS
// and SLACK_SIGNING_SECRET_ID set): a per-approver link decides as its approver, a bare or
// tampered one is refused, and a Slack click decides as the listed Slack user who made it.
// A file of its own: the Lambda's runtime reads its environment once per module instance.
import { beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { approvalLink } from '../core/approval.ts';
import { LAMBDA_ENV, approvalItem, mockLambdaClients } from '../test/support/lambda-mocks.ts';
import { APPROVE_ACTION_ID } from '../core/slack-message.ts';
import { slackSignature } from '../adapters/slack/interactivity.ts';

const ENV = {
  ...LAMBDA_ENV,
  APPROVAL_URL: 'https://approval-endpoint.invalid/',
  SLACK_SIGNING_SECRET_ID: 'stepform/slack-signing-secret',
  APPROVERS: 'alice,U0BOB',
};
const KEY = 'k'.repeat(44);
const SLACK_SECRET = 'slack-signing-secret-0123456789';
const CONTEXT = { functionName: 'stepform-test', awsRequestId: 'req-1' } as Context;
const BASE = 'https://abc.lambda-url.eu-west-1.on.aws';
const EXPIRES_AT = new Date('2099-01-01T00:00:00Z');

const { dynamo, sfn, secrets } = mockLambdaClients();

const PENDING = approvalItem('pending', 'prod', EXPIRES_AT.toISOString());

beforeAll(() => {
  Object.assign(process.env, ENV);
});

beforeEach(() => {
  secrets.on(GetSecretValueCommand, { SecretId: ENV.SIGNING_KEY_SECRET_ID }).resolves({
    SecretString: KEY,
  });
  secrets.on(GetSecretValueCommand, { SecretId: ENV.SLACK_SIGNING_SECRET_ID }).resolves({
    SecretString: SLACK_SECRET,
  });
  dynamo.on(GetCommand).resolves({ Item: PENDING });
  dynamo.on(UpdateCommand).resolves({});
  sfn.on(SendTaskSuccessCommand).resolves({});
});

function event(
  method: string,
  path: string,
  options: { query?: Record<string, string>; body?: string; headers?: Record<string, string> },
): APIGatewayProxyEventV2 {
  return {
    rawPath: path,
    queryStringParameters: options.query,
    headers: options.headers ?? {},
    body: options.body,
    isBase64Encoded: false,
    requestContext: { http: { method } },
  } as unknown as APIGatewayProxyEventV2;
}

/** The POST of a link's confirmation form, with `changes` applied to its fields. */
function postLink(approver: string | undefined, changes: Record<string, string> = {}) {
  const url = new URL(
    approvalLink(
      BASE,
      {
        id: 'appr-1',
        action: 'approve',
        expiresAt: EXPIRES_AT,
        ...(approver === undefined ? {} : { approver }),
      },
      KEY,
    ),
  );
  const form = new URLSearchParams({ ...Object.fromEntries(url.searchParams), ...changes });
  return event('POST', url.pathname, { body: form.toString() });
}

/** A block_actions POST from Slack, signed with the app's signing secret unless told. */
function slackClick(user: Record<string, string>, secret = SLACK_SECRET) {
  const payload = {
    type: 'block_actions',
    user,
    actions: [{ action_id: APPROVE_ACTION_ID, value: 'appr-1.approve' }],
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const timestamp = String(Math.floor(Date.now() / 1000));
  return event('POST', '/slack/actions', {
    body,
    headers: {
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': slackSignature(timestamp, body, secret),
    },
  });
}

/** Where each decision was made, as the table's conditional update wrote it. */
function decidedVia(): unknown {
  return dynamo
    .commandCalls(UpdateCommand)
    .map((call) => call.args[0].input.ExpressionAttributeValues?.[':via'] as unknown);
}

function decidedBy(): unknown {
  return sfn.commandCalls(SendTaskSuccessCommand).map((call) => {
    const output = JSON.parse(call.args[0].input.output ?? '{}') as { approvedBy?: string };
    return output.approvedBy;
  });
}

describe('approval callback with an approver list', () => {
  it('decides as the approver a per-approver link was signed for', async () => {
    const { handler } = await import('./approval-callback.ts');

    const response = await handler(postLink('alice'), CONTEXT);

    expect(response.statusCode).toBe(200);
    expect(JSON.stringify(dynamo.commandCalls(UpdateCommand)[0]?.args[0].input)).toContain(
      '"alice"',
    );
    expect(decidedBy()).toEqual(['alice']);
    expect(decidedVia()).toEqual(['web']);
  });

  it('refuses a bare link, a tampered approver and an unlisted one, touching nothing', async () => {
    const { handler } = await import('./approval-callback.ts');

    const bare = await handler(postLink(undefined), CONTEXT);
    const tampered = await handler(postLink('alice', { approver: 'U0BOB' }), CONTEXT);
    const unlisted = await handler(postLink('mallory'), CONTEXT);

    expect([bare, tampered, unlisted].map((r) => r.statusCode)).toEqual([403, 403, 403]);
    expect(bare.body).toContain('names no approver');
    expect(tampered.body).toContain('signature does not match');
    expect(unlisted.body).toContain('mallory is not on the approver list');
    expect(dynamo.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(sfn.calls()).toHaveLength(0);
  });

  it('decides a signed Slack click as the listed Slack user, by username or id', async () => {
    const { handler } = await import('./approval-callback.ts');

    const byName = await handler(slackClick({ id: 'U0ALICE', username: 'Alice' }), CONTEXT);
    const byId = await handler(slackClick({ id: 'U0BOB', username: 'bobby' }), CONTEXT);

    expect([byName.statusCode, byId.statusCode]).toEqual([200, 200]);
    expect(decidedBy()).toEqual(['alice', 'U0BOB']);
    expect(decidedVia()).toEqual(['slack', 'slack']);
  });

  it('refuses a Slack click by an unlisted user, or signed with another secret', async () => {
    const { handler } = await import('./approval-callback.ts');

    const unlisted = await handler(slackClick({ id: 'U0MALLORY', username: 'mallory' }), CONTEXT);
    const forged = await handler(
      slackClick({ id: 'U0ALICE', username: 'alice' }, 'guessed'),
      CONTEXT,
    );

    expect([unlisted.statusCode, forged.statusCode]).toEqual([403, 403]);
    expect(unlisted.body).toContain('mallory is not on the approver list');
    expect(dynamo.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(sfn.calls()).toHaveLength(0);
  });
});
