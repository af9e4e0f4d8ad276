// The approval endpoint on AWS (a Lambda Function URL): GET shows the confirmation page, the
// POST from it decides and resumes the waiting workflow (SendTaskSuccess / SendTaskFailure).
// With SLACK_SIGNING_SECRET_ID set, POST /slack/actions takes Slack's interactive buttons,
// verified by Slack's signature: an approval's, limited to the approver allowlist, and a policy
// override's, which sends an owner of the blocking policies their own links.
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { errorPage, handleApprovalRequest } from '../core/approval-endpoint.ts';
import { decideStep, ownerLinksStep } from '../core/steps.ts';
import {
  type SlackOwnerLinksRequest,
  decisionFromSlackAction,
  isPageOpened,
  ownerLinksRequest,
  slackPayloadFromBody,
  verifySlackRequest,
} from '../adapters/slack/interactivity.ts';
import { postEphemeral } from '../adapters/slack/webhook.ts';
import { StepformError } from '../core/errors.ts';
import { ownerLinksMessage } from '../core/slack-message.ts';
import { approvers } from './config.ts';
import { type AwsRuntime, awsRuntime, instrument } from './runtime.ts';

/**
 * An owner's click on a policy override's button: their own links, in a message only they
 * see. Anyone else is told why not, there too (Slack shows nothing of the HTTP answer).
 */
async function sendOwnerLinks(
  asked: SlackOwnerLinksRequest,
  event: APIGatewayProxyEventV2,
  runtime: AwsRuntime,
  now: Date,
): Promise<APIGatewayProxyStructuredResultV2> {
  try {
    const given = await ownerLinksStep(
      { approvalId: asked.approvalId, who: asked.who, owner: asked.ownerAmong, now },
      runtime.approvals,
      { baseUrl: ownUrl(event), signingKey: await runtime.signingKey() },
    );
    await postEphemeral(
      asked.responseUrl,
      ownerLinksMessage({
        runId: given.approval.runId,
        environment: given.approval.environment,
        owner: given.owner,
        blockedBy: given.blockedBy,
        approve: given.approve,
        reject: given.reject,
        expiresAt: given.approval.expiresAt,
      }),
    );
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: `Links sent to ${given.owner}.` }),
    };
  } catch (error) {
    if (error instanceof StepformError && error.kind === 'usage') {
      await postEphemeral(asked.responseUrl, { text: `Stepform: ${error.message}` }).catch(
        () => undefined,
      );
    }
    throw error;
  }
}

/**
 * This endpoint's URL as the request reached it (its own URL cannot be in its environment: a
 * cycle). A Function URL is https, named by the domain AWS puts in the request context.
 */
function ownUrl(event: APIGatewayProxyEventV2): string {
  const protocol = event.headers['x-forwarded-proto'] === 'http' ? 'http' : 'https';
  return `${protocol}://${event.requestContext.domainName}/`;
}

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
        const payload = slackPayloadFromBody(body);
        // An owner's own link button: the click opened the page; nothing to do here.
        if (isPageOpened(payload)) return { statusCode: 200, body: '' };
        const asked = ownerLinksRequest(payload);
        if (asked) return await sendOwnerLinks(asked, event, runtime, now);
        const decision = decisionFromSlackAction(payload, allowed);
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
