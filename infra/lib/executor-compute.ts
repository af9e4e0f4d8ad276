// Where the executor runs: a VPC (or yours), Batch on Fargate (an on-demand queue, and a
// Spot-first one for pull-request plans when asked), the executor image, and one job role and
// job definition for plans, one for applies.
import { Annotations, Duration, IgnoreMode, Size, Stack, Token } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENVIRONMENT_NAME } from '../../core/contracts/job-input.ts';
import { PLAN_STEP } from '../../core/run.ts';
import { REPO_ROOT } from '../../toolchain/paths.ts';
import {
  type ArchitectureProps,
  type DataRemovalProps,
  type LogRetentionProps,
  invalidProps,
  newLogGroup,
} from './common-props.ts';
import {
  EXECUTOR_CONTEXT_EXCLUDES,
  EXECUTOR_DOCKERFILE,
  ExecutorImageBuild,
} from './executor-image-build.ts';
import {
  acknowledgeManagedPolicy,
  acknowledgeWildcardResources,
  acknowledgeWildcards,
} from './nag.ts';
import type { StepformStorage } from './storage.ts';

/** The status reason of a Fargate Spot task stopped by an interruption (ECS's stoppedReason). */
export const FARGATE_SPOT_INTERRUPTED = 'Your Spot Task was interrupted*';

/** Actions a read-only plan role may hold (besides the writes on its own buckets). */
export const READ_ONLY_ACTION =
  /^[a-z0-9-]+:(Get|List|Describe|Head|BatchGet|Query|Scan)[A-Za-z]*$/;

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;

/** The Terraform input variable that carries each environment's role to the jobs. */
export const ROLE_ARNS_VARIABLE = 'stepform_role_arns';

/** What the apply jobs (apply, ephemeral, destroy, rollback) may do in this account. */
export interface ApplyRoleProps {
  /**
   * The managed policies of the apply role.
   * @default [AdministratorAccess] — Terraform creates whatever the modules declare; a
   * synthesis warning names this default until you set the policies (`[]` for none)
   */
  readonly managedPolicies?: iam.IManagedPolicy[];
  /**
   * Extra statements for the apply role.
   * @default - none
   */
  readonly policyStatements?: iam.PolicyStatement[];
  /**
   * A permissions boundary for the apply role.
   * @default - none
   */
  readonly permissionsBoundary?: iam.IManagedPolicy;
}

/** The roles Terraform assumes for one environment (usually in that environment's account). */
export interface EnvironmentRoles {
  /** The role plan jobs assume: read-only (pull-request plans run the branch's code). */
  readonly planRoleArn: string;
  /** The role apply jobs assume: what applies and destroys in that environment may change. */
  readonly applyRoleArn: string;
}

/** Fargate's valid memory per vCPU count: [min MiB, max MiB, step MiB]. */
const FARGATE_MEMORY: Record<number, [number, number, number]> = {
  0.25: [512, 2048, 1024],
  0.5: [1024, 4096, 1024],
  1: [2048, 8192, 1024],
  2: [4096, 16384, 1024],
  4: [8192, 30720, 1024],
  8: [16384, 61440, 4096],
  16: [32768, 122880, 8192],
};

/** In increasing order (an object lists integer keys before 0.25 and 0.5). */
const FARGATE_VCPUS = Object.keys(FARGATE_MEMORY)
  .map(Number)
  .sort((a, b) => a - b);

/** The workflows give a job 4 hours (TimeoutSeconds 14400); Batch must stop it first. */
const MAX_JOB_TIMEOUT = Duration.hours(4);

/**
 * Where the executor image is built when no `executorImage` is given: in AWS by CodeBuild on
 * deploy, or on the deployer's machine by Docker (a CDK image asset).
 */
export type ExecutorImageBuildMode = 'codebuild' | 'local-docker';

