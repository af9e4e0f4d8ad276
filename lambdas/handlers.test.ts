// The Lambda handlers as Step Functions and the Function URL call them, with the AWS SDK
// mocked (aws-sdk-client-mock): each is a thin wrapper over a core step, and errors reach the
// state machine by name.
import { afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { SendTaskFailureCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { generateKeyPairSync } from 'node:crypto';
import { approvalLink } from '../core/approval.ts';
import { rejection } from '../test/support/caught.ts';
import { RecordingServer } from '../test/support/recording-server.ts';
import { LAMBDA_ENV, approvalItem, mockLambdaClients } from '../test/support/lambda-mocks.ts';
import { TASK_STEPS } from '../core/task-steps.ts';
import { readConfig } from './config.ts';
import { AwsRuntime } from './runtime.ts';

const ENV = { ...LAMBDA_ENV, GITHUB_REPOSITORY: 'acme/infra' };
const KEY = 'k'.repeat(44);
const CONTEXT = { functionName: 'stepform-test', awsRequestId: 'req-1' } as Context;
const RUN = {
  runId: 'run-1',
  workflow: 'plan-apply',
  repository: 'https://github.com/acme/infra',
  commit: 'c'.repeat(40),
  projectDir: 'stack',
  environment: 'dev',
};

const { dynamo, sfn, secrets, sqs } = mockLambdaClients();

beforeAll(() => {
  Object.assign(process.env, ENV);
});

beforeEach(() => {
  secrets.on(GetSecretValueCommand).resolves({ SecretString: KEY });
});

afterEach(() => {
  dynamo.reset();
});

describe('config', () => {
  it('names a missing or malformed variable', () => {
    expect(() => readConfig({ ...ENV, TABLE_NAME: undefined })).toThrow(
      expect.objectContaining({
        name: 'InvalidInput',
        field: 'env.TABLE_NAME',
      }),
    );
    expect(() => readConfig({ ...ENV, STATUS_QUEUE_URL: 'https://sqs.example/q' })).toThrow(
      expect.objectContaining({ field: 'env.STATUS_QUEUE_URL' }),
    );
  });
});

describe('lock handler', () => {
  it('writes the lock with its condition and returns the owner', async () => {
    const { handler } = await import('./lock.ts');
    const { QueryCommand } = await import('@aws-sdk/lib-dynamodb');
    dynamo.on(QueryCommand).resolves({});
    dynamo.on(PutCommand).resolves({});
    const result = await handler(
      { runId: 'run-1', environment: 'dev', projects: ['network', 'app'] },
      CONTEXT,
    );
    expect(result).toMatchObject({ owner: 'run-1' });
    // One lock per project, in sorted order.
    const puts = dynamo.commandCalls(PutCommand).map((call) => call.args[0].input);
    expect(puts.map((put) => put.Item?.sk as unknown)).toEqual(['LOCK#app', 'LOCK#network']);
    expect(puts[0]).toMatchObject({
      TableName: 'stepform',
      Item: { pk: 'LOCK#dev', sk: 'LOCK#app', project: 'app', owner: 'run-1' },
      ConditionExpression: 'attribute_not_exists(pk) OR #owner = :owner OR expiresAt <= :now',
    });
  });

  it('fails with LockHeld, by name, when another run won the write', async () => {
    const { handler } = await import('./lock.ts');
    const { QueryCommand } = await import('@aws-sdk/lib-dynamodb');
    dynamo.on(QueryCommand).resolves({});
    dynamo.on(GetCommand).resolves({
      Item: {
        pk: 'LOCK#dev',
        sk: 'LOCK#app',
        type: 'lock',
        environment: 'dev',
        project: 'app',
        owner: 'run-0',
        acquiredAt: '2026-11-23T00:00:00.000Z',
        expiresAt: '2099-01-01T00:00:00.000Z',
        expiresAtEpoch: 4070908800,
      },
    });
    dynamo
      .on(PutCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    await expect(
      handler({ runId: 'run-1', environment: 'dev', projects: ['app'] }, CONTEXT),
    ).rejects.toMatchObject({
      name: 'LockHeld',
      message: expect.stringContaining('project app in environment dev is locked by run run-0'),
    });
  });

  it('refuses a malformed event with InvalidInput naming the field, before any call', async () => {
    const { handler } = await import('./lock.ts');
    await expect(handler({ runId: 'run-1' }, CONTEXT)).rejects.toMatchObject({
      name: 'InvalidInput',
      field: 'lock.environment',
    });
    expect(dynamo.calls()).toHaveLength(0);
  });
});

describe('prepare-run handler', () => {
  const input = { ...RUN, autoApprove: true };

  it('refuses a plan-apply that would skip approval unless the deployment allows it', async () => {
    const { handler } = await import('./prepare-run.ts');
    await expect(handler({ input }, CONTEXT)).rejects.toMatchObject({
      name: 'InvalidInput',
      field: 'input.autoApprove',
    });
  });

  it('lets a destroy (which has no approval step) through, and builds its jobs', async () => {
    const { handler } = await import('./prepare-run.ts');
    const prepared = await handler({ input: { ...input, workflow: 'destroy' } }, CONTEXT);
    expect(prepared.jobs?.destroy).toMatchObject({
      verb: 'destroy',
      backend: { type: 's3', bucket: 'stepform-state', region: 'eu-west-1' },
      artifactsDir: '/artifacts/run-1/destroy',
    });
  });

  it("refuses a run of another repository than the stack's, naming input.repository", async () => {
    const { handler } = await import('./prepare-run.ts');
    for (const repository of ['https://github.com/attacker/infra', '/var/tmp/infra']) {
      await expect(
        handler({ input: { ...RUN, workflow: 'plan', repository } }, CONTEXT),
      ).rejects.toMatchObject({ name: 'InvalidInput', field: 'input.repository' });
    }
  });

  it('refuses every run of a stack without a repository, saying what to configure', async () => {
    const runtime = new AwsRuntime(readConfig({ ...ENV, GITHUB_REPOSITORY: undefined }));
    await expect(
      TASK_STEPS.PrepareRun({ input: { ...RUN, workflow: 'plan' } }, runtime),
    ).rejects.toMatchObject({
      name: 'InvalidInput',
      field: 'input.repository',
      message: expect.stringContaining('github.repository'),
    });
  });

  it('refuses a plan-apply when no GitHub token secret is configured (the merge check fails closed)', async () => {
    const runtime = new AwsRuntime(readConfig(ENV));
    await expect(TASK_STEPS.PrepareRun({ input: RUN }, runtime)).rejects.toMatchObject({
      name: 'DefaultBranchCheckFailed',
      message: expect.stringContaining('GITHUB_TOKEN_SECRET_ID'),
    });
    // A plan needs no merge check, so no token.
    await expect(
      TASK_STEPS.PrepareRun({ input: { ...RUN, workflow: 'plan' } }, runtime),
    ).resolves.toMatchObject({ run: { workflow: 'plan' } });
  });

  it('refuses a plan-apply whose GitHub token GitHub refuses, saying which secret to set', async () => {
    const runtime = new AwsRuntime(
      readConfig({
        ...ENV,
        GITHUB_TOKEN_SECRET_ID: 'arn:aws:secretsmanager:eu-west-1:1:secret:gh',
      }),
    );
    secrets.on(GetSecretValueCommand).resolves({ SecretString: `ghp_${'r'.repeat(36)}` });
    const fetchSpy = jest.spyOn(globalThis, 'fetch').mockResolvedValue(
      new Response(JSON.stringify({ message: 'Bad credentials' }), {
        status: 401,
        headers: { 'content-type': 'application/json' },
      }),
    );
    try {
      await expect(TASK_STEPS.PrepareRun({ input: RUN }, runtime)).rejects.toMatchObject({
        name: 'DefaultBranchCheckFailed',
        message: expect.stringMatching(
          /HTTP 401.*arn:aws:secretsmanager:eu-west-1:1:secret:gh.*GitHubTokenSecretArn/s,
        ),
      });
      expect(fetchSpy).toHaveBeenCalled();
    } finally {
      fetchSpy.mockRestore();
    }
  });

  it('refuses a plan-apply whose token secret cannot be read', async () => {
    const runtime = new AwsRuntime(readConfig({ ...ENV, GITHUB_TOKEN_SECRET_ID: 'stepform/gh' }));
    secrets.on(GetSecretValueCommand).rejects(new Error('AccessDeniedException'));
    await expect(TASK_STEPS.PrepareRun({ input: RUN }, runtime)).rejects.toMatchObject({
      name: 'DefaultBranchCheckFailed',
      message: expect.stringContaining('stepform/gh'),
    });
  });
});

describe('GitHub App credentials', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const SECRET_ID = 'arn:aws:secretsmanager:eu-west-1:1:secret:gh';
  const INSTALLATION_TOKEN = `ghs_${'i'.repeat(36)}`;
  const TOKENS = '/app/installations/77/access_tokens';
  let github: RecordingServer;

  beforeEach(async () => {
    github = await RecordingServer.start();
    github.route('POST', TOKENS, {
      status: 201,
      body: {
        token: INSTALLATION_TOKEN,
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
      },
    });
    secrets.on(GetSecretValueCommand, { SecretId: SECRET_ID }).resolves({
      SecretString: JSON.stringify({
        appId: '12345',
        installationId: '77',
        privateKey: String(privateKey.export({ type: 'pkcs1', format: 'pem' })),
        apiUrl: github.baseUrl,
      }),
    });
  });

  afterEach(async () => {
    await github.close();
  });

  const runtime = () => new AwsRuntime(readConfig({ ...ENV, GITHUB_TOKEN_SECRET_ID: SECRET_ID }));

  it('checks a plan-apply commit with an installation token for the repository only', async () => {
    github.route('GET', '/repos/acme/infra', { status: 200, body: { default_branch: 'main' } });
    github.route('GET', `/repos/acme/infra/compare/main...${RUN.commit}`, {
      status: 200,
      body: { status: 'behind' },
    });

    await expect(TASK_STEPS.PrepareRun({ input: RUN }, runtime())).resolves.toMatchObject({
      run: { workflow: 'plan-apply' },
    });

    expect(github.requestsTo('POST', TOKENS).map((request) => request.body)).toEqual([
      { repositories: ['infra'] },
    ]);
    expect(github.requestsTo('GET', '/repos/acme/infra')[0]?.headers.authorization).toBe(
      `token ${INSTALLATION_TOKEN}`,
    );
  });

  it('refuses a plan-apply when the secret is still the placeholder, naming what is wrong', async () => {
    secrets
      .on(GetSecretValueCommand, { SecretId: SECRET_ID })
      .resolves({ SecretString: "8^x'Qz(3!pW]L~m{6" });
    const error = await rejection(TASK_STEPS.PrepareRun({ input: RUN }, runtime()));
    expect(error).toMatchObject({ name: 'DefaultBranchCheckFailed' });
    expect((error as Error).message).toContain(
      `the GitHub credentials in secret ${SECRET_ID} are not usable: secret: must be a GitHub token`,
    );
    expect((error as Error).message).not.toContain('8^x');
    expect(github.requests).toHaveLength(0);
  });

  it('hands an executor job a contents: read token for the deployment repository only', async () => {
    const token = await runtime().cloneToken({ repository: 'https://127.0.0.1/acme/infra.git' });
    expect(token).toEqual({ kind: 'app', gitHost: '127.0.0.1', token: INSTALLATION_TOKEN });
    expect(github.requestsTo('POST', TOKENS)[0]?.body).toEqual({
      repositories: ['infra'],
      permissions: { contents: 'read' },
    });

    for (const repository of [
      'https://127.0.0.1/attacker/infra',
      'https://github.com/acme/infra',
    ]) {
      await expect(runtime().cloneToken({ repository })).rejects.toMatchObject({
        name: 'InvalidInput',
        field: 'event.repository',
      });
    }
    await expect(runtime().cloneToken({})).rejects.toMatchObject({
      field: 'event.repository',
    });
  });

  it('is the GitHubToken handler, which needs the secret configured', async () => {
    const { handler } = await import('./github-token.ts');
    await expect(
      handler({ repository: 'https://github.com/acme/infra' }, CONTEXT),
    ).rejects.toMatchObject({ name: 'InvalidInput', field: 'env.GITHUB_TOKEN_SECRET_ID' });
  });
});

describe('execution-ended handler', () => {
  const ended = (status: string) => ({
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    detail: { status, input: JSON.stringify({ ...RUN, autoApprove: false }) },
  });

  it('settles an aborted run: lock released, approval expired, recorded and told cancelled', async () => {
    const { DeleteCommand, PutCommand: Put, QueryCommand } = await import('@aws-sdk/lib-dynamodb');
    const { handler } = await import('./execution-ended.ts');
    const lockItem = {
      pk: 'LOCK#dev',
      sk: 'LOCK#stack',
      type: 'lock',
      environment: 'dev',
      project: 'stack',
      owner: 'run-1',
      acquiredAt: '2026-11-23T00:00:00.000Z',
      expiresAt: '2099-01-01T00:00:00.000Z',
      expiresAtEpoch: 4070908800,
    };
    dynamo.on(DeleteCommand).resolves({ Attributes: lockItem });
    dynamo.on(Put).resolves({});
    dynamo.on(QueryCommand).resolves({
      Items: [
        { pk: 'RUN#run-1', sk: 'APPROVAL#t#a-1', type: 'run-approval', approvalId: 'appr-1' },
      ],
    });
    // The run's locks in its environment (found by a Query, released one by one).
    dynamo
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'LOCK#dev', ':lock': 'LOCK' } })
      .resolves({ Items: [lockItem] });
    dynamo.on(GetCommand).resolves({ Item: approvalItem('pending') });
    dynamo.on(UpdateCommand).resolves({});
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    expect(await handler(ended('ABORTED'), CONTEXT)).toEqual({
      released: true,
      runId: 'run-1',
      approvalExpired: true,
      outcome: 'cancelled',
    });
    expect(dynamo.commandCalls(DeleteCommand)[0]?.args[0].input.Key).toEqual({
      pk: 'LOCK#dev',
      sk: 'LOCK#stack',
    });
    const updates = dynamo.commandCalls(UpdateCommand).map((call) => call.args[0].input);
    expect(updates[0]).toMatchObject({
      Key: { pk: 'APPROVAL#appr-1', sk: 'APPROVAL' },
      ExpressionAttributeValues: expect.objectContaining({ ':status': 'expired' }),
    });
    expect(updates.map((u) => u.ExpressionAttributeValues)).toContainEqual(
      expect.objectContaining({ ':v0': 'cancelled' }),
    );
    const sent = sqs.commandCalls(SendMessageCommand)[0]?.args[0].input;
    expect(JSON.parse(sent?.MessageBody ?? '{}')).toMatchObject({
      runId: 'run-1',
      phase: 'cancelled',
    });
  });

  it('leaves a lock that another run holds by now', async () => {
    const { DeleteCommand, QueryCommand } = await import('@aws-sdk/lib-dynamodb');
    const { handler } = await import('./execution-ended.ts');
    dynamo
      .on(DeleteCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    const other = {
      pk: 'LOCK#dev',
      sk: 'LOCK#stack',
      type: 'lock',
      environment: 'dev',
      project: 'stack',
      owner: 'run-9',
      acquiredAt: '2026-11-23T00:00:00.000Z',
      expiresAt: '2099-01-01T00:00:00.000Z',
      expiresAtEpoch: 4070908800,
    };
    dynamo.on(GetCommand).resolves({ Item: other });
    dynamo.on(QueryCommand).resolves({ Items: [] });
    dynamo
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'LOCK#dev', ':lock': 'LOCK' } })
      .resolves({ Items: [other] });
    dynamo.on(UpdateCommand).resolves({});
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-2' });
    expect(await handler(ended('TIMED_OUT'), CONTEXT)).toEqual({
      released: false,
      runId: 'run-1',
      approvalExpired: false,
      outcome: 'failed',
    });
  });

  it('does nothing for an execution that succeeded', async () => {
    const { handler } = await import('./execution-ended.ts');
    expect(await handler(ended('SUCCEEDED'), CONTEXT)).toEqual({ released: false });
    expect(dynamo.calls()).toHaveLength(0);
  });
});

