// The approval endpoint on AWS (a Lambda Function URL): GET shows the confirmation page, the
// POST from it decides and resumes the waiting workflow (SendTaskSuccess / SendTaskFailure).
// With SLACK_SIGNING_SECRET_ID set, POST /slack/actions takes Slack's interactive buttons,
// verified by Slack's signature and limited to the approver allowlist.
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { errorPage, handleApprovalRequest } from '../core/approval-endpoint.ts';
import { decideStep } from '../core/steps.ts';
import {
  decisionFromSlackAction,
  slackPayloadFromBody,
  verifySlackRequest,
} from '../adapters/slack/interactivity.ts';
import { approvers } from './config.ts';
import { awsRuntime, instrument } from './runtime.ts';

function bodyOf(event: APIGatewayProxyEventV2): string {
  const raw = event.body ?? '';
  return event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
}

export const handler = instrument(
  'ApprovalCallback',
  async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const runtime = awsRuntime();
    const ports = {
      approvals: runtime.approvals,
      callbacks: runtime.callbacks,
      artifacts: runtime.artifacts,
    };
    const now = new Date();
    const allowed = approvers(runtime.config);
    const method = event.requestContext.http.method;
    const body = bodyOf(event);

    if (
      method === 'POST' &&
      event.rawPath === '/slack/actions' &&
      runtime.config.SLACK_SIGNING_SECRET_ID
    ) {
      try {
        const secret = await runtime.secrets.get(runtime.config.SLACK_SIGNING_SECRET_ID);
        verifySlackRequest(
          {
            body,
            timestamp: event.headers['x-slack-request-timestamp'] ?? '',
            signature: event.headers['x-slack-signature'] ?? '',
          },
          secret,
          now,
        );
        const decision = decisionFromSlackAction(slackPayloadFromBody(body), allowed);
        const decided = await decideStep(
          { ...decision, now, via: 'slack', ...(allowed ? { approvers: allowed } : {}) },
          ports,
        );
        return {
          statusCode: 200,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text: `Run ${decided.runId} ${decided.status}.` }),
        };
      } catch (error) {
        const response = errorPage(error);
        return {
          statusCode: response.status,
          headers: { ...response.headers },
          body: response.body,
        };
      }
    }

    const response = await handleApprovalRequest(
      {
        method,
        path: event.rawPath,
        query: Object.fromEntries(
          Object.entries(event.queryStringParameters ?? {}).filter(
            (e): e is [string, string] => e[1] !== undefined,
          ),
        ),
        body,
      },
      ports,
      { signingKey: await runtime.signingKey(), now, ...(allowed ? { approvers: allowed } : {}) },
    );
    return { statusCode: response.status, headers: { ...response.headers }, body: response.body };
  },
);
