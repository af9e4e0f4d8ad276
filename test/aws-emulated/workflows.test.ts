// The deployable artifacts on emulated AWS (issue 11): the CDK app synthesized with its Lambdas
// bundled, the state machines from cdk.out run by moto's copy of LocalStack's ASL interpreter,
// every Lambda task the real bundle with its template environment, every Batch job the real
// executor entrypoint, all of them talking to moto (DynamoDB, S3, SQS, Secrets Manager, Step
// Functions). See harness.ts and moto_launcher.py for how.
//
// What is not emulated, and why:
// - Lambda and Batch themselves: moto runs neither a Node bundle nor a container without
//   Docker. A Lambda is one fresh `node` process per invoke (lambda-runner.ts: the bundle's
//   handler, the function's environment, errorType as Lambda's Unhandled error); a job is
//   `node executor-image/src/main.ts` (the image's ENTRYPOINT) with the job definition's and
//   the overrides' environment, on this machine's Terraform and provider mirror instead of
//   the image's OpenTofu, its artifacts folder the job's /artifacts/<run> (the tests run as
//   the job's user would need: a writable /artifacts; they remove what they wrote).
// - IAM: moto does not enforce the roles' policies, so a missing permission is not caught
//   here (cdk-nag and infra/test/job-roles.test.ts look at the policies).
// - GitHub and Slack are outside AWS: a fake GitHub API and a fake Slack webhook in the
//   harness (the function's GitHub requests are redirected there; the secrets are set to them
//   as docs/deploy.md asks an operator to set the real ones).
// - The EventBridge rule that runs ExecutionEnded, X-Ray, CloudWatch Logs and metrics.
import {
  APPROVED_APPLY_PHASES,
  NO_CHANGES_PLAN_APPLY_STATES,
  appliedPlanApplyStates,
} from '../support/workflow-paths.ts';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DynamoDBClient, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BATCH_ARTIFACTS_ROOT } from '../../core/contracts/job-input.ts';
import { epochSeconds, keys } from '../../adapters/aws/dynamodb/table.ts';
import { HELLO_EXAMPLE, makeRepo } from '../support/repo.ts';
import { EmulatedAws, GITHUB_URL, synthesize } from './harness.ts';

let scratch: string;
let aws: EmulatedAws;
let sfn: SFNClient;
let sqs: SQSClient;
let dynamo: DynamoDBClient;
let s3: S3Client;
let repository: string;
let commit: string;
const runIds: string[] = [];

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'stepform-emulated-'));
  const outdir = join(scratch, 'cdk.out');
  aws = new EmulatedAws(synthesize(outdir), outdir, scratch);
  await aws.start();
  sfn = new SFNClient(aws.moto.clientConfig);
  sqs = new SQSClient(aws.moto.clientConfig);
  dynamo = new DynamoDBClient(aws.moto.clientConfig);
  s3 = new S3Client({ ...aws.moto.clientConfig, forcePathStyle: true });
  const repo = await makeRepo();
  aws.repositoryMirror = repo.dir;
  repository = GITHUB_URL;
  commit = await repo.commitDir(HELLO_EXAMPLE, 'stack');
}, 120_000);

afterAll(async () => {
  // Each is undefined when beforeAll failed before making it.
  const clients = [sfn, sqs, dynamo, s3] as (SFNClient | SQSClient | undefined)[];
  for (const client of clients) client?.destroy();
  const stack = aws as EmulatedAws | undefined;
  await stack?.settled();
  await stack?.stop();
  for (const runId of runIds)
    await rm(join(BATCH_ARTIFACTS_ROOT, runId), { recursive: true, force: true });
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const sleep = async (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

interface Execution {
  readonly arn: string;
  readonly status: string;
  readonly history: HistoryEvent[];
  readonly entered: string[];
}

async function history(arn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: arn, ...(nextToken ? { nextToken } : {}) }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

function enteredStates(events: readonly HistoryEvent[]): string[] {
  return events.flatMap((e) =>
    e.stateEnteredEventDetails?.name ? [e.stateEnteredEventDetails.name] : [],
  );
}

/** Waits (bounded) until the execution leaves RUNNING, or until `until` holds for its history. */
async function waitFor(
  arn: string,
  until: (execution: Execution) => boolean = (e) => e.status !== 'RUNNING',
  timeoutMs = 150_000,
): Promise<Execution> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status = 'UNKNOWN' } = await sfn.send(
      new DescribeExecutionCommand({ executionArn: arn }),
    );
    const events = await history(arn);
    const execution = { arn, status, history: events, entered: enteredStates(events) };
    if (until(execution) || status !== 'RUNNING') return execution;
    if (Date.now() > deadline) {
      throw new Error(
        `still ${status} after ${String(timeoutMs)} ms: ${execution.entered.join(' → ')}`,
      );
    }
    await sleep(250);
  }
}