describe('notify handler', () => {
  it('sends the status event to the FIFO queue, grouped by environment, deduplicated by run, phase and projects', async () => {
    const { handler } = await import('./notify.ts');
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    dynamo.on(UpdateCommand).resolves({});
    await handler({ run: RUN, phase: 'started' }, CONTEXT);
    const sent = sqs.commandCalls(SendMessageCommand)[0]?.args[0].input;
    expect(sent).toMatchObject({
      QueueUrl: ENV.STATUS_QUEUE_URL,
      MessageGroupId: 'dev',
      MessageDeduplicationId: 'run-1:started:stack',
    });
    expect(JSON.parse(sent?.MessageBody ?? '{}')).toMatchObject({
      schemaVersion: 2,
      runId: 'run-1',
      phase: 'started',
      environment: 'dev',
      projects: [{ name: 'stack', dir: 'stack' }],
    });
  });
});

describe('approval callback', () => {
  const link = (action: 'approve' | 'reject') =>
    new URL(
      approvalLink(
        ENV.APPROVAL_URL,
        { id: 'appr-1', action, expiresAt: new Date('2099-01-01T00:00:00Z') },
        KEY,
      ),
    );
  /** The confirmation page's form for a link, as its POST sends it. */
  const decisionForm = (url: URL, sig = url.searchParams.get('sig') ?? '') =>
    new URLSearchParams({
      action: url.searchParams.get('action') ?? '',
      expires: url.searchParams.get('expires') ?? '',
      sig,
    });
  const event = (method: string, url: URL, body?: string): APIGatewayProxyEventV2 =>
    ({
      rawPath: url.pathname,
      queryStringParameters: method === 'GET' ? Object.fromEntries(url.searchParams) : undefined,
      headers: {},
      body,
      isBase64Encoded: false,
      requestContext: { http: { method } },
    }) as unknown as APIGatewayProxyEventV2;

  it('shows a confirmation page on GET and decides nothing', async () => {
    const { handler } = await import('./approval-callback.ts');
    dynamo.on(GetCommand).resolves({ Item: approvalItem('pending') });
    const response = await handler(event('GET', link('approve')), CONTEXT);
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('<form method="post"');
    expect(response.body).not.toContain('TOKEN-SECRET-123');
    expect(dynamo.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(sfn.calls()).toHaveLength(0);
  });

  it('decides on POST and resumes the workflow with the stored task token', async () => {
    const { handler } = await import('./approval-callback.ts');
    dynamo.on(GetCommand).resolves({ Item: approvalItem('pending') });
    dynamo.on(UpdateCommand).resolves({});
    sfn.on(SendTaskSuccessCommand).resolves({});
    const url = link('approve');
    const form = decisionForm(url);
    const response = await handler(event('POST', url, form.toString()), CONTEXT);
    expect(response.statusCode).toBe(200);
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input.taskToken).toBe(
      'TOKEN-SECRET-123',
    );
  });

  it('rejects with SendTaskFailure(ApprovalRejected)', async () => {
    const { handler } = await import('./approval-callback.ts');
    dynamo.on(GetCommand).resolves({ Item: approvalItem('pending') });
    dynamo.on(UpdateCommand).resolves({});
    sfn.on(SendTaskFailureCommand).resolves({});
    const url = link('reject');
    const form = decisionForm(url);
    await handler(event('POST', url, form.toString()), CONTEXT);
    expect(sfn.commandCalls(SendTaskFailureCommand)[0]?.args[0].input).toMatchObject({
      taskToken: 'TOKEN-SECRET-123',
      error: 'ApprovalRejected',
    });
  });

  it('refuses a tampered signature with 403 and touches nothing', async () => {
    const { handler } = await import('./approval-callback.ts');
    const url = link('approve');
    const form = decisionForm(url, 'A'.repeat(43));
    const response = await handler(event('POST', url, form.toString()), CONTEXT);
    expect(response.statusCode).toBe(403);
    expect(dynamo.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(sfn.calls()).toHaveLength(0);
  });

  it('refuses a replayed decision with 409', async () => {
    const { handler } = await import('./approval-callback.ts');
    dynamo.on(GetCommand).resolves({ Item: approvalItem('approved') });
    const url = link('approve');
    const form = decisionForm(url);
    const response = await handler(event('POST', url, form.toString()), CONTEXT);
    expect(response.statusCode).toBe(409);
    expect(sfn.calls()).toHaveLength(0);
  });
});