export interface ExecutorComputeOptions
  extends ArchitectureProps, LogRetentionProps, DataRemovalProps {
  /**
   * The VPC the Batch jobs run in. Its private subnets (with egress) are used unless
   * `jobSubnets` says otherwise; the jobs need outbound HTTPS (git, AWS APIs).
   * @default - a new VPC: 2 AZs, public and private subnets, one NAT gateway, flow logs,
   * S3 and DynamoDB gateway endpoints
   */
  readonly vpc?: ec2.IVpc;
  /**
   * The subnets of the Batch jobs (of `vpc`, which they need).
   * @default - the VPC's private subnets with egress
   */
  readonly jobSubnets?: ec2.SubnetSelection;
  /**
   * Give the jobs a public IP (only for public subnets of your own `vpc` without a NAT gateway).
   * @default false
   */
  readonly assignPublicIp?: boolean;
  /**
   * A prebuilt executor image (of the jobs' architecture), instead of one built from
   * executor-image/Dockerfile.
   * @default - built as `executorImageBuild` says
   */
  readonly executorImage?: ecs.ContainerImage;
  /**
   * How the executor image is built from executor-image/Dockerfile (not with `executorImage`):
   * `codebuild` uploads the build context as an S3 asset and builds and pushes it in AWS on
   * deploy (CodeBuild of the jobs' architecture, an ECR repository of the stack; the job
   * definitions use the image by digest, and a failed build fails the deploy with its log);
   * `local-docker` builds it on the deployer's machine as a CDK image asset (`cdk deploy`
   * needs Docker with BuildKit, and QEMU for arm64 on x86).
   * @default 'codebuild'
   */
  readonly executorImageBuild?: ExecutorImageBuildMode;
  /**
   * Run the pull-request `plan` workflow's jobs on Fargate Spot (with on-demand Fargate as the
   * fallback). Applies, destroys and the plans of `plan-apply` always run on on-demand
   * Fargate: an interrupted apply leaves a half-changed environment.
   * @default false
   */
  readonly spotForPlans?: boolean;
  /**
   * The most vCPUs all running jobs may use at once (an integer, at least `jobVcpus`).
   * @default 16
   */
  readonly maxvCpus?: number;
  /**
   * The vCPUs of one job: 0.25, 0.5, 1, 2, 4, 8 or 16 (Fargate).
   * @default 1
   */
  readonly jobVcpus?: number;
  /**
   * The memory of one job, valid on Fargate for `jobVcpus`.
   * @default Size.gibibytes(2)
   */
  readonly jobMemory?: Size;
  /**
   * A job that runs longer is stopped by Batch (between 1 minute and 4 hours).
   * @default Duration.hours(2)
   */
  readonly jobTimeout?: Duration;
  /**
   * What the plan jobs may read in the account (besides the states, and the writes a plan
   * needs in the buckets: Terraform's S3 lock files and the plan folders of the artifacts,
   * never a state). Give read-only policies only: a managed policy's content cannot be
   * checked at synthesis.
   * @default [ReadOnlyAccess]
   */
  readonly planManagedPolicies?: iam.IManagedPolicy[];
  /**
   * What the apply jobs (apply, ephemeral, destroy, rollback) may change in this account.
   * @default - AdministratorAccess, no statements, no boundary (a synthesis warning says so;
   * docs/deploy.md, "The apply role")
   */
  readonly applyRole?: ApplyRoleProps;
  /**
   * Per environment (its name in stepform.yaml), the roles Terraform assumes there. The plan
   * job role may assume exactly the plan roles, the apply job role exactly the apply roles;
   * each job gets its kind's map, environment → role ARN, as the Terraform variable
   * `stepform_role_arns` (TF_VAR_stepform_role_arns), for the module's provider to assume:
   * declare it `ephemeral` so that an apply of a saved plan uses the apply role.
   * @default - none: every environment is planned and applied with the job roles themselves
   */
  readonly environmentRoles?: Readonly<Record<string, EnvironmentRoles>>;
}