async function start(
  workflow: string,
  runId: string,
  environment: string,
  extra: Record<string, unknown> = {},
) {
  runIds.push(runId);
  const started = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn: aws.stateMachineArn(workflow),
      name: runId,
      input: JSON.stringify({
        runId,
        workflow,
        repository,
        commit,
        projectDir: 'stack',
        environment,
        ...extra,
      }),
    }),
  );
  return started.executionArn!;
}

interface StatusEvent {
  runId: string;
  workflow: string;
  environment: string;
  phase: string;
  commit: string;
}

/** Every status event of the queue so far (received and deleted), in the queue's order. */
async function drainStatusEvents(): Promise<StatusEvent[]> {
  const queueUrl = aws.ref('AWS::SQS::Queue', 'StatusQueue');
  const events: StatusEvent[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
      }),
    );
    if (Messages.length === 0) return events;
    for (const message of Messages) {
      events.push(JSON.parse(message.Body!) as StatusEvent);
      await sqs.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle! }),
      );
    }
  }
}

const phasesOf = (events: readonly StatusEvent[], runId: string) =>
  events.filter((e) => e.runId === runId).map((e) => e.phase);

function failureOf(execution: Execution): string {
  const failed = execution.history.filter((e) => /Failed|Aborted|TimedOut/.test(e.type ?? ''));
  if (failed.length === 0) return '[]';
  const jobs = [...aws.jobs.values()].map(
    (j) => `${j.jobName} ${j.status}: ${j.output.slice(-1_500)}`,
  );
  return JSON.stringify({ failed: failed.slice(-3), harness: aws.errors, jobs }, null, 1);
}

describe('plan (pull request) on emulated AWS', () => {
  it('plans the commit with the executor, stores the result in S3 and reports planned', async () => {
    const runId = 'emulated-plan-1';
    const arn = await start('plan', runId, 'dev', { pullRequest: 7 });
    const execution = await waitFor(arn);
    expect({ status: execution.status, failure: failureOf(execution) }).toEqual({
      status: 'SUCCEEDED',
      failure: '[]',
    });
    expect(execution.entered).toEqual(
      expect.arrayContaining(['PrepareRun', 'NotifyStarted', 'RunPlanJob', 'CollectPlan']),
    );
    expect(execution.entered.at(0)).toBe('PrepareRun');
    const phases = phasesOf(await drainStatusEvents(), runId);
    expect(phases).toEqual(['started', 'planned']);

    const objects = await s3.send(
      new ListObjectsV2Command({
        Bucket: aws.ref('AWS::S3::Bucket', 'ArtifactsBucket'),
      }),
    );
    const keys = (objects.Contents ?? []).map((o) => o.Key);
    // The S3 port keeps the job's /artifacts/<run>/plan folder under its artifacts/ prefix.
    expect(keys).toEqual(
      expect.arrayContaining([
        `artifacts${BATCH_ARTIFACTS_ROOT}/${runId}/plan/result.json`,
        `artifacts${BATCH_ARTIFACTS_ROOT}/${runId}/plan/plan.tfplan`,
      ]),
    );
    // A pull request's plan takes no lock.
    expect(await itemsOfType('lock')).toEqual([]);
  });
});

