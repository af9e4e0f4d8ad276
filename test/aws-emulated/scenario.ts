// What the emulated-AWS scenarios do and look at, over one started EmulatedAws: start a workflow
// as the action would, wait for it, and read what it left, each from the service that holds it
// (Step Functions' history, the status queue, the table, the state bucket, Slack's messages,
// the approval endpoint).
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient, type Target } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { stateKey } from '../../executor-image/src/terraform.ts';
import { scheduledExecution } from '../../adapters/aws/scheduler.ts';
import type { EmulatedAws } from './harness.ts';

export const sleep = async (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

export interface Execution {
  readonly arn: string;
  readonly status: string;
  readonly history: HistoryEvent[];
  readonly entered: string[];
}

export interface StatusEvent {
  runId: string;
  workflow: string;
  environment: string;
  phase: string;
  commit: string;
  actor?: { name: string; at: string; channel?: string };
}

/** A Terraform state file, as much of it as the scenarios read. */
export interface TfState {
  serial: number;
  resources: { mode: string; type: string; name: string }[];
}

/** The input a workflow is started with, past the run id, workflow and environment. */
export interface RunDefaults {
  readonly repository: string;
  readonly commit: string;
  readonly projectDir: string;
}

function enteredStates(events: readonly HistoryEvent[]): string[] {
  return events.flatMap((e) =>
    e.stateEnteredEventDetails?.name ? [e.stateEnteredEventDetails.name] : [],
  );
}

export class Scenario {
  readonly sfn: SFNClient;
  readonly sqs: SQSClient;
  readonly dynamo: DynamoDBClient;
  readonly s3: S3Client;
  readonly scheduler: SchedulerClient;
  readonly secrets: SecretsManagerClient;
  /** Every run id started, for the artifacts folders the jobs wrote. */
  readonly runIds: string[] = [];
  readonly aws: EmulatedAws;
  defaults?: RunDefaults;

  constructor(aws: EmulatedAws) {
    this.aws = aws;
    const config = aws.moto.clientConfig;
    this.sfn = new SFNClient(config);
    this.sqs = new SQSClient(config);
    this.dynamo = new DynamoDBClient(config);
    this.s3 = new S3Client({ ...config, forcePathStyle: true });
    this.scheduler = new SchedulerClient(config);
    this.secrets = new SecretsManagerClient(config);
  }

  destroy(): void {
    for (const client of [this.sfn, this.sqs, this.dynamo, this.s3, this.scheduler, this.secrets])
      client.destroy();
  }

  async history(arn: string): Promise<HistoryEvent[]> {
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.sfn.send(
        new GetExecutionHistoryCommand({ executionArn: arn, ...(nextToken ? { nextToken } : {}) }),
      );
      events.push(...(page.events ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    return events;
  }

  /** Waits (bounded) until the execution leaves RUNNING, or until `until` holds for its history. */
  async waitFor(
    arn: string,
    until: (execution: Execution) => boolean = (e) => e.status !== 'RUNNING',
    timeoutMs = 150_000,
  ): Promise<Execution> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { status = 'UNKNOWN' } = await this.sfn.send(
        new DescribeExecutionCommand({ executionArn: arn }),
      );
      const events = await this.history(arn);
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

  /** Starts a run as the action does: named by its run id, with the defaults' commit and project. */
  async start(
    workflow: string,
    runId: string,
    environment: string,
    extra: Record<string, unknown> = {},
  ): Promise<string> {
    if (!this.defaults) throw new Error('the scenario has no run defaults');
    const input = { runId, workflow, ...this.defaults, environment, ...extra };
    return this.startWith(workflow, input, { name: runId });
  }

  /** Starts the workflow with exactly this input, named `name` (else Step Functions names it). */
  async startWith(
    workflow: string,
    input: Record<string, unknown>,
    { name }: { name?: string } = {},
  ): Promise<string> {
    this.runIds.push(input.runId as string);
    const started = await this.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: this.aws.stateMachineArn(workflow),
        ...(name === undefined ? {} : { name }),
        input: JSON.stringify(input),
      }),
    );
    return started.executionArn!;
  }

  /**
   * What Scheduler does when a schedule fires (moto stores schedules but never fires them):
   * puts the invocation id in for its keyword anywhere in the target's payload, then, for the
   * universal StartExecution target, starts that state machine with that name and input.
   */
  async fire(
    target: Target | undefined,
    invocationId = 'd32c5kddcf5bb8c3',
  ): Promise<{ arn: string; name: string; input: Record<string, unknown> }> {
    if (!target) throw new Error('the schedule has no target');
    const payload = (target.Input ?? '').replaceAll('<aws.scheduler.execution-id>', invocationId);
    const started = scheduledExecution({ ...target, Input: payload });
    if (started.name === undefined) throw new Error('the schedule does not name its execution');
    const input = started.input as Record<string, unknown>;
    this.runIds.push(input.runId as string);
    const { executionArn } = await this.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: started.stateMachineArn,
        name: started.name,
        input: JSON.stringify(input),
      }),
    );
    return { arn: executionArn!, name: started.name, input };
  }

  /** Every status event of the queue so far (received and deleted), in the queue's order. */
  async drainStatusEvents(): Promise<StatusEvent[]> {
    const queueUrl = this.aws.ref('AWS::SQS::Queue', 'StatusQueue');
    const events: StatusEvent[] = [];
    for (;;) {
      const { Messages = [] } = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
        }),
      );
      if (Messages.length === 0) return events;
      for (const message of Messages) {
        events.push(JSON.parse(message.Body!) as StatusEvent);
        await this.sqs.send(
          new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle! }),
        );
      }
    }
  }

  /** The phases of the run's status events on the queue (drained). */
  async phasesOf(runId: string): Promise<string[]> {
    return (await this.drainStatusEvents()).filter((e) => e.runId === runId).map((e) => e.phase);
  }

  /** The failed events of an execution, the harness's errors and the jobs' output; '[]' if none. */
  failureOf(execution: Execution): string {
    const failed = execution.history.filter((e) => /Failed|Aborted|TimedOut/.test(e.type ?? ''));
    if (failed.length === 0) return '[]';
    const jobs = [...this.aws.jobs.values()].map(
      (j) => `${j.jobName} ${j.status}: ${j.output.slice(-1_500)}`,
    );
    return JSON.stringify({ failed: failed.slice(-3), harness: this.aws.errors, jobs }, null, 1);
  }

  /** The failure events of an execution as `type error`, in order. */
  static failures(execution: Execution): string[] {
    return execution.history
      .filter((e) => /Failed|Aborted|TimedOut/.test(e.type ?? ''))
      .map((e) => {
        const details =
          e.lambdaFunctionFailedEventDetails ??
          e.taskFailedEventDetails ??
          e.taskTimedOutEventDetails ??
          e.executionFailedEventDetails;
        return `${e.type ?? ''} ${details?.error ?? ''}`;
      });
  }

  async s3Keys(bucket: string, prefix: string): Promise<string[]> {
    const listed = await this.s3.send(
      new ListObjectsV2Command({ Bucket: this.aws.ref('AWS::S3::Bucket', bucket), Prefix: prefix }),
    );
    return (listed.Contents ?? []).map((o) => o.Key!);
  }

  /** The environment's Terraform state in the state bucket (the executor's S3 backend). */
  async terraformState(environment: string, projectDir: string): Promise<TfState> {
    const object = await this.s3.send(
      new GetObjectCommand({
        Bucket: this.aws.ref('AWS::S3::Bucket', 'StateBucket'),
        Key: `stepform/state/${stateKey(environment, projectDir)}`,
      }),
    );
    return JSON.parse(await object.Body!.transformToString()) as TfState;
  }

  /** `type.name` of every managed resource of the environment's state, sorted. */
  async stateResources(environment: string, projectDir: string): Promise<string[]> {
    const state = await this.terraformState(environment, projectDir);
    return state.resources
      .filter((r) => r.mode === 'managed')
      .map((r) => `${r.type}.${r.name}`)
      .sort();
  }

  /** Every item of the table with this `type`, as plain values. */
  async itemsOfType(type: string): Promise<Record<string, unknown>[]> {
    const { Items = [] } = await this.dynamo.send(
      new ScanCommand({
        TableName: this.aws.ref('AWS::DynamoDB::Table', 'Table'),
        FilterExpression: '#type = :type',
        ExpressionAttributeNames: { '#type': 'type' },
        ExpressionAttributeValues: { ':type': { S: type } },
      }),
    );
    return Items.map((item) => unmarshall(item));
  }

  /** The locks held now, of one environment. */
  async locksOf(environment: string): Promise<Record<string, unknown>[]> {
    return (await this.itemsOfType('lock')).filter((l) => l.environment === environment);
  }

  /**
   * The run's items of a type that match, once there is one (RequestApproval writes before it
   * waits).
   */
  async waitForItems(
    type: string,
    runId: string,
    matches: (item: Record<string, unknown>) => boolean = () => true,
  ): Promise<Record<string, unknown>[]> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const items = (await this.itemsOfType(type)).filter(
        (item) => item.runId === runId && matches(item),
      );
      if (items.length > 0 || Date.now() > deadline) return items;
      await sleep(250);
    }
  }

  /** The Slack messages that name the run, as JSON text. */
  slackMessagesOf(runId: string): string[] {
    return this.aws.slack
      .map((m) => JSON.stringify(m).replaceAll('&amp;', '&'))
      .filter((text) => text.includes(runId));
  }

  /** The run's Slack messages once one of them matches (RequestApproval sends after it stores). */
  async waitForSlack(runId: string, matches: (text: string) => boolean): Promise<string[]> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const messages = this.slackMessagesOf(runId);
      if (messages.some(matches)) return messages;
      if (Date.now() > deadline) throw new Error(`no such Slack message for ${runId}`);
      await sleep(250);
    }
  }

  /** The approve or reject link of the run's approval request, once its Slack message is sent. */
  async approvalLink(runId: string, action: 'approve' | 'reject'): Promise<string> {
    const linksIn = (text: string) =>
      [...text.matchAll(/http:\/\/127\.0\.0\.1:\d+\/approvals\/[A-Za-z0-9_-]+\?[^"\s|>\\]+/g)]
        .map((m) => m[0])
        .filter((link) => new URL(link).searchParams.get('action') === action);
    const messages = await this.waitForSlack(runId, (text) => linksIn(text).length > 0);
    return messages.flatMap(linksIn).at(-1)!;
  }

  /** Starts a plan-apply and waits until it waits for its approval (stored, sent to Slack). */
  async startAwaitingApproval(
    runId: string,
    environment: string,
    extra: Record<string, unknown> = {},
  ): Promise<{ arn: string; approval: Record<string, unknown>; awaiting: Execution }> {
    const arn = await this.start('plan-apply', runId, environment, extra);
    const awaiting = await this.waitFor(arn, (e) => e.entered.includes('RequestApproval'));
    const [approval] = await this.waitForItems('approval', runId);
    if (!approval) throw new Error(`${runId} stored no approval: ${this.failureOf(awaiting)}`);
    return { arn, approval, awaiting };
  }
}

/**
 * What a person does with a link: GET the confirmation page, then POST its form, with what
 * they typed in it (`typed`: an override's reason).
 */
export async function decideThroughPage(
  link: string,
  typed: Record<string, string> = {},
): Promise<{ pageStatus: number; page: string; status: number; decided: string }> {
  const page = await fetch(link);
  const html = await page.text();
  const field = (name: string) => {
    const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
    return match?.[1]?.replaceAll('&amp;', '&');
  };
  // A page without the form (the link refused): the link's own fields, as a replayed POST.
  const query = new URL(link).searchParams;
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1] ?? new URL(link).pathname;
  const posted = await fetch(new URL(action, link), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      ...Object.fromEntries(
        ['action', 'expires', 'sig', 'approver'].flatMap((name) => {
          const value = field(name) ?? query.get(name);
          return value === null ? [] : [[name, value]];
        }),
      ),
      ...typed,
    }).toString(),
  });
  return {
    pageStatus: page.status,
    page: html,
    status: posted.status,
    decided: await posted.text(),
  };
}