export interface ExecutorComputeProps extends ExecutorComputeOptions {
  /** The buckets the jobs read and write: Terraform states and run artifacts. */
  readonly storage: StepformStorage;
  /**
   * The function that gives a job a token to clone its repository (a GitHub App's installation
   * token for that repository, contents: read; or the deployment's token). The job roles may
   * invoke it, and the jobs get its ARN as STEPFORM_GITHUB_TOKEN_FUNCTION; they never read the
   * GitHub secret itself (a pull-request plan runs the branch's code with the plan role).
   * @default - none: jobs clone without credentials (public repositories only)
   */
  readonly githubTokenFunction?: lambda.IFunction;
}

export class ExecutorCompute extends Construct {
  readonly vpc: ec2.IVpc;
  /** On-demand Fargate: applies, destroys, and every plan unless `spotForPlans`. */
  readonly jobQueue: batch.JobQueue;
  /** The `plan` workflow's queue: Spot first with `spotForPlans`, else `jobQueue` itself. */
  readonly planJobQueue: batch.JobQueue;
  readonly planJobRole: iam.Role;
  readonly applyJobRole: iam.Role;
  readonly planJobDefinition: batch.EcsJobDefinition;
  readonly applyJobDefinition: batch.EcsJobDefinition;
  /** The build of the executor image in AWS (`executorImageBuild: 'codebuild'`, the default). */
  readonly imageBuild?: ExecutorImageBuild;

