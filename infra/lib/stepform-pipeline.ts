// StepformPipeline: everything Stepform needs in one AWS account, as one L3 construct. The
// four workflows are the ASL files in state-machines/ (the same files the local engine runs),
// loaded with DefinitionBody.fromFile and filled by definitionSubstitutions; a file-based
// definition gives CDK nothing to infer IAM from, so every grant below is explicit.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ArnFormat,
  type CfnElement,
  Duration,
  IgnoreMode,
  RemovalPolicy,
  Size,
  Stack,
  Token,
  Validations,
  type Acknowledgment,
} from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** The repository root (infra/lib/ → ../..), where state-machines/, lambdas/ and executor-image/ are. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The four workflows: the file under state-machines/ and the name suffix of each. */
export const WORKFLOWS = ['plan', 'plan-apply', 'ephemeral', 'destroy'] as const;
export type Workflow = (typeof WORKFLOWS)[number];

/**
 * The Lambda handlers, by the ASL placeholder that names them (`${<Name>FunctionArn}`) and
 * their file in lambdas/. ApprovalCallback is the approval endpoint (Function URL),
 * called by people, not by a workflow.
 */
export const HANDLERS = {
  PrepareRun: 'prepare-run.ts',
  Lock: 'lock.ts',
  Unlock: 'unlock.ts',
  CollectJobResult: 'collect-job-result.ts',
  Notify: 'notify.ts',
  RequestApproval: 'request-approval.ts',
  Record: 'record.ts',
  Rollback: 'rollback.ts',
  Schedule: 'schedule.ts',
  ApprovalCallback: 'approval-callback.ts',
  ExecutionEnded: 'execution-ended.ts',
} as const;

/** Handlers no workflow calls: the approval endpoint, and the rule on ended executions. */
const NOT_IN_WORKFLOWS: readonly HandlerName[] = ['ApprovalCallback', 'ExecutionEnded'];
export type HandlerName = keyof typeof HANDLERS;

/** Where executor artifacts live in the artifacts bucket (lambdas/runtime.ts uses the same). */
export const ARTIFACTS_PREFIX = 'artifacts';

/** The CPU architecture of the Lambdas and the Batch jobs. */
export type Architecture = 'ARM64' | 'X86_64';

/** The GitHub side: who may start which workflow. */
export interface GitHubOidcProps {
  /** The repository, `owner/name`. */
  readonly repository: string;
  /**
   * The branch whose pushes may start `plan-apply`.
   * @default 'main'
   */
  readonly defaultBranch?: string;
  /**
   * The ARN of an existing `token.actions.githubusercontent.com` OIDC provider (an account
   * has at most one per URL).
   * @default - a new provider is created
   */
  readonly existingProviderArn?: string;
  /**
   * The GitHub environment that the manual (workflow_dispatch) jobs run in; its role may
   * start `ephemeral` and `destroy`. Protect it in GitHub (required reviewers, branches).
   * @default 'stepform-dispatch'
   */
  readonly dispatchEnvironment?: string;
}

