// The Lambda functions: one per Task state of the workflows (core/task-steps.ts names them),
// the approval endpoint (a Function URL), and the handler of ended executions; each granted
// exactly what its step does.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import { Construct } from 'constructs';
import { PLAN_DIFF_FILE } from '../../core/contracts/job-result.ts';
import type { TaskFunction } from '../../core/task-steps.ts';
import { REPO_ROOT } from '../../toolchain/paths.ts';
import {
  type ArchitectureProps,
  type LogRetentionProps,
  invalidProps,
  newLogGroup,
} from './common-props.ts';
import {
  acknowledgeManagedPolicy,
  acknowledgeWildcardResources,
  acknowledgeWildcards,
} from './nag.ts';
import type { StepformSecrets } from './secrets.ts';
import type { StateMachineNames } from './state-machine-names.ts';
import type { StepformStorage } from './storage.ts';
import type { TtlSchedules } from './ttl-schedules.ts';

/**
 * The handlers no workflow calls: the approval endpoint, the rule on ended executions, and the
 * function executor jobs ask for a clone token.
 */
export type OtherHandler = 'ApprovalCallback' | 'ExecutionEnded' | 'GitHubToken';

/**
 * The Lambda handlers and their file in lambdas/: a Task state's function under the name its
 * ASL placeholder gives it (`${<Name>FunctionArn}`), and the three that no workflow calls.
 */
export const HANDLERS: Readonly<Record<TaskFunction | OtherHandler, string>> = {
  PrepareRun: 'prepare-run.ts',
  Lock: 'lock.ts',
  Unlock: 'unlock.ts',
  CollectJobResult: 'collect-job-result.ts',
  Notify: 'notify.ts',
  RequestApproval: 'request-approval.ts',
  Record: 'record.ts',
  Rollback: 'rollback.ts',
  Schedule: 'schedule.ts',
  ChangeTtl: 'change-ttl.ts',
  ApprovalCallback: 'approval-callback.ts',
  ExecutionEnded: 'execution-ended.ts',
  GitHubToken: 'github-token.ts',
};
export type HandlerName = keyof typeof HANDLERS;

/** The handler files a pipeline expects: every lambdas/*.ts that exports a handler. */
export function handlerFiles(): string[] {
  return readdirSync(join(REPO_ROOT, 'lambdas'))
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
    .filter((file) => !['config.ts', 'runtime.ts'].includes(file))
    .sort();
}

/**
 * How every Stepform Lambda is bundled: esbuild on the deployer's machine (no Docker), ESM for
 * Node 24, minified with source maps.
 */
export const BUNDLING: nodejs.BundlingOptions = {
  forceDockerBundling: false,
  logLevel: nodejs.LogLevel.ERROR,
  format: nodejs.OutputFormat.ESM,
  target: 'node24',
  platform: 'node',
  mainFields: ['module', 'main'],
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  // Everything is bundled, the AWS SDK too: the pinned versions the tests ran.
  externalModules: [],
  // Some CommonJS dependencies call require(); ESM output has none of its own.
  banner:
    "import { createRequire as __stepformCreateRequire } from 'node:module'; const require = __stepformCreateRequire(import.meta.url);",
};

const APPROVER = /^[^,\s][^,]*$/;

export interface StepformFunctionsOptions extends ArchitectureProps, LogRetentionProps {
  /**
   * Names allowed to approve (empty: whoever holds a signed link). An approver must prove who
   * they are, and on AWS only Slack can (it signs who clicked; per-approver links have no
   * private channel to reach their approver yet), so a list needs slackInteractivity.
   * Names are Slack user ids (preferred: users cannot change them) or Slack usernames.
   * @default []
   */
  readonly approvers?: string[];
}

export interface StepformFunctionsProps extends StepformFunctionsOptions {
  readonly storage: StepformStorage;
  readonly secrets: StepformSecrets;
  readonly schedules: TtlSchedules;
  readonly stateMachines: StateMachineNames;
  /**
   * The repository (`owner/name`) the Lambdas comment on and check commits of.
   * @default - none: no GitHub comments, statuses or default-branch check
   */
  readonly githubRepository?: string;
}