  constructor(scope: Construct, id: string, props: ExecutorComputeProps) {
    super(scope, id);
    validate(props);
    const { storage } = props;
    const arm = (props.architecture ?? 'ARM64') === 'ARM64';

    this.vpc = props.vpc ?? this.#newVpc(newLogGroup(this, 'VpcFlowLogs', props));
    const jobSecurityGroup = new ec2.SecurityGroup(this, 'JobSecurityGroup', {
      vpc: this.vpc,
      description: 'Stepform executor jobs: no inbound, outbound HTTPS',
      allowAllOutbound: false,
    });
    jobSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS: git, AWS APIs');

    const computeEnvironment = (name: string, spot: boolean) =>
      new batch.FargateComputeEnvironment(this, name, {
        vpc: this.vpc,
        vpcSubnets: props.jobSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
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

    let image: ecs.ContainerImage;
    if (props.executorImage) {
      image = props.executorImage;
    } else if ((props.executorImageBuild ?? 'codebuild') === 'codebuild') {
      this.imageBuild = new ExecutorImageBuild(this, 'ExecutorImage', props);
      image = this.imageBuild.image;
    } else {
      image = ecs.ContainerImage.fromAsset(REPO_ROOT, {
        file: EXECUTOR_DOCKERFILE,
        platform: arm ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64,
        ignoreMode: IgnoreMode.DOCKER,
        // The build context is the repository root; only what the Dockerfile copies is staged
        // (its own Dockerfile.dockerignore is not read by CDK).
        exclude: EXECUTOR_CONTEXT_EXCLUDES,
      });
    }

    const readOnly = iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess');
    const administrator = iam.ManagedPolicy.fromAwsManagedPolicyName('AdministratorAccess');
    this.planJobRole = this.#jobRole('PlanJobRole', storage, 'plan', {
      managedPolicies: props.planManagedPolicies ?? [readOnly],
    });
    const applyRole = props.applyRole ?? {};
    this.applyJobRole = this.#jobRole('ApplyJobRole', storage, 'apply', {
      managedPolicies: applyRole.managedPolicies ?? [administrator],
      ...(applyRole.permissionsBoundary
        ? { permissionsBoundary: applyRole.permissionsBoundary }
        : {}),
    });
    if (props.githubTokenFunction) {
      for (const role of [this.planJobRole, this.applyJobRole]) {
        role.addToPolicy(
          new iam.PolicyStatement({
            sid: 'CloneToken',
            actions: ['lambda:InvokeFunction'],
            resources: [props.githubTokenFunction.functionArn],
          }),
        );
      }
    }
    for (const statement of applyRole.policyStatements ?? []) {
      this.applyJobRole.addToPolicy(statement);
    }
    if (!applyRole.managedPolicies) {
      Annotations.of(this.applyJobRole).addWarningV2(
        '@stepform/infra:applyRoleAdministratorAccess',
        'The apply jobs run with AdministratorAccess (the default of applyRole.managedPolicies): ' +
          'set applyRole to what your modules manage (docs/deploy.md, "The apply role").',
      );
      acknowledgeManagedPolicy(
        this.applyJobRole,
        'Terraform applies whatever the modules declare; the policy is a construct prop (applyRole) for the platform team to narrow, and synthesis warns while it is the default.',
        administrator,
      );
    }
    const environments = Object.entries(props.environmentRoles ?? {});
    const roleArns = (kind: keyof EnvironmentRoles) =>
      Object.fromEntries(environments.map(([name, roles]) => [name, roles[kind]]));
    const planRoleArns = roleArns('planRoleArn');
    const applyRoleArns = roleArns('applyRoleArn');
    for (const [role, arns] of [
      [this.planJobRole, planRoleArns],
      [this.applyJobRole, applyRoleArns],
    ] as const) {
      if (environments.length === 0) continue;
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'AssumeEnvironmentRoles',
          actions: ['sts:AssumeRole', 'sts:TagSession'],
          resources: [...new Set(Object.values(arns))],
        }),
      );
    }
    if (!props.planManagedPolicies) {
      acknowledgeManagedPolicy(
        this.planJobRole,
        'Plans refresh every resource the modules manage, so they read the account (planManagedPolicies narrows it).',
        readOnly,
      );
    }

    const jobLogs = newLogGroup(this, 'JobLogs', props);
    const jobDefinition = (name: string, role: iam.Role, roleArns: Record<string, string>) => {
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
          AWS_REGION: Stack.of(this).region,
          STEPFORM_ARTIFACTS_BUCKET: storage.artifactsBucket.bucketName,
          STEPFORM_ARTIFACTS_PREFIX: storage.artifactsPrefix,
          ...(props.githubTokenFunction
            ? { STEPFORM_GITHUB_TOKEN_FUNCTION: props.githubTokenFunction.functionArn }
            : {}),
          ...(environments.length > 0
            ? { [`TF_VAR_${ROLE_ARNS_VARIABLE}`]: Stack.of(this).toJsonString(roleArns) }
            : {}),
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
          // CDK's SPOT_INSTANCE_RECLAIMED matches EC2 Spot ("Host EC2*"); Fargate Spot says this.
          batch.RetryStrategy.of(
            batch.Action.RETRY,
            batch.Reason.custom({ onStatusReason: FARGATE_SPOT_INTERRUPTED }),
          ),
          batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.SPOT_INSTANCE_RECLAIMED),
          batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onExitCode: '*' })),
        ],
        container,
      });
    };
    this.planJobDefinition = jobDefinition('PlanJobDefinition', this.planJobRole, planRoleArns);
    this.applyJobDefinition = jobDefinition('ApplyJobDefinition', this.applyJobRole, applyRoleArns);
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

  /**
   * A job role in the buckets, plus the given policies. An apply job reads and writes the
   * states and every artifact. A plan job (the pull-request `plan` workflow runs the branch's
   * code with it) reads the states but writes only the S3 backend's lock files (`*.tflock`,
   * created and deleted around every plan) and the artifacts of plan steps
   * (the `plan` folder of a run, `<artifacts prefix>/<any>/plan/<any>`): it can neither change nor delete a
   * state, nor touch an apply's, a rollback's or a destroy's artifacts. What a static role
   * cannot say is "this run's": a plan job may still write the plan folder of another run.
   */
  #jobRole(
    id: string,
    storage: StepformStorage,
    kind: 'plan' | 'apply',
    extra: Partial<iam.RoleProps>,
  ): iam.Role {
    const { stateBucket, artifactsBucket, stateKeyPrefix, artifactsPrefix } = storage;
    const states = stateBucket.arnForObjects(`${stateKeyPrefix}/*`);
    const role = new iam.Role(this, id, {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      ...extra,
    });
    let objects: string[];
    if (kind === 'apply') {
      objects = [states, artifactsBucket.arnForObjects(`${artifactsPrefix}/*`)];
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'StateAndArtifactObjects',
          actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
          resources: objects,
        }),
      );
    } else {
      const lockFiles = stateBucket.arnForObjects(`${stateKeyPrefix}/*.tflock`);
      const planArtifacts = artifactsBucket.arnForObjects(`${artifactsPrefix}/*/${PLAN_STEP}/*`);
      objects = [states, lockFiles, planArtifacts];
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ReadStatesAndPlanArtifacts',
          actions: ['s3:GetObject'],
          resources: [states, planArtifacts],
        }),
      );
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'StateLockFiles',
          actions: ['s3:PutObject', 's3:DeleteObject'],
          resources: [lockFiles],
        }),
      );
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'WritePlanArtifacts',
          actions: ['s3:PutObject'],
          resources: [planArtifacts],
        }),
      );
    }
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'StateAndArtifactBuckets',
        actions: ['s3:ListBucket'],
        resources: [stateBucket.bucketArn, artifactsBucket.bucketArn],
      }),
    );
    acknowledgeWildcardResources(
      role,
      kind === 'apply'
        ? "Terraform states and run artifacts are many objects: limited to the state key prefix and the artifacts prefix of this deployment's buckets."
        : "Terraform states, their lock files and the plan artifacts of runs are many objects: reads under the state key prefix, writes to lock files and plan folders only, of this deployment's buckets.",
      objects,
    );
    return role;
  }
}