export interface StepformPipelineProps {
  /**
   * A prefix for the physical names (state machines, schedule group). The Lambdas must know
   * the destroy workflow's ARN before it exists, so the state machines have fixed names.
   * @default - the stack name
   */
  readonly namePrefix?: string;
  /**
   * The VPC the Batch jobs run in. Its private subnets (with egress) are used unless
   * `jobSubnets` says otherwise; the jobs need outbound HTTPS (git, AWS APIs).
   * @default - a new VPC: 2 AZs, public and private subnets, one NAT gateway, flow logs,
   * S3 and DynamoDB gateway endpoints
   */
  readonly vpc?: ec2.IVpc;
  /**
   * The subnets of the Batch jobs.
   * @default - the VPC's private subnets with egress
   */
  readonly jobSubnets?: ec2.SubnetSelection;
  /**
   * Give the jobs a public IP (only for public subnets without a NAT gateway).
   * @default false
   */
  readonly assignPublicIp?: boolean;
  /**
   * Architecture of the Lambdas and the Batch jobs (the image must match).
   * @default 'ARM64'
   */
  readonly architecture?: Architecture;
  /**
   * The executor image.
   * @default - built from executor-image/Dockerfile as an image asset (`cdk deploy` needs
   * Docker with BuildKit; synthesis does not)
   */
  readonly executorImage?: ecs.ContainerImage;
  /**
   * Run the pull-request `plan` workflow's jobs on Fargate Spot (with on-demand Fargate as the
   * fallback). Applies, destroys and the plans of `plan-apply` always run on on-demand
   * Fargate: an interrupted apply leaves a half-changed environment.
   * @default false
   */
  readonly spotForPlans?: boolean;
  /**
   * The most vCPUs all running jobs may use at once.
   * @default 16
   */
  readonly maxvCpus?: number;
  /** @default 1 */
  readonly jobVcpus?: number;
  /** @default Size.gibibytes(2) */
  readonly jobMemory?: Size;
  /**
   * A job that runs longer is stopped by Batch.
   * @default Duration.hours(2)
   */
  readonly jobTimeout?: Duration;
  /**
   * What the plan jobs may read in the account (besides their state and artifacts, which
   * they may also write: Terraform's S3 lock file and the saved plan). Give read-only
   * policies only: a managed policy's content cannot be checked at synthesis.
   * @default [ReadOnlyAccess]
   */
  readonly planManagedPolicies?: iam.IManagedPolicy[];
  /**
   * What the apply jobs (apply, ephemeral, destroy, rollback) may change.
   * @default [AdministratorAccess] — Terraform creates whatever the modules declare; narrow
   * it to what your modules manage, and/or set `applyPermissionsBoundary`
   */
  readonly applyManagedPolicies?: iam.IManagedPolicy[];
  /**
   * Extra statements for the apply role.
   * @default - none
   */
  readonly applyPolicyStatements?: iam.PolicyStatement[];
  /**
   * A permissions boundary for the apply role.
   * @default - none
   */
  readonly applyPermissionsBoundary?: iam.IManagedPolicy;
  /**
   * Where Terraform states live in the state bucket.
   * @default 'stepform/state'
   */
  readonly stateKeyPrefix?: string;
  /**
   * Delete artifacts (plans, logs, results) after this long; noncurrent versions after 30 days.
   * @default Duration.days(90)
   */
  readonly artifactRetention?: Duration;
  /**
   * How long logs are kept.
   * @default RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Log each state's input and output too (they hold approval task tokens and plan summaries).
   * @default false — every event is logged (level ALL) without its data
   */
  readonly logExecutionData?: boolean;
  /**
   * What happens to the table and the buckets when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly dataRemovalPolicy?: RemovalPolicy;
  /** GitHub OIDC roles, the repository the Lambdas comment on. @default - no GitHub roles */
  readonly github?: GitHubOidcProps;
  /**
   * Names allowed to approve (empty: whoever holds a signed link).
   * @default []
   */
  readonly approvers?: string[];
  /**
   * Where alarms notify.
   * @default - alarms without actions
   */
  readonly alarmTopic?: sns.ITopic;
}

const NAME_PREFIX = /^[A-Za-z][A-Za-z0-9-]{0,39}$/;
const REPOSITORY = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const BRANCH = /^[A-Za-z0-9._/-]+$/;
const ENVIRONMENT = /^[A-Za-z0-9._-]+$/;
const APPROVER = /^[^,\s][^,]*$/;
/** Actions a read-only plan role may hold (besides the writes on its own buckets). */
export const READ_ONLY_ACTION =
  /^[a-z0-9-]+:(Get|List|Describe|Head|BatchGet|Query|Scan)[A-Za-z]*$/;

function fail(message: string): never {
  throw new Error(`StepformPipeline: ${message}`);
}

/** Acknowledges cdk-nag findings on one construct, each with its reason. */
function acknowledge(scope: Construct, ...acks: Acknowledgment[]): void {
  Validations.of(scope).acknowledge(...acks);
}

/** The logical id cdk-nag shows for a resource's ARN (`<LogicalId.Arn>`). */
function arnRef(resource: Construct): string {
  const element = resource.node.defaultChild as CfnElement;
  return `<${Stack.of(resource).getLogicalId(element)}.Arn>`;
}

/** Acknowledges exactly these wildcard findings (AwsSolutions-IAM5[<finding>]) on one construct. */
function acknowledgeWildcards(scope: Construct, reason: string, findings: string[]): void {
  Validations.of(scope).acknowledge(
    ...findings.map((finding) => ({ id: `AwsSolutions-IAM5[${finding}]`, reason })),
  );
}

/** The `${Name}` placeholders of an ASL file. */
export function placeholdersOf(aslFile: string): string[] {
  const text = readFileSync(aslFile, 'utf8');
  return [...new Set([...text.matchAll(/\$\{([A-Za-z0-9]+)\}/g)].map((m) => m[1] ?? ''))].sort();
}

