// The executor image, built in AWS on deploy: the build context (the repository root, filtered
// as the Dockerfile needs it) goes up as an S3 asset, a CodeBuild project of the jobs'
// architecture builds executor-image/Dockerfile and pushes it to an ECR repository of the
// stack, and a custom resource starts the build and waits for it, so that the job definitions
// get the image by digest and a failed build fails the deploy with the build's log. The
// deployer's machine needs no Docker (and no QEMU for arm64 on x86).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ArnFormat, CustomResource, Duration, IgnoreMode, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { ImageBuildProperties } from '../../core/image-build.ts';
import { REPO_ROOT } from '../../toolchain/paths.ts';
import {
  type ArchitectureProps,
  type DataRemovalProps,
  type LogRetentionProps,
  invalidProps,
  newLogGroup,
} from './common-props.ts';
import { BUNDLING } from './functions.ts';
import {
  acknowledge,
  acknowledgeAtSynthesis,
  acknowledgeManagedPolicy,
  acknowledgeWildcardResources,
  acknowledgeWildcards,
} from './nag.ts';

/** The Dockerfile, relative to the build context (the repository root). */
export const EXECUTOR_DOCKERFILE = 'executor-image/Dockerfile';

/**
 * The build context is the repository root: stage only what the Dockerfile copies (Docker
 * ignore syntax: exclude all, re-include those paths, drop tests). Shared by the S3 context of
 * the CodeBuild build and the local Docker image asset.
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
  '!local',
  'local/*',
  '!local/package-build.ts',
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

/** The environment variables of the build that the buildspec reads. */
export const BUILD_VARIABLES = ['REPOSITORY_URI', 'IMAGE_TAG', 'DOCKERFILE'] as const;

/**
 * The build: log in to the stack's repository, build the Dockerfile from the context CodeBuild
 * unpacked (the S3 asset), push it under its tag. The custom resource reads the pushed digest
 * from ECR, so the buildspec exports nothing.
 */
export function executorBuildSpec(): Record<string, unknown> {
  return {
    version: '0.2',
    env: {
      shell: 'bash',
      // RUN --mount and COPY --chmod in the Dockerfile need BuildKit.
      variables: { DOCKER_BUILDKIT: '1' },
    },
    phases: {
      pre_build: {
        commands: [
          'test -f "$DOCKERFILE"',
          'docker version',
          'aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS --password-stdin "${REPOSITORY_URI%%/*}"',
        ],
      },
      build: {
        commands: [
          'docker build --progress=plain --file "$DOCKERFILE" --tag "$REPOSITORY_URI:$IMAGE_TAG" .',
          'docker push "$REPOSITORY_URI:$IMAGE_TAG"',
        ],
      },
    },
  };
}

export interface ExecutorImageBuildProps
  extends ArchitectureProps, LogRetentionProps, DataRemovalProps {
  /**
   * How many images the repository keeps (its lifecycle rule expires older ones; the job
   * definitions always use the newest build).
   * @default 10
   */
  readonly keepImages?: number;
}

export class ExecutorImageBuild extends Construct {
  readonly repository: ecr.Repository;
  readonly project: codebuild.Project;
  /** The build context, staged from the repository root (a zip in the assets bucket). */
  readonly context: Asset;
  /** Names the context, buildspec and build image: a new tag is a new build. */
  readonly imageTag: string;
  /** The custom resource whose completion is the pushed image. */
  readonly build: CustomResource;
  /** `<repository URI>@sha256:<hex>` once the build has pushed it. */
  readonly imageUri: string;
  /** The image by digest, for container definitions (grants ECR pull to their execution role). */
  readonly image: ecs.ContainerImage;

