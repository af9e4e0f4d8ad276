// StepformPipeline: everything Stepform needs in one AWS account, as one L3 construct composed
// of one construct per concern: storage, secrets, executor compute, TTL schedules, functions,
// workflows and the GitHub OIDC roles. Each part keeps the logical IDs its resources had
// when this construct made them all itself (logical-ids.ts), so a deployed stack updates in
// place.
import { Annotations, Stack, Token } from 'aws-cdk-lib';
import type * as batch from 'aws-cdk-lib/aws-batch';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { Workflow } from '../../state-machines/workflows.ts';
import { invalidProps } from './common-props.ts';
import { ExecutorCompute, type ExecutorComputeOptions } from './executor-compute.ts';
import { type HandlerName, StepformFunctions, type StepformFunctionsOptions } from './functions.ts';
import { type GitHubOidcProps, GitHubOidcRoles, type GitHubRoleName } from './github-oidc.ts';
import { keepLogicalIds } from './logical-ids.ts';
import { StepformSecrets, type StepformSecretsProps } from './secrets.ts';
import { StateMachineNames } from './state-machine-names.ts';
import { StepformStorage, type StepformStorageProps } from './storage.ts';
import { DriftSchedules } from './drift-schedules.ts';
import { TtlSchedules } from './ttl-schedules.ts';
import { StepformWorkflows, type StepformWorkflowsOptions } from './workflows.ts';

const NAME_PREFIX = /^[A-Za-z][A-Za-z0-9-]{0,39}$/;

/** Each part's props, documented where the part is; plus what only the whole needs. */
export interface StepformPipelineProps
  extends
    StepformStorageProps,
    StepformSecretsProps,
    ExecutorComputeOptions,
    StepformFunctionsOptions,
    StepformWorkflowsOptions {
  /**
   * A prefix for the physical names (state machines, schedule group). The Lambdas must know
   * the destroy workflow's ARN before it exists, so the state machines have fixed names.
   * @default - the stack name
   */
  readonly namePrefix?: string;
  /**
   * The repository the pipeline runs (PrepareRun refuses a run of any other), its GitHub OIDC
   * roles, and where the Lambdas comment and check that a plan-apply's commit is merged.
   * @default - none: no GitHub roles, and every run is refused (a synthesis warning says so)
   */
  readonly github?: GitHubOidcProps;
  /**
   * Where alarms notify.
   * @default - alarms without actions
   */
  readonly alarmTopic?: sns.ITopic;
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
  /** The Slack app's signing secret; only with slackInteractivity. */
  readonly slackSigningSecret?: secretsmanager.Secret;
  readonly jobQueue: batch.JobQueue;
  readonly planJobQueue: batch.JobQueue;
  readonly planJobDefinition: batch.EcsJobDefinition;
  readonly applyJobDefinition: batch.EcsJobDefinition;
  readonly planJobRole: iam.Role;
  readonly applyJobRole: iam.Role;
  readonly functions: Readonly<Record<HandlerName, nodejs.NodejsFunction>>;
  readonly approvalUrl: lambda.FunctionUrl;
  readonly stateMachines: Readonly<Record<Workflow, sfn.StateMachine>>;
  readonly scheduleGroup: scheduler.ScheduleGroup;
  readonly schedulerRole: iam.Role;
  /** Where `stepform drift --stack … --schedule` writes the drift schedules, and their role. */
  readonly driftScheduleGroup: scheduler.ScheduleGroup;
  readonly driftSchedulerRole: iam.Role;
  readonly githubRoles: Partial<Record<GitHubRoleName, iam.Role>>;
  readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: StepformPipelineProps = {}) {
    super(scope, id);
    const prefix = props.namePrefix ?? Stack.of(this).stackName;
    if (!Token.isUnresolved(prefix) && !NAME_PREFIX.test(prefix)) {
      invalidProps(
        'StepformPipeline',
        `namePrefix "${prefix}" must match ${String(NAME_PREFIX)} (set it when the stack name does not)`,
      );
    }
    const names = new StateMachineNames(this, prefix);
    const part = <T extends Construct>(construct: T): T => {
      keepLogicalIds(construct);
      return construct;
    };

    const storage = part(new StepformStorage(this, 'Storage', props));
    const secrets = part(new StepformSecrets(this, 'Secrets', props));
    const schedules = part(new TtlSchedules(this, 'TtlSchedules', { stateMachines: names }));
    const driftSchedules = part(
      new DriftSchedules(this, 'DriftSchedules', { stateMachines: names }),
    );
    const functions = part(
      new StepformFunctions(this, 'Functions', {
        ...props,
        storage,
        secrets,
        schedules,
        stateMachines: names,
        ...(props.github ? { githubRepository: props.github.repository } : {}),
      }),
    );
    const compute = part(
      new ExecutorCompute(this, 'ExecutorCompute', {
        ...props,
        storage,
        githubTokenFunction: functions.functions.GitHubToken,
      }),
    );
    const workflows = part(
      new StepformWorkflows(this, 'Workflows', {
        ...props,
        functions,
        compute,
        stateMachines: names,
      }),
    );
    if (!props.github) {
      Annotations.of(this).addWarningV2(
        '@stepform/infra:noRepository',
        'No github.repository: this pipeline runs no repository, PrepareRun refuses every run ' +
          '(set github.repository, or STEPFORM_GITHUB_REPOSITORY for infra/bin/app.ts; docs/deploy.md).',
      );
    }
    const github = props.github
      ? part(
          new GitHubOidcRoles(this, 'GitHub', {
            ...props.github,
            stateMachines: workflows.stateMachines,
            stateMachineNames: names,
          }),
        )
      : undefined;

    this.alarms = [...workflows.alarms, storage.deadLetterAlarm];
    if (props.alarmTopic) {
      for (const alarm of this.alarms)
        alarm.addAlarmAction(new cwActions.SnsAction(props.alarmTopic));
    }

    this.vpc = compute.vpc;
    this.table = storage.table;
    this.artifactsBucket = storage.artifactsBucket;
    this.stateBucket = storage.stateBucket;
    this.statusQueue = storage.statusQueue;
    this.deadLetterQueue = storage.deadLetterQueue;
    this.githubTokenSecret = secrets.githubTokenSecret;
    this.slackWebhookSecret = secrets.slackWebhookSecret;
    this.signingKeySecret = secrets.signingKeySecret;
    if (secrets.slackSigningSecret) this.slackSigningSecret = secrets.slackSigningSecret;
    this.jobQueue = compute.jobQueue;
    this.planJobQueue = compute.planJobQueue;
    this.planJobDefinition = compute.planJobDefinition;
    this.applyJobDefinition = compute.applyJobDefinition;
    this.planJobRole = compute.planJobRole;
    this.applyJobRole = compute.applyJobRole;
    this.functions = functions.functions;
    this.approvalUrl = functions.approvalUrl;
    this.stateMachines = workflows.stateMachines;
    this.scheduleGroup = schedules.scheduleGroup;
    this.schedulerRole = schedules.schedulerRole;
    this.driftScheduleGroup = driftSchedules.scheduleGroup;
    this.driftSchedulerRole = driftSchedules.schedulerRole;
    this.githubRoles = github ? { ...github.roles } : {};
  }
}