export class StepformPipeline extends Construct {
  readonly vpc: ec2.IVpc;
  readonly table: dynamodb.Table;
  readonly artifactsBucket: s3.Bucket;
  readonly stateBucket: s3.Bucket;
  readonly statusQueue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly githubTokenSecret: secretsmanager.Secret;
  readonly slackWebhookSecret: secretsmanager.Secret;
  readonly signingKeySecret: secretsmanager.Secret;
  readonly jobQueue: batch.JobQueue;
  readonly planJobQueue: batch.JobQueue;
  readonly planJobDefinition: batch.EcsJobDefinition;
  readonly applyJobDefinition: batch.EcsJobDefinition;
  readonly planJobRole: iam.Role;
  readonly applyJobRole: iam.Role;
  readonly functions: Record<HandlerName, nodejs.NodejsFunction>;
  readonly approvalUrl: lambda.FunctionUrl;
  readonly stateMachines: Record<Workflow, sfn.StateMachine>;
  readonly scheduleGroup: scheduler.ScheduleGroup;
  readonly schedulerRole: iam.Role;
  readonly githubRoles: Partial<Record<'pullRequest' | 'defaultBranch' | 'dispatch', iam.Role>>;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: StepformPipelineProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    validate(props);
    const prefix = props.namePrefix ?? stack.stackName;
    if (!Token.isUnresolved(prefix) && !NAME_PREFIX.test(prefix)) {
      fail(
        `namePrefix "${prefix}" must match ${String(NAME_PREFIX)} (set it when the stack name does not)`,
      );
    }
    const arm = (props.architecture ?? 'ARM64') === 'ARM64';
    const retention = props.logRetention ?? logs.RetentionDays.THREE_MONTHS;
    const removalPolicy = props.dataRemovalPolicy ?? RemovalPolicy.RETAIN;
    const stateKeyPrefix = props.stateKeyPrefix ?? 'stepform/state';
    const logGroup = (name: string) =>
      new logs.LogGroup(this, name, { retention, removalPolicy: RemovalPolicy.DESTROY });