  constructor(scope: Construct, id: string, props: ExecutorImageBuildProps = {}) {
    super(scope, id);
    const keepImages = props.keepImages ?? 10;
    if (!Number.isInteger(keepImages) || keepImages < 1) {
      invalidProps(
        'ExecutorImageBuild',
        `keepImages must be a positive integer, got ${keepImages}`,
      );
    }
    const arm = (props.architecture ?? 'ARM64') === 'ARM64';
    const removalPolicy = props.dataRemovalPolicy ?? RemovalPolicy.RETAIN;

    this.context = new Asset(this, 'Context', {
      path: REPO_ROOT,
      ignoreMode: IgnoreMode.DOCKER,
      exclude: EXECUTOR_CONTEXT_EXCLUDES,
    });

    this.repository = new ecr.Repository(this, 'Repository', {
      imageScanOnPush: true,
      // A tag names one build of one context: it never moves.
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      lifecycleRules: [
        {
          description: `Keep the last ${keepImages} executor images`,
          maxImageCount: keepImages,
        },
      ],
      removalPolicy,
      emptyOnDelete: removalPolicy === RemovalPolicy.DESTROY,
    });

    const buildImage = arm
      ? codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_3_0
      : codebuild.LinuxBuildImage.AMAZON_LINUX_2023_5;
    const buildSpec = executorBuildSpec();
    const archTag = arm ? 'arm64' : 'amd64';
    this.imageTag = `${archTag}-${createHash('sha256')
      .update(JSON.stringify([this.context.assetHash, buildSpec, buildImage.imageId]))
      .digest('hex')}`;

    const buildLogs = newLogGroup(this, 'BuildLogs', props);
    this.project = new codebuild.Project(this, 'Project', {
      description: `Builds the Stepform executor image (${archTag}) from ${EXECUTOR_DOCKERFILE}`,
      source: codebuild.Source.s3({
        bucket: this.context.bucket,
        path: this.context.s3ObjectKey,
      }),
      environment: {
        buildImage,
        computeType: codebuild.ComputeType.LARGE,
        // docker build runs the Docker daemon of the build container.
        privileged: true,
      },
      environmentVariables: {
        REPOSITORY_URI: { value: this.repository.repositoryUri },
        IMAGE_TAG: { value: this.imageTag },
        DOCKERFILE: { value: EXECUTOR_DOCKERFILE },
      },
      buildSpec: codebuild.BuildSpec.fromObject(buildSpec),
      timeout: Duration.minutes(50),
      logging: { cloudWatch: { logGroup: buildLogs } },
    });
    this.repository.grantPullPush(this.project);
    acknowledge(
      this.project,
      {
        id: 'AwsSolutions-CB3',
        reason: 'docker build needs the Docker daemon of the build container (privileged mode).',
      },
      {
        id: 'AwsSolutions-CB4',
        reason:
          'The project has no artifacts (it pushes to ECR); like the rest of the stack it uses AWS managed encryption.',
      },
    );
    acknowledgeAtSynthesis(this, () => {
      acknowledgeProjectRole(this.project);
    });

    const handler = (name: string, file: string) => {
      const fn = new nodejs.NodejsFunction(this, name, {
        entry: join(REPO_ROOT, 'lambdas', 'image-build', file),
        handler: 'handler',
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: arm ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
        memorySize: 256,
        timeout: Duration.seconds(30),
        logGroup: newLogGroup(this, `${name}Logs`, props),
        projectRoot: REPO_ROOT,
        depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
        bundling: BUNDLING,
      });
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['ecr:DescribeImages'],
          resources: [this.repository.repositoryArn],
        }),
      );
      acknowledgeManagedPolicy(
        fn,
        'The AWS managed policy that lets a Lambda write its logs; nothing broader.',
        iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaBasicExecutionRole'),
      );
      return fn;
    };
    const start = handler('StartFunction', 'start.ts');
    start.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['codebuild:StartBuild'],
        resources: [this.project.projectArn],
      }),
    );
    const complete = handler('CompleteFunction', 'complete.ts');
    complete.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['codebuild:BatchGetBuilds'],
        resources: [this.project.projectArn],
      }),
    );
    buildLogs.grant(complete, 'logs:GetLogEvents');

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: start,
      isCompleteHandler: complete,
      queryInterval: Duration.seconds(30),
      // CloudFormation waits an hour at most for a custom resource.
      totalTimeout: Duration.minutes(55),
      logGroup: newLogGroup(this, 'ProviderLogs', props),
      disableWaiterStateMachineLogging: false,
      waiterStateMachineLogOptions: {
        destination: newLogGroup(this, 'WaiterLogs', props),
        level: sfn.LogLevel.ALL,
      },
    });
    acknowledgeAtSynthesis(this, () => {
      acknowledgeProvider(provider, [start, complete]);
    });

    const properties: ImageBuildProperties = {
      ProjectName: this.project.projectName,
      RepositoryName: this.repository.repositoryName,
      RepositoryUri: this.repository.repositoryUri,
      ImageTag: this.imageTag,
    };
    this.build = new CustomResource(this, 'Build', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::StepformExecutorImage',
      properties,
    });
    this.imageUri = this.build.getAttString('ImageUri');
    this.image = ecs.ContainerImage.fromEcrRepository(
      this.repository,
      `sha256:${this.build.getAttString('ImageSha256')}`,
    );
  }
}

/**
 * The wildcards of a CodeBuild project's role: the context asset's read grant, and the log
 * group and report groups CodeBuild's own defaults name after the project.
 */
function acknowledgeProjectRole(project: codebuild.Project): void {
  const stack = Stack.of(project);
  const reason =
    "CodeBuild's default grants: ecr:GetAuthorizationToken (no resource scoping), reading the context asset (s3:GetObject*/GetBucket*/List* on the assets bucket), and its default log group and report groups, named after the project.";
  acknowledgeWildcards(project, reason, [
    'Resource::*',
    'Action::s3:GetObject*',
    'Action::s3:GetBucket*',
    'Action::s3:List*',
  ]);
  acknowledgeWildcardResources(project, reason, [
    `${stack.formatArn({
      service: 'logs',
      resource: 'log-group',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      resourceName: `/aws/codebuild/${project.projectName}`,
    })}:*`,
    stack.formatArn({
      service: 'codebuild',
      resource: 'report-group',
      resourceName: `${project.projectName}-*`,
    }),
  ]);
}

/** The provider framework's own Lambdas, their roles, and its waiter state machine. */
function acknowledgeProvider(provider: cr.Provider, handlers: lambda.IFunction[]): void {
  const frameworkFunctions = ['framework-isComplete', 'framework-onTimeout'].map(
    (id) => provider.node.findChild(id) as lambda.IFunction,
  );
  acknowledgeManagedPolicy(
    provider,
    "The AWS managed policy that lets a Lambda write its logs (the provider framework's functions); nothing broader.",
    iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaBasicExecutionRole'),
  );
  acknowledgeWildcardResources(
    provider,
    'lambda:InvokeFunction on a function and its versions (the provider framework invokes the handlers, its waiter invokes the framework).',
    [...handlers, ...frameworkFunctions].map((fn) => `${fn.functionArn}:*`),
  );
  acknowledgeWildcards(
    provider,
    "The waiter state machine's log delivery: CloudWatch Logs' vended log actions support no resource scoping.",
    ['Resource::*'],
  );
  acknowledge(provider, {
    id: 'AwsSolutions-SF2',
    reason:
      "The provider framework's waiter: two Lambda tasks that poll a build; their own logs and the build's are the trace.",
  });
}