async function s3Keys(bucket: string, prefix: string): Promise<string[]> {
  const listed = await s3.send(
    new ListObjectsV2Command({ Bucket: aws.ref('AWS::S3::Bucket', bucket), Prefix: prefix }),
  );
  return (listed.Contents ?? []).map((o) => o.Key!);
}

/** Every item of the table with this `type`, as plain values. */
async function itemsOfType(type: string): Promise<Record<string, unknown>[]> {
  const { Items = [] } = await dynamo.send(
    new ScanCommand({
      TableName: aws.ref('AWS::DynamoDB::Table', 'Table'),
      FilterExpression: '#type = :type',
      ExpressionAttributeNames: { '#type': 'type' },
      ExpressionAttributeValues: { ':type': { S: type } },
    }),
  );
  return Items.map((item) => unmarshall(item));
}

/** The approve or reject link of the run's approval request, once its Slack message is sent. */
async function approvalLink(runId: string, action: 'approve' | 'reject'): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const messages = aws.slack.map((m) => JSON.stringify(m).replaceAll('&amp;', '&'));
    const links = messages
      .filter((text) => text.includes(runId))
      .flatMap((text) => [
        ...text.matchAll(/http:\/\/127\.0\.0\.1:\d+\/approvals\/[A-Za-z0-9_-]+\?[^"\s|>\\]+/g),
      ])
      .map((m) => m[0])
      .filter((link) => new URL(link).searchParams.get('action') === action);
    if (links.length > 0) return links.at(-1)!;
    if (Date.now() > deadline) throw new Error(`no ${action} link for ${runId} in Slack`);
    await sleep(250);
  }
}

/** What a person does with a link: GET the confirmation page, then POST its form. */
async function decideThroughPage(link: string): Promise<{ page: string; decided: string }> {
  const page = await fetch(link);
  const html = await page.text();
  expect(page.status).toBe(200);
  const field = (name: string) => {
    const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
    if (!match)
      throw new Error(`the confirmation page has no ${name} field: ${html.slice(0, 500)}`);
    return match[1]!.replaceAll('&amp;', '&');
  };
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1] ?? new URL(link).pathname;
  const posted = await fetch(new URL(action, link), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      action: field('action'),
      expires: field('expires'),
      sig: field('sig'),
    }).toString(),
  });
  const decided = await posted.text();
  expect(posted.status).toBe(200);
  return { page: html, decided };
}

describe('plan-apply (push to main) on emulated AWS', () => {
  it('locks, plans, waits for approval, applies after the approve link is used, and unlocks', async () => {
    const runId = 'emulated-apply-1';
    const arn = await start('plan-apply', runId, 'dev');
    const waiting = await waitFor(arn, (e) => e.entered.includes('RequestApproval'));
    expect(waiting.status).toBe('RUNNING');
    // RequestApproval stored its task token; the run holds the environment's lock.
    const approvals = await waitForItems('approval', runId);
    expect(approvals[0]).toMatchObject({ runId, taskToken: expect.any(String) });
    expect(await itemsOfType('lock')).toEqual([
      expect.objectContaining({ environment: 'dev', owner: runId }),
    ]);

    const { decided } = await decideThroughPage(await approvalLink(runId, 'approve'));
    expect(decided).toContain(runId);
    const execution = await waitFor(arn);
    expect({ status: execution.status, failure: failureOf(execution) }).toEqual({
      status: 'SUCCEEDED',
      failure: '[]',
    });
    expect(execution.entered).toEqual(appliedPlanApplyStates(true));
    const phases = phasesOf(await drainStatusEvents(), runId);
    expect(phases).toEqual(APPROVED_APPLY_PHASES);
    expect(await itemsOfType('lock')).toEqual([]);
    // Terraform's state is in the state bucket (the S3 backend on moto).
    expect(await s3Keys('StateBucket', 'stepform/state/')).toEqual(
      expect.arrayContaining([expect.stringMatching(/dev/)]),
    );
  });
});

/** The run's items of a type, once there is one (RequestApproval writes before it waits). */
async function waitForItems(type: string, runId: string): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const items = (await itemsOfType(type)).filter((item) => item.runId === runId);
    if (items.length > 0 || Date.now() > deadline) return items;
    await sleep(250);
  }
}