    // ---- Storage ------------------------------------------------------------------------
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: 'expiresAtEpoch',
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy,
    });

    const accessLogs = new s3.Bucket(this, 'AccessLogsBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy,
    });
    acknowledge(accessLogs, {
      id: 'AwsSolutions-S1',
      reason:
        'This is the access-log bucket of the artifacts and state buckets; logging it to itself would loop.',
    });
    const bucketProps = (logPrefix: string): s3.BucketProps => ({
      encryption: s3.BucketEncryption.S3_MANAGED,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: logPrefix,
      removalPolicy,
    });
    this.artifactsBucket = new s3.Bucket(this, 'ArtifactsBucket', {
      ...bucketProps('artifacts/'),
      lifecycleRules: [
        {
          expiration: props.artifactRetention ?? Duration.days(90),
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });
    this.stateBucket = new s3.Bucket(this, 'StateBucket', {
      ...bucketProps('state/'),
      // Every Terraform state version is kept for a year: the way back after a bad apply.
      lifecycleRules: [
        {
          noncurrentVersionExpiration: Duration.days(365),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });

    this.deadLetterQueue = new sqs.Queue(this, 'StatusDeadLetterQueue', {
      fifo: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(this.deadLetterQueue, {
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the dead-letter queue of the status queue.',
    });
    this.statusQueue = new sqs.Queue(this, 'StatusQueue', {
      fifo: true,
      // The sender sets the deduplication id (run and phase) and the group (environment).
      contentBasedDeduplication: false,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });

    // ---- Secrets ------------------------------------------------------------------------
    // The two tokens are created with a random placeholder; docs/deploy.md says how to set
    // them. Until then GitHub and Slack notifications fail (reported, never fatal).
    const rotationReason =
      'An externally issued token: it is rotated where it is issued (GitHub, Slack), then put here.';
    this.githubTokenSecret = new secretsmanager.Secret(this, 'GitHubTokenSecret', {
      description:
        'Stepform: GitHub token (PR comments, statuses, deployments). Set it after the first deploy.',
      removalPolicy,
    });
    acknowledge(this.githubTokenSecret, { id: 'AwsSolutions-SMG4', reason: rotationReason });
    this.slackWebhookSecret = new secretsmanager.Secret(this, 'SlackWebhookSecret', {
      description: 'Stepform: Slack incoming-webhook URL. Set it after the first deploy.',
      removalPolicy,
    });
    acknowledge(this.slackWebhookSecret, { id: 'AwsSolutions-SMG4', reason: rotationReason });
    this.signingKeySecret = new secretsmanager.Secret(this, 'ApprovalSigningKey', {
      description: 'Stepform: HMAC key that signs approval links (generated at deploy).',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy,
    });
    acknowledge(this.signingKeySecret, {
      id: 'AwsSolutions-SMG4',
      reason:
        'Rotating the signing key invalidates every pending approval link; rotate by hand between runs (docs/deploy.md).',
    });

    // ---- Network and Batch --------------------------------------------------------------
    this.vpc = props.vpc ?? this.#newVpc(logGroup('VpcFlowLogs'));
    const jobSubnets = props.jobSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    const jobSecurityGroup = new ec2.SecurityGroup(this, 'JobSecurityGroup', {
      vpc: this.vpc,
      description: 'Stepform executor jobs: no inbound, outbound HTTPS',
      allowAllOutbound: false,
    });
    jobSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS: git, AWS APIs');

    const computeEnvironment = (name: string, spot: boolean) =>
      new batch.FargateComputeEnvironment(this, name, {
        vpc: this.vpc,
        vpcSubnets: jobSubnets,
        securityGroups: [jobSecurityGroup],
        spot,
        maxvCpus: props.maxvCpus ?? 16,
      });
    const onDemand = computeEnvironment('FargateComputeEnvironment', false);
    this.jobQueue = new batch.JobQueue(this, 'JobQueue', {
      computeEnvironments: [{ computeEnvironment: onDemand, order: 1 }],
    });
    if (props.spotForPlans) {
      const spot = computeEnvironment('FargateSpotComputeEnvironment', true);
      this.planJobQueue = new batch.JobQueue(this, 'PlanJobQueue', {
        computeEnvironments: [
          { computeEnvironment: spot, order: 1 },
          { computeEnvironment: onDemand, order: 2 },
        ],
      });
    } else {
      this.planJobQueue = this.jobQueue;
    }

    const image =
      props.executorImage ??
      ecs.ContainerImage.fromAsset(REPO_ROOT, {
        file: 'executor-image/Dockerfile',
        platform: arm ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64,
        ignoreMode: IgnoreMode.DOCKER,
        // The build context is the repository root; only what the Dockerfile copies is staged
        // (its own Dockerfile.dockerignore is not read by CDK).
        exclude: EXECUTOR_CONTEXT_EXCLUDES,
      });

    this.planJobRole = this.#jobRole('PlanJobRole', stateKeyPrefix, {
      managedPolicies: props.planManagedPolicies ?? [
        iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess'),
      ],
    });
    this.applyJobRole = this.#jobRole('ApplyJobRole', stateKeyPrefix, {
      managedPolicies: props.applyManagedPolicies ?? [
        iam.ManagedPolicy.fromAwsManagedPolicyName('AdministratorAccess'),
      ],
      ...(props.applyPermissionsBoundary
        ? { permissionsBoundary: props.applyPermissionsBoundary }
        : {}),
    });
    for (const statement of props.applyPolicyStatements ?? []) {
      this.applyJobRole.addToPolicy(statement);
    }
    if (!props.applyManagedPolicies) {
      acknowledge(this.applyJobRole, {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AdministratorAccess]',
        reason:
          'Terraform applies whatever the modules declare; the policy is a construct prop (applyManagedPolicies) for the platform team to narrow.',
      });
    }
    if (!props.planManagedPolicies) {
      acknowledge(this.planJobRole, {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/ReadOnlyAccess]',
        reason:
          'Plans refresh every resource the modules manage, so they read the account (planManagedPolicies narrows it).',
      });
    }

    const jobLogs = logGroup('JobLogs');
    const jobDefinition = (name: string, role: iam.Role) => {
      const container = new batch.EcsFargateContainerDefinition(this, `${name}Container`, {
        image,
        cpu: props.jobVcpus ?? 1,
        memory: props.jobMemory ?? Size.gibibytes(2),
        jobRole: role,
        assignPublicIp: props.assignPublicIp ?? false,
        fargateCpuArchitecture: arm ? ecs.CpuArchitecture.ARM64 : ecs.CpuArchitecture.X86_64,
        fargateOperatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
        logging: ecs.LogDrivers.awsLogs({ streamPrefix: name, logGroup: jobLogs }),
        environment: {
          AWS_REGION: stack.region,
          STEPFORM_ARTIFACTS_BUCKET: this.artifactsBucket.bucketName,
          STEPFORM_ARTIFACTS_PREFIX: ARTIFACTS_PREFIX,
        },
      });
      acknowledgeWildcards(
        container,
        'The execution role (image pull, log writing): ecr:GetAuthorizationToken supports no resource scoping.',
        ['Resource::*'],
      );
      return new batch.EcsJobDefinition(this, name, {
        timeout: props.jobTimeout ?? Duration.hours(2),
        // Batch retries a job whose container could not start (or whose Spot capacity was
        // reclaimed); a job that ran and exited (Terraform failed) is never retried.
        retryAttempts: 2,
        retryStrategies: [
          batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.CANNOT_PULL_CONTAINER),
          batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.SPOT_INSTANCE_RECLAIMED),
          batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onExitCode: '*' })),
        ],
        container,
      });
    };
    this.planJobDefinition = jobDefinition('PlanJobDefinition', this.planJobRole);
    this.applyJobDefinition = jobDefinition('ApplyJobDefinition', this.applyJobRole);

    // ---- Names the Lambdas need before the resources exist ----------------------------------
    const stateMachineName = (workflow: Workflow) => `${prefix}-${workflow}`;
    const stateMachineArn = (workflow: Workflow) =>
      stack.formatArn({
        service: 'states',
        resource: 'stateMachine',
        resourceName: stateMachineName(workflow),
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
    const executionArns = (workflow: Workflow) =>
      stack.formatArn({
        service: 'states',
        resource: 'execution',
        resourceName: `${stateMachineName(workflow)}:*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });

    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'ScheduleGroup', {
      scheduleGroupName: `${prefix}-ttl`,
    });
    this.schedulerRole = new iam.Role(this, 'SchedulerRole', {
      description: 'EventBridge Scheduler: starts the destroy workflow when a TTL runs out',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      inlinePolicies: {
        StartDestroyOnly: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              actions: ['states:StartExecution'],
              resources: [stateMachineArn('destroy')],
            }),
          ],
        }),
      },
    });

    // ---- Lambdas ------------------------------------------------------------------------
    const functions: Partial<Record<HandlerName, nodejs.NodejsFunction>> = {};
    const runtime = lambda.Runtime.NODEJS_24_X;
    const baseEnvironment: Record<string, string> = {
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'stepform',
      TABLE_NAME: this.table.tableName,
      ARTIFACTS_BUCKET: this.artifactsBucket.bucketName,
      STATE_BUCKET: this.stateBucket.bucketName,
      STATE_KEY_PREFIX: stateKeyPrefix,
      STATUS_QUEUE_URL: this.statusQueue.queueUrl,
      SIGNING_KEY_SECRET_ID: this.signingKeySecret.secretArn,
      SLACK_WEBHOOK_SECRET_ID: this.slackWebhookSecret.secretArn,
      GITHUB_TOKEN_SECRET_ID: this.githubTokenSecret.secretArn,
      SCHEDULE_GROUP: this.scheduleGroup.scheduleGroupName,
      DESTROY_STATE_MACHINE_ARN: stateMachineArn('destroy'),
      SCHEDULER_ROLE_ARN: this.schedulerRole.roleArn,
      ...(props.github ? { GITHUB_REPOSITORY: props.github.repository } : {}),
      ...(props.approvers && props.approvers.length > 0
        ? { APPROVERS: props.approvers.join(',') }
        : {}),
    };
    const newFunction = (name: HandlerName, environment: Record<string, string>) => {
      const fn = new nodejs.NodejsFunction(this, `${name}Function`, {
        entry: join(REPO_ROOT, 'lambdas', HANDLERS[name]),
        handler: 'handler',
        runtime,
        architecture: arm ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
        memorySize: 512,
        timeout: Duration.seconds(name === 'Notify' || name === 'RequestApproval' ? 60 : 30),
        tracing: lambda.Tracing.ACTIVE,
        logGroup: logGroup(`${name}Logs`),
        projectRoot: REPO_ROOT,
        depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
        environment,
        bundling: {
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
        },
      });
      acknowledge(fn, {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'The AWS managed policy that lets a Lambda write its logs; nothing broader.',
      });
      functions[name] = fn;
      return fn;
    };
    // The approval endpoint never builds links (it answers them), but the shared config
    // requires APPROVAL_URL; its own URL cannot be in its environment (a cycle), so it gets a
    // placeholder on the reserved .invalid domain.
    const callback = newFunction('ApprovalCallback', {
      ...baseEnvironment,
      APPROVAL_URL: 'https://approval-endpoint.invalid/',
    });
    this.approvalUrl = callback.addFunctionUrl({
      // The signed link is the authentication: an HMAC over id, action and expiry with the
      // deployment's key, single-use and expiring; approvers open it in a browser, which
      // cannot sign IAM (SigV4) requests. See docs/deploy.md.
      authType: lambda.FunctionUrlAuthType.NONE,
      invokeMode: lambda.InvokeMode.BUFFERED,
    });
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      if (name !== 'ApprovalCallback') {
        newFunction(name, { ...baseEnvironment, APPROVAL_URL: this.approvalUrl.url });
      }
    }
    this.functions = functions as Record<HandlerName, nodejs.NodejsFunction>;

    // Grants, each handler what its step does.
    const f = this.functions;
    for (const fn of [
      f.Lock,
      f.Unlock,
      f.ExecutionEnded,
      f.Record,
      f.Rollback,
      f.Notify,
      f.RequestApproval,
    ]) {
      this.table.grantReadWriteData(fn);
    }
    this.table.grantReadWriteData(f.ApprovalCallback);
    for (const fn of [f.CollectJobResult, f.Notify, f.RequestApproval]) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['s3:GetObject'],
          resources: [this.artifactsBucket.arnForObjects(`${ARTIFACTS_PREFIX}/*`)],
        }),
      );
      acknowledgeWildcards(
        fn,
        "Reads executor results and plans under the artifacts prefix of this deployment's bucket.",
        [`Resource::${arnRef(this.artifactsBucket)}/${ARTIFACTS_PREFIX}/*`],
      );
    }
    for (const fn of [f.Notify, f.RequestApproval]) {
      this.statusQueue.grantSendMessages(fn);
      this.slackWebhookSecret.grantRead(fn);
      this.githubTokenSecret.grantRead(fn);
    }
    this.githubTokenSecret.grantRead(f.PrepareRun);
    this.signingKeySecret.grantRead(f.RequestApproval);
    this.signingKeySecret.grantRead(f.ApprovalCallback);
    f.ApprovalCallback.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
        resources: [stateMachineArn('plan-apply')],
      }),
    );
    f.Schedule.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [
          'scheduler:CreateSchedule',
          'scheduler:UpdateSchedule',
          'scheduler:DeleteSchedule',
          'scheduler:GetSchedule',
        ],
        resources: [
          stack.formatArn({
            service: 'scheduler',
            resource: 'schedule',
            resourceName: `${this.scheduleGroup.scheduleGroupName}/*`,
          }),
        ],
      }),
    );
    this.schedulerRole.grantPassRole(f.Schedule.grantPrincipal);
    acknowledgeWildcards(
      f.Schedule,
      "The one-time TTL schedules of this deployment's schedule group (one per environment and project).",
      [
        `Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${prefix}-ttl/*`,
      ],
    );
    for (const fn of Object.values(this.functions)) {
      acknowledgeWildcards(
        fn,
        'X-Ray tracing: xray:PutTraceSegments/PutTelemetryRecords support no resource scoping.',
        ['Resource::*'],
      );
    }

    // ---- State machines ---------------------------------------------------------------
    const functionArns = Object.fromEntries(
      (Object.keys(HANDLERS) as HandlerName[])
        .filter((name) => !NOT_IN_WORKFLOWS.includes(name))
        .map((name) => [`${name}FunctionArn`, this.functions[name].functionArn]),
    );
    const stateMachines: Partial<Record<Workflow, sfn.StateMachine>> = {};
    for (const workflow of WORKFLOWS) {
      const pascal = workflow.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());
      const sm = new sfn.StateMachine(this, `${pascal}StateMachine`, {
        stateMachineName: stateMachineName(workflow),
        stateMachineType: sfn.StateMachineType.STANDARD,
        definitionBody: sfn.DefinitionBody.fromFile(aslPath(workflow)),
        definitionSubstitutions: {
          ...functionArns,
          JobQueueArn:
            workflow === 'plan' ? this.planJobQueue.jobQueueArn : this.jobQueue.jobQueueArn,
          PlanJobDefinitionArn: this.planJobDefinition.jobDefinitionArn,
          ApplyJobDefinitionArn: this.applyJobDefinition.jobDefinitionArn,
        },
        logs: {
          destination: logGroup(`${pascal}StateMachineLogs`),
          level: sfn.LogLevel.ALL,
          includeExecutionData: props.logExecutionData ?? false,
        },
        tracingEnabled: true,
      });
      this.#grantWorkflow(sm, workflow);
      stateMachines[workflow] = sm;
      this.alarms.push(
        new cloudwatch.Alarm(this, `${pascal}FailedAlarm`, {
          alarmDescription: `Stepform ${workflow}: an execution failed, timed out or was aborted`,
          metric: new cloudwatch.MathExpression({
            expression: 'failed + timedOut + aborted',
            usingMetrics: {
              failed: sm.metricFailed({ statistic: 'Sum' }),
              timedOut: sm.metricTimedOut({ statistic: 'Sum' }),
              aborted: sm.metricAborted({ statistic: 'Sum' }),
            },
            period: Duration.minutes(5),
          }),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    this.stateMachines = stateMachines as Record<Workflow, sfn.StateMachine>;

    // An execution that ends without reaching its Unlock state (aborted, timed out, or an
    // error no Catch matches) has its lock released at once instead of at its expiry.
    new events.Rule(this, 'ReleaseLocksOfEndedExecutions', {
      description: 'Stepform: release the lock of a workflow execution that ended early',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: (['plan-apply', 'ephemeral', 'destroy'] as const).map(
            (w) => this.stateMachines[w].stateMachineArn,
          ),
        },
      },
      targets: [
        new eventsTargets.LambdaFunction(this.functions.ExecutionEnded, { retryAttempts: 8 }),
      ],
    });
    this.alarms.push(
      new cloudwatch.Alarm(this, 'StatusDeadLetterAlarm', {
        alarmDescription: 'Stepform: status events reached the dead-letter queue',
        metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(5),
          statistic: 'Maximum',
        }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    if (props.alarmTopic) {
      for (const alarm of this.alarms)
        alarm.addAlarmAction(new cwActions.SnsAction(props.alarmTopic));
    }

    // ---- GitHub OIDC --------------------------------------------------------------------
    this.githubRoles = props.github
      ? this.#githubRoles(props.github, executionArns, stateMachineName)
      : {};
  }

  #newVpc(flowLogs: logs.LogGroup): ec2.Vpc {
    return new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'jobs', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      // Nothing runs in the default security group; restricting it would add a custom
      // resource Lambda to the stack.
      restrictDefaultSecurityGroup: false,
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
      flowLogs: {
        all: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
          trafficType: ec2.FlowLogTrafficType.ALL,
        },
      },
    });
  }

  /** A job role: its own state and artifacts, read and written, plus the given policies. */
  #jobRole(id: string, stateKeyPrefix: string, extra: Partial<iam.RoleProps>): iam.Role {
    const role = new iam.Role(this, id, {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      ...extra,
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'StateAndArtifactObjects',
        actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
        resources: [
          this.stateBucket.arnForObjects(`${stateKeyPrefix}/*`),
          this.artifactsBucket.arnForObjects(`${ARTIFACTS_PREFIX}/*`),
        ],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'StateAndArtifactBuckets',
        actions: ['s3:ListBucket'],
        resources: [this.stateBucket.bucketArn, this.artifactsBucket.bucketArn],
      }),
    );
    acknowledgeWildcards(
      role,
      "Terraform states and run artifacts are many objects: limited to the state key prefix and the artifacts prefix of this deployment's buckets.",
      [
        `Resource::${arnRef(this.stateBucket)}/${stateKeyPrefix}/*`,
        `Resource::${arnRef(this.artifactsBucket)}/${ARTIFACTS_PREFIX}/*`,
      ],
    );
    return role;
  }

  /** Step Functions invokes the Lambdas and runs Batch jobs (.sync) for this workflow only. */
  #grantWorkflow(sm: sfn.StateMachine, workflow: Workflow): void {
    const stack = Stack.of(this);
    // Exactly the functions this workflow's file names, unqualified as the file calls them.
    const fns = placeholdersOf(aslPath(workflow))
      .filter((p) => p.endsWith('FunctionArn'))
      .map((p) => this.functions[p.slice(0, -'FunctionArn'.length) as HandlerName]);
    sm.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'InvokeStepLambdas',
        actions: ['lambda:InvokeFunction'],
        resources: fns.map((fn) => fn.functionArn),
      }),
    );
    const queue = workflow === 'plan' ? this.planJobQueue : this.jobQueue;
    const definitions =
      workflow === 'plan'
        ? [this.planJobDefinition]
        : workflow === 'plan-apply'
          ? [this.planJobDefinition, this.applyJobDefinition]
          : [this.applyJobDefinition];
    sm.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'SubmitJobs',
        actions: ['batch:SubmitJob'],
        resources: [queue.jobQueueArn, ...definitions.map((d) => d.jobDefinitionArn)],
      }),
    );
    sm.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'WatchJobs',
        actions: ['batch:DescribeJobs', 'batch:TerminateJob'],
        // DescribeJobs has no resource-level permissions.
        resources: ['*'],
      }),
    );
    sm.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'SyncJobEvents',
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [
          stack.formatArn({
            service: 'events',
            resource: 'rule',
            resourceName: 'StepFunctionsGetEventsForBatchJobsRule',
          }),
        ],
      }),
    );
    acknowledgeWildcards(
      sm,
      'batch:DescribeJobs (for .sync), CloudWatch Logs delivery and X-Ray support no resource-level scoping.',
      ['Resource::*'],
    );
  }

  #githubRoles(
    github: GitHubOidcProps,
    executionArns: (workflow: Workflow) => string,
    stateMachineName: (workflow: Workflow) => string,
  ): Partial<Record<'pullRequest' | 'defaultBranch' | 'dispatch', iam.Role>> {
    const issuer = 'token.actions.githubusercontent.com';
    const providerArn =
      github.existingProviderArn ??
      new iam.OidcProviderNative(this, 'GitHubOidcProvider', {
        url: `https://${issuer}`,
        clientIds: ['sts.amazonaws.com'],
      }).oidcProviderArn;
    const repo = github.repository;
    const branch = github.defaultBranch ?? 'main';
    const environment = github.dispatchEnvironment ?? 'stepform-dispatch';
    const role = (id: string, subject: string, workflows: Workflow[], description: string) => {
      const r = new iam.Role(this, id, {
        description,
        maxSessionDuration: Duration.hours(1),
        assumedBy: new iam.FederatedPrincipal(
          providerArn,
          {
            StringEquals: { [`${issuer}:aud`]: 'sts.amazonaws.com', [`${issuer}:sub`]: subject },
          },
          'sts:AssumeRoleWithWebIdentity',
        ),
      });
      r.addToPolicy(
        new iam.PolicyStatement({
          sid: 'StartWorkflows',
          actions: ['states:StartExecution'],
          resources: workflows.map((w) => this.stateMachines[w].stateMachineArn),
        }),
      );
      r.addToPolicy(
        new iam.PolicyStatement({
          sid: 'WatchExecutions',
          // StopExecution: the action stops the execution it started when its job is cancelled.
          actions: [
            'states:DescribeExecution',
            'states:GetExecutionHistory',
            'states:StopExecution',
          ],
          resources: workflows.map(executionArns),
        }),
      );
      acknowledgeWildcards(
        r,
        'Executions of the named state machines only (execution names are run ids, unknown in advance).',
        workflows.map(
          (w) =>
            `Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${stateMachineName(w)}:*`,
        ),
      );
      return r;
    };
    return {
      pullRequest: role(
        'GitHubPullRequestRole',
        `repo:${repo}:pull_request`,
        ['plan'],
        `Stepform: pull requests of ${repo} may start plan only`,
      ),
      defaultBranch: role(
        'GitHubDefaultBranchRole',
        `repo:${repo}:ref:refs/heads/${branch}`,
        ['plan', 'plan-apply'],
        `Stepform: pushes to ${repo}@${branch} may start plan and plan-apply`,
      ),
      dispatch: role(
        'GitHubDispatchRole',
        `repo:${repo}:environment:${environment}`,
        ['ephemeral', 'destroy'],
        `Stepform: jobs of ${repo} in the ${environment} environment may start ephemeral and destroy`,
      ),
    };
  }
}