export class StepformFunctions extends Construct {
  readonly functions: Readonly<Record<HandlerName, nodejs.NodejsFunction>>;
  /** The approval endpoint, which approval links point at. */
  readonly approvalUrl: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: StepformFunctionsProps) {
    super(scope, id);
    for (const name of props.approvers ?? []) {
      if (!APPROVER.test(name)) {
        invalidProps(
          'StepformFunctions',
          `approver "${name}" must be non-empty, without commas or leading spaces`,
        );
      }
    }
    const { storage, secrets, schedules, stateMachines: names } = props;
    if ((props.approvers ?? []).length > 0 && secrets.slackSigningSecret === undefined) {
      invalidProps(
        'StepformFunctions',
        'approvers are set but nothing could prove who an approver is: set slackInteractivity: true ' +
          '(Slack signs who clicked; a bare link carries no identity and is refused)',
      );
    }
    const arm = (props.architecture ?? 'ARM64') === 'ARM64';
    const baseEnvironment: Record<string, string> = {
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'stepform',
      TABLE_NAME: storage.table.tableName,
      ARTIFACTS_BUCKET: storage.artifactsBucket.bucketName,
      STATE_BUCKET: storage.stateBucket.bucketName,
      STATE_KEY_PREFIX: storage.stateKeyPrefix,
      STATUS_QUEUE_URL: storage.statusQueue.queueUrl,
      SIGNING_KEY_SECRET_ID: secrets.signingKeySecret.secretArn,
      SLACK_WEBHOOK_SECRET_ID: secrets.slackWebhookSecret.secretArn,
      GITHUB_TOKEN_SECRET_ID: secrets.githubTokenSecret.secretArn,
      SCHEDULE_GROUP: schedules.scheduleGroup.scheduleGroupName,
      DESTROY_STATE_MACHINE_ARN: names.arn('destroy'),
      SCHEDULER_ROLE_ARN: schedules.schedulerRole.roleArn,
      ...(props.githubRepository ? { GITHUB_REPOSITORY: props.githubRepository } : {}),
      ...(props.approvers && props.approvers.length > 0
        ? { APPROVERS: props.approvers.join(',') }
        : {}),
    };
    const newFunction = (name: HandlerName, environment: Record<string, string>) => {
      const fn = new nodejs.NodejsFunction(this, `${name}Function`, {
        entry: join(REPO_ROOT, 'lambdas', HANDLERS[name]),
        handler: 'handler',
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: arm ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
        memorySize: 512,
        timeout: Duration.seconds(name === 'Notify' || name === 'RequestApproval' ? 60 : 30),
        tracing: lambda.Tracing.ACTIVE,
        logGroup: newLogGroup(this, `${name}Logs`, props),
        projectRoot: REPO_ROOT,
        depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
        environment,
        bundling: BUNDLING,
      });
      acknowledgeManagedPolicy(
        fn,
        'The AWS managed policy that lets a Lambda write its logs; nothing broader.',
        iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaBasicExecutionRole'),
      );
      acknowledgeWildcards(
        fn,
        'X-Ray tracing: xray:PutTraceSegments/PutTelemetryRecords support no resource scoping.',
        ['Resource::*'],
      );
      return fn;
    };
    // The shared config requires APPROVAL_URL, but the endpoint's own URL cannot be in its
    // environment (a cycle): it gets a placeholder on the reserved .invalid domain, and the
    // links it makes (an override owner's, on a Slack click) use the URL the request reached.
    const callback = newFunction('ApprovalCallback', {
      ...baseEnvironment,
      APPROVAL_URL: 'https://approval-endpoint.invalid/',
      // Only the endpoint takes Slack's clicks.
      ...(secrets.slackSigningSecret
        ? { SLACK_SIGNING_SECRET_ID: secrets.slackSigningSecret.secretArn }
        : {}),
    });
    this.approvalUrl = callback.addFunctionUrl({
      // The signed link is the authentication: an HMAC over id, action and expiry with the
      // deployment's key, single-use and expiring; approvers open it in a browser, which
      // cannot sign IAM (SigV4) requests. Slack's clicks carry Slack's own signature, checked
      // with the app's signing secret. See docs/deploy.md.
      authType: lambda.FunctionUrlAuthType.NONE,
      invokeMode: lambda.InvokeMode.BUFFERED,
    });
    const functions = { ApprovalCallback: callback } as Record<HandlerName, nodejs.NodejsFunction>;
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      if (name !== 'ApprovalCallback') {
        functions[name] = newFunction(name, {
          ...baseEnvironment,
          APPROVAL_URL: this.approvalUrl.url,
        });
      }
    }
    this.functions = functions;
    this.#grant(props);
  }

  /** Each handler what its step does. */
  #grant({ storage, secrets, schedules, stateMachines: names }: StepformFunctionsProps): void {
    const f = this.functions;
    for (const fn of [
      f.Lock,
      f.Unlock,
      f.ExecutionEnded,
      f.Record,
      f.ChangeTtl,
      f.Rollback,
      f.Notify,
      f.RequestApproval,
      f.ApprovalCallback,
    ]) {
      storage.table.grantReadWriteData(fn);
    }
    // A drift run's PrepareRun reads each project's last applied commit and the live locks,
    // and its CollectJobResult each project's previous drift check.
    for (const fn of [f.PrepareRun, f.CollectJobResult]) storage.table.grantReadData(fn);
    const artifacts = storage.artifactsBucket.arnForObjects(`${storage.artifactsPrefix}/*`);
    for (const fn of [f.CollectJobResult, f.Notify, f.RequestApproval]) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [artifacts] }),
      );
      // Lets S3 answer a missing result with 404 (the job is lost) instead of 403.
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [storage.artifactsBucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': `${storage.artifactsPrefix}/*` } },
        }),
      );
      acknowledgeWildcardResources(
        fn,
        "Reads executor results and plans under the artifacts prefix of this deployment's bucket.",
        [artifacts],
      );
    }
    // The approval page shows each plan's diff, which holds no secret; the plans themselves
    // (which may) stay out of the public endpoint's reach.
    const planDiffs = storage.artifactsBucket.arnForObjects(
      `${storage.artifactsPrefix}/*/${PLAN_DIFF_FILE}`,
    );
    f.ApprovalCallback.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [planDiffs] }),
    );
    f.ApprovalCallback.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [storage.artifactsBucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': `${storage.artifactsPrefix}/*` } },
      }),
    );
    acknowledgeWildcardResources(
      f.ApprovalCallback,
      'Reads only the plan diffs (no secrets) under the artifacts prefix, for the approval page.',
      [planDiffs],
    );
    // ExecutionEnded tells of a cancelled or failed run through the same Notify step.
    for (const fn of [f.Notify, f.RequestApproval, f.ExecutionEnded]) {
      storage.statusQueue.grantSendMessages(fn);
      secrets.slackWebhookSecret.grantRead(fn);
      secrets.githubTokenSecret.grantRead(fn);
    }
    secrets.githubTokenSecret.grantRead(f.PrepareRun);
    // The executor jobs' clone tokens: the jobs may invoke this function (ExecutorCompute), never
    // read the secret, which holds the App's private key.
    secrets.githubTokenSecret.grantRead(f.GitHubToken);
    secrets.signingKeySecret.grantRead(f.RequestApproval);
    secrets.signingKeySecret.grantRead(f.ApprovalCallback);
    secrets.slackSigningSecret?.grantRead(f.ApprovalCallback);
    // The workflows that wait for an approval: plan-apply (a plan) and command (state rm, import).
    const approving = (['plan-apply', 'command'] as const).map((w) => names.arn(w));
    f.ApprovalCallback.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
        resources: approving,
      }),
    );
    // Before a decision is recorded: is the execution that waits for it still running?
    const waitingExecutions = (['plan-apply', 'command'] as const).map((w) =>
      names.executionsArn(w),
    );
    f.ApprovalCallback.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:DescribeExecution'],
        resources: waitingExecutions,
      }),
    );
    acknowledgeWildcardResources(
      f.ApprovalCallback,
      'Reads the status of plan-apply and command executions (named by run ids, unknown in advance) before recording a decision.',
      waitingExecutions,
    );
    const ttlSchedules = Stack.of(this).formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${schedules.scheduleGroup.scheduleGroupName}/*`,
    });
    // Schedule sets and deletes them (ephemeral, destroy); ChangeTtl reads, moves or deletes
    // one (ttl): an update replaces the whole schedule, so it passes the scheduler role too.
    for (const fn of [f.Schedule, f.ChangeTtl]) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: [
            'scheduler:CreateSchedule',
            'scheduler:UpdateSchedule',
            'scheduler:DeleteSchedule',
            'scheduler:GetSchedule',
          ],
          resources: [ttlSchedules],
        }),
      );
      schedules.schedulerRole.grantPassRole(fn.grantPrincipal);
      acknowledgeWildcardResources(
        fn,
        "The one-time TTL schedules of this deployment's schedule group (one per environment and project).",
        [ttlSchedules],
      );
    }
  }
}