function validate(props: ExecutorComputeOptions): void {
  const fail: (message: string) => never = (message) => invalidProps('ExecutorCompute', message);
  if (props.executorImage && props.executorImageBuild) {
    fail('executorImage is a prebuilt image: executorImageBuild (how to build one) does not apply');
  }
  if (
    props.executorImageBuild !== undefined &&
    !['codebuild', 'local-docker'].includes(props.executorImageBuild)
  ) {
    fail(
      `executorImageBuild must be 'codebuild' or 'local-docker', got "${props.executorImageBuild}"`,
    );
  }
  if (props.jobSubnets && !props.vpc)
    fail('jobSubnets needs vpc (they select subnets of that VPC)');
  if (props.assignPublicIp && !props.vpc) {
    fail(
      'assignPublicIp is for jobs in public subnets of your own vpc; the new VPC has a NAT gateway',
    );
  }
  const vcpus = props.jobVcpus ?? 1;
  const range = FARGATE_MEMORY[vcpus];
  if (!range) {
    fail(`jobVcpus must be one of ${FARGATE_VCPUS.join(', ')} (Fargate), got ${vcpus}`);
  }
  const memoryMiB = (props.jobMemory ?? Size.gibibytes(2)).toMebibytes();
  const [min, max, step] = range;
  const fits =
    vcpus === 0.25
      ? [512, 1024, 2048].includes(memoryMiB)
      : memoryMiB >= min && memoryMiB <= max && memoryMiB % step === 0;
  if (!fits) fail(`jobMemory ${memoryMiB} MiB is not valid on Fargate with ${vcpus} vCPU`);
  const maxvCpus = props.maxvCpus ?? 16;
  if (!Number.isInteger(maxvCpus) || maxvCpus < vcpus) {
    fail(`maxvCpus must be an integer of at least jobVcpus (${vcpus}), got ${maxvCpus}`);
  }
  for (const [name, roles] of Object.entries(props.environmentRoles ?? {})) {
    if (!ENVIRONMENT_NAME.safeParse(name).success) {
      fail(`environmentRoles: "${name}" is not an environment name (a-z, 0-9, _ and -)`);
    }
    for (const kind of ['planRoleArn', 'applyRoleArn'] as const) {
      const arn = roles[kind];
      if (!Token.isUnresolved(arn) && !ROLE_ARN.test(arn)) {
        fail(`environmentRoles.${name}.${kind} must be an IAM role ARN, got "${arn}"`);
      }
    }
  }
  const timeout = (props.jobTimeout ?? Duration.hours(2)).toSeconds();
  if (timeout < 60 || timeout > MAX_JOB_TIMEOUT.toSeconds()) {
    fail('jobTimeout must be between 1 minute and 4 hours (the workflows wait 4 hours at most)');
  }
}