function validate(props: StepformPipelineProps): void {
  if (props.jobSubnets && !props.vpc)
    fail('jobSubnets needs vpc (they select subnets of that VPC)');
  const vcpus = props.jobVcpus ?? 1;
  const memoryMiB = (props.jobMemory ?? Size.gibibytes(2)).toMebibytes();
  // Fargate's valid CPU/memory pairs.
  const fargate: Record<number, [number, number, number]> = {
    0.25: [512, 2048, 1024],
    0.5: [1024, 4096, 1024],
    1: [2048, 8192, 1024],
    2: [4096, 16384, 1024],
    4: [8192, 30720, 1024],
    8: [16384, 61440, 4096],
    16: [32768, 122880, 8192],
  };
  const range = fargate[vcpus];
  if (!range)
    fail(`jobVcpus must be one of ${Object.keys(fargate).join(', ')} (Fargate), got ${vcpus}`);
  const [min, max, step] = range;
  const ok =
    vcpus === 0.25
      ? [512, 1024, 2048].includes(memoryMiB)
      : memoryMiB >= min && memoryMiB <= max && memoryMiB % step === 0;
  if (!ok) fail(`jobMemory ${memoryMiB} MiB is not valid on Fargate with ${vcpus} vCPU`);
  const maxvCpus = props.maxvCpus ?? 16;
  if (!Number.isInteger(maxvCpus) || maxvCpus < vcpus) {
    fail(`maxvCpus must be an integer of at least jobVcpus (${vcpus}), got ${maxvCpus}`);
  }
  const timeout = props.jobTimeout ?? Duration.hours(2);
  // The workflows give a job 4 hours (TimeoutSeconds 14400); Batch must stop it first.
  if (timeout.toSeconds() < 60 || timeout.toSeconds() > 14_400) {
    fail('jobTimeout must be between 1 minute and 4 hours (the workflows wait 4 hours at most)');
  }
  if (props.assignPublicIp && !props.vpc) {
    fail(
      'assignPublicIp is for jobs in public subnets of your own vpc; the new VPC has a NAT gateway',
    );
  }
  const github = props.github;
  if (github) {
    if (!REPOSITORY.test(github.repository))
      fail(`github.repository must be owner/name, got "${github.repository}"`);
    if (github.defaultBranch !== undefined && !BRANCH.test(github.defaultBranch)) {
      fail(`github.defaultBranch "${github.defaultBranch}" is not a branch name`);
    }
    if (github.dispatchEnvironment !== undefined && !ENVIRONMENT.test(github.dispatchEnvironment)) {
      fail(`github.dispatchEnvironment "${github.dispatchEnvironment}" is not an environment name`);
    }
    if (
      github.existingProviderArn !== undefined &&
      !Token.isUnresolved(github.existingProviderArn) &&
      !/^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/.test(
        github.existingProviderArn,
      )
    ) {
      fail(
        'github.existingProviderArn must be the ARN of the token.actions.githubusercontent.com OIDC provider',
      );
    }
  }
  for (const name of props.approvers ?? []) {
    if (!APPROVER.test(name))
      fail(`approver "${name}" must be non-empty, without commas or leading spaces`);
  }
  if (
    props.stateKeyPrefix !== undefined &&
    !/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(props.stateKeyPrefix)
  ) {
    fail(
      `stateKeyPrefix "${props.stateKeyPrefix}" must be a relative key prefix without a trailing /`,
    );
  }
}

/**
 * The executor image's build context is the repository root: stage only what its Dockerfile
 * copies (Docker ignore syntax: exclude all, re-include those paths, drop tests).
 */
export const EXECUTOR_CONTEXT_EXCLUDES = [
  '*',
  '!package.json',
  '!package-lock.json',
  '!executor-image',
  '!core',
  '!adapters',
  'adapters/*',
  '!adapters/aws',
  '!toolchain',
  '!terraform',
  'terraform/*',
  '!terraform/examples',
  'terraform/examples/*',
  '!terraform/examples/hello',
  'terraform/examples/hello/*',
  '!terraform/examples/hello/.terraform.lock.hcl',
  '**/*.test.ts',
  '**/node_modules',
  '**/.terraform',
];

/** The ASL file of a workflow. */
export function aslPath(workflow: Workflow): string {
  return join(REPO_ROOT, 'state-machines', `${workflow}.asl.json`);
}

/** The handler files a pipeline expects: every lambdas/*.ts that exports a handler. */
export function handlerFiles(): string[] {
  return readdirSync(join(REPO_ROOT, 'lambdas'))
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
    .filter((file) => !['config.ts', 'runtime.ts'].includes(file))
    .sort();
}