describe('plan-apply rejected on emulated AWS', () => {
  it('ends Rejected through the reject link, applies nothing and releases the lock', async () => {
    const runId = 'emulated-reject-1';
    const arn = await start('plan-apply', runId, 'staging');
    await waitFor(arn, (e) => e.entered.includes('RequestApproval'));
    await waitForItems('approval', runId);
    const { decided } = await decideThroughPage(await approvalLink(runId, 'reject'));
    expect(decided).toContain(runId);
    const execution = await waitFor(arn);
    expect(execution.status).toBe('FAILED');
    expect(execution.entered.slice(-6)).toEqual([
      'OutcomeRejected',
      'NotifyOutcome',
      'RecordOutcome',
      'UnlockEnvironment',
      'EndForOutcome',
      'Rejected',
    ]);
    expect(execution.entered).not.toContain('RunApplyJob');
    const phases = phasesOf(await drainStatusEvents(), runId);
    // moto's interpreter hands the Catch a null Cause; Notify reports the rejection anyway.
    expect(phases).toEqual(['started', 'planned', 'awaiting_approval', 'rejected']);
    expect(await itemsOfType('lock')).toEqual([]);
    expect(await s3Keys('StateBucket', 'stepform/state/staging')).toEqual([]);
  });
});

describe('plan-apply with no changes on emulated AWS', () => {
  // Runs after the approved scenario, in the same environment (dev) and at the same commit: the
  // state it applied is in the state bucket, so this plan has nothing to change.
  it('ends NoChanges after the plan, asks for no approval, records the run and unlocks', async () => {
    const runId = 'emulated-no-changes-1';
    const jobsBefore = aws.jobs.size;
    const arn = await start('plan-apply', runId, 'dev');
    const execution = await waitFor(arn);
    expect({ status: execution.status, failure: failureOf(execution) }).toEqual({
      status: 'SUCCEEDED',
      failure: '[]',
    });
    expect(execution.entered).toEqual(NO_CHANGES_PLAN_APPLY_STATES);
    expect(phasesOf(await drainStatusEvents(), runId)).toEqual(['started', 'no_changes']);
    // One job, the plan; no approval asked, in the table or in Slack.
    expect(aws.jobs.size - jobsBefore).toBe(1);
    expect((await itemsOfType('approval')).filter((item) => item.runId === runId)).toEqual([]);
    const approvalMessages = aws.slack
      .map((m) => JSON.stringify(m))
      .filter((text) => text.includes(runId) && text.includes('/approvals/'));
    expect(approvalMessages).toEqual([]);
    expect(await itemsOfType('lock')).toEqual([]);
    expect(await itemsOfType('environment')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ environment: 'dev', projectDir: 'stack', lastRunId: runId }),
      ]),
    );
  });
});

describe('plan-apply whose Record step fails on emulated AWS', () => {
  it('stays Applied when the outcome cannot be recorded, and still releases the lock', async () => {
    const runId = 'emulated-record-fails-1';
    // The Record function's DynamoDB write throttled: its uncaught error, not one of the
    // Lambda.* errors RecordOutcome retries.
    aws.failingFunctions.set('RecordFunction', 'ProvisionedThroughputExceededException');
    try {
      const arn = await start('plan-apply', runId, 'qa');
      await waitFor(arn, (e) => e.entered.includes('RequestApproval'));
      await waitForItems('approval', runId);
      await decideThroughPage(await approvalLink(runId, 'approve'));
      const execution = await waitFor(arn);
      // The one failure of the run is Record's.
      const failed = execution.history
        .filter((e) => /Failed|Aborted|TimedOut/.test(e.type ?? ''))
        .map((e) => `${e.type ?? ''} ${e.lambdaFunctionFailedEventDetails?.error ?? ''}`);
      expect({ status: execution.status, failed }).toEqual({
        status: 'SUCCEEDED',
        failed: ['LambdaFunctionFailed ProvisionedThroughputExceededException'],
      });
      const applied = appliedPlanApplyStates(true);
      expect(execution.entered).toEqual([
        ...applied.slice(0, applied.indexOf('RecordOutcome') + 1),
        'RecordFailureFailsRun',
        ...applied.slice(applied.indexOf('RecordOutcome') + 1),
      ]);
      const records = aws.invocations.filter(
        (i) => i.logicalId.includes('RecordFunction') && JSON.stringify(i.event).includes(runId),
      );
      expect(records.map((i) => i.outcome)).toEqual([
        {
          errorType: 'ProvisionedThroughputExceededException',
          errorMessage: expect.any(String),
        },
      ]);
      // The applied status event was sent before RecordOutcome; nothing was recorded after.
      expect(phasesOf(await drainStatusEvents(), runId)).toEqual(APPROVED_APPLY_PHASES);
      expect(await itemsOfType('lock')).toEqual([]);
      expect((await itemsOfType('environment')).filter((e) => e.environment === 'qa')).toEqual([]);
      expect(await s3Keys('StateBucket', 'stepform/state/')).toEqual(
        expect.arrayContaining([expect.stringMatching(/qa/)]),
      );
    } finally {
      aws.failingFunctions.delete('RecordFunction');
    }
  });
});

describe('plan-apply while another run holds the lock on emulated AWS', () => {
  // LockEnvironment retries LockHeld up to 30 times (10 s, backoff 1.5, at most 60 s, full
  // jitter): reaching LockFailed takes many minutes of real sleeps on moto's interpreter, and the
  // harness has no knob to shorten a definition's Retry. So this asserts the run's first
  // attempt and what it must not do while it waits, then stops it as an operator would.
  it('fails its lock attempt with LockHeld naming the holder, runs no job and leaves the lock', async () => {
    const runId = 'emulated-lock-held-1';
    const acquiredAt = new Date(Date.now() - 60_000).toISOString();
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const holder = { environment: 'prod', owner: 'another-run-1', acquiredAt, expiresAt };
    // The lock item as DynamoLockPort.acquire writes it.
    await dynamo.send(
      new PutItemCommand({
        TableName: aws.ref('AWS::DynamoDB::Table', 'Table'),
        Item: marshall({
          ...keys.lock('prod'),
          type: 'lock',
          ...holder,
          expiresAtEpoch: epochSeconds(expiresAt, 'expiresAt'),
        }),
      }),
    );
    const jobsBefore = aws.jobs.size;
    const arn = await start('plan-apply', runId, 'prod');
    const waiting = await waitFor(arn, (e) =>
      e.history.some((event) => event.lambdaFunctionFailedEventDetails?.error === 'LockHeld'),
    );
    await sfn.send(new StopExecutionCommand({ executionArn: arn, error: 'TestStopped' }));
    // ABORTED once the interpreter leaves the retry's sleep (full jitter: under 10 s, then 15 s).
    const stopped = await waitFor(arn, undefined, 30_000);
    expect(waiting.status).toBe('RUNNING');
    expect(stopped.status).toBe('ABORTED');
    const lockFailures = stopped.history.flatMap((e) =>
      e.lambdaFunctionFailedEventDetails ? [e.lambdaFunctionFailedEventDetails] : [],
    );
    expect(lockFailures.length).toBeGreaterThanOrEqual(1);
    for (const failure of lockFailures) {
      expect(failure.error).toBe('LockHeld');
      expect(failure.cause).toContain(`locked by run another-run-1 until ${expiresAt}`);
    }
    // Retrying, not caught: the run never got past LockEnvironment.
    expect(stopped.entered[0]).toBe('PrepareRun');
    expect([...new Set(stopped.entered)]).toEqual(['PrepareRun', 'LockEnvironment']);
    expect(aws.jobs.size - jobsBefore).toBe(0);
    expect(phasesOf(await drainStatusEvents(), runId)).toEqual([]);
    const locks = await itemsOfType('lock');
    expect(locks.filter((l) => l.environment === 'prod')).toEqual([
      expect.objectContaining(holder),
    ]);
  });
});
