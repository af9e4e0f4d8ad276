// The Stepform CDK app: one stack with the StepformPipeline construct. Synthesizes offline
// (`npm run synth` writes infra/cdk.out); deploy with the aws-cdk CLI (docs/deploy.md):
//   npx aws-cdk@2 deploy --app infra/cdk.out
// Settings come from context (-c key=value, or cdk.json) or the environment:
//   account / region      CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION (unset: an environment-agnostic stack)
//   stackName             STEPFORM_STACK_NAME, default "Stepform"
//   githubRepository      STEPFORM_GITHUB_REPOSITORY (owner/name; unset: no GitHub roles)
//   githubDefaultBranch   STEPFORM_GITHUB_DEFAULT_BRANCH, default "main"
//   githubOidcProviderArn STEPFORM_GITHUB_OIDC_PROVIDER_ARN (an existing provider)
//   spotForPlans          STEPFORM_SPOT_FOR_PLANS=true
//   approvers             STEPFORM_APPROVERS (comma-separated Slack user ids or usernames;
//                         needs slackInteractivity)
//   slackInteractivity    STEPFORM_SLACK_INTERACTIVITY=true
//   executorImageBuild    STEPFORM_EXECUTOR_IMAGE_BUILD: codebuild (default: built in AWS on
//                         deploy) or local-docker (built by Docker on this machine)
//   executorImage         STEPFORM_EXECUTOR_IMAGE: a prebuilt image (registry/name@sha256:...
//                         or :tag) instead of either; an ECR image of this account and region
//                         gets the jobs a pull grant
import { rmSync } from 'node:fs';
import { App, CfnOutput, Stack, Validations } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import nag from 'cdk-nag';
import { WORKFLOWS } from '../../state-machines/workflows.ts';
import type { ExecutorImageBuildMode } from '../lib/executor-compute.ts';
import { StepformPipeline, type StepformPipelineProps } from '../lib/stepform-pipeline.ts';
import { pascalCase } from '../lib/workflows.ts';

export const DEFAULT_OUTDIR = new URL('../cdk.out', import.meta.url).pathname;

function setting(app: App, key: string, envName: string): string | undefined {
  const fromContext: unknown = app.node.tryGetContext(key);
  if (typeof fromContext === 'string' && fromContext !== '') return fromContext;
  if (typeof fromContext === 'boolean') return String(fromContext);
  const fromEnv = process.env[envName];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

const ECR_IMAGE =
  /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([^@:]+)(?:@(sha256:[0-9a-f]{64})|:([\w][\w.-]{0,127}))?$/;

/**
 * A prebuilt executor image by URI: an ECR repository of this stack's account and region by
 * digest or tag (the job definitions get pull access to it), anything else as a registry image.
 */
function prebuiltImage(stack: Stack, uri: string): ecs.ContainerImage {
  const [, account, region, name, digest, tag] = ECR_IMAGE.exec(uri) ?? [];
  if (name && account === stack.account && region === stack.region) {
    const repository = ecr.Repository.fromRepositoryName(stack, 'ExecutorImageRepository', name);
    return ecs.ContainerImage.fromEcrRepository(repository, digest ?? tag ?? 'latest');
  }
  return ecs.ContainerImage.fromRegistry(uri);
}

/**
 * The app with its stack; `nag` adds cdk-nag's AwsSolutions checks as a validation plugin;
 * `context` is read before the environment variables, as `-c key=value` would be.
 */
export function buildApp(
  options: { outdir?: string; nag?: boolean; context?: Record<string, unknown> } = {},
): {
  app: App;
  stack: Stack;
  pipeline: StepformPipeline;
} {
  const app = new App({
    outdir: options.outdir ?? DEFAULT_OUTDIR,
    ...(options.context ? { context: options.context } : {}),
  });
  const account = setting(app, 'account', 'CDK_DEFAULT_ACCOUNT');
  const region = setting(app, 'region', 'CDK_DEFAULT_REGION');
  const stack = new Stack(app, setting(app, 'stackName', 'STEPFORM_STACK_NAME') ?? 'Stepform', {
    description: 'Stepform: GitOps pipeline for Terraform/OpenTofu on Step Functions and Batch',
    ...(account || region ? { env: { account, region } } : {}),
  });
  const repository = setting(app, 'githubRepository', 'STEPFORM_GITHUB_REPOSITORY');
  const defaultBranch = setting(app, 'githubDefaultBranch', 'STEPFORM_GITHUB_DEFAULT_BRANCH');
  const providerArn = setting(app, 'githubOidcProviderArn', 'STEPFORM_GITHUB_OIDC_PROVIDER_ARN');
  const approvers = setting(app, 'approvers', 'STEPFORM_APPROVERS');
  const imageBuild = setting(app, 'executorImageBuild', 'STEPFORM_EXECUTOR_IMAGE_BUILD');
  const prebuilt = setting(app, 'executorImage', 'STEPFORM_EXECUTOR_IMAGE');
  const props: StepformPipelineProps = {
    spotForPlans: setting(app, 'spotForPlans', 'STEPFORM_SPOT_FOR_PLANS') === 'true',
    slackInteractivity:
      setting(app, 'slackInteractivity', 'STEPFORM_SLACK_INTERACTIVITY') === 'true',
    ...(repository
      ? {
          github: {
            repository,
            ...(defaultBranch ? { defaultBranch } : {}),
            ...(providerArn ? { existingProviderArn: providerArn } : {}),
          },
        }
      : {}),
    ...(approvers ? { approvers: approvers.split(',').map((name) => name.trim()) } : {}),
    // ExecutorCompute refuses a value other than its two modes, and both settings at once.
    ...(imageBuild ? { executorImageBuild: imageBuild as ExecutorImageBuildMode } : {}),
    ...(prebuilt ? { executorImage: prebuiltImage(stack, prebuilt) } : {}),
  };
  const pipeline = new StepformPipeline(stack, 'Pipeline', props);
  // What docs/deploy.md asks for after the first deploy.
  const output = (id: string, value: string, description: string) =>
    new CfnOutput(stack, id, { value, description });
  output('ApprovalUrl', pipeline.approvalUrl.url, 'The approval endpoint (signed links)');
  // The name predates the GitHub App; kept for the scripts that read it.
  output(
    'GitHubTokenSecretArn',
    pipeline.githubTokenSecret.secretArn,
    'Set: GitHub App credentials (JSON: appId, installationId, privateKey) or a GitHub token',
  );
  output('SlackWebhookSecretArn', pipeline.slackWebhookSecret.secretArn, 'Set: Slack webhook URL');
  if (pipeline.slackSigningSecret) {
    output(
      'SlackSigningSecretArn',
      pipeline.slackSigningSecret.secretArn,
      "Set: the Slack app's signing secret",
    );
  }
  output('StatusQueueUrl', pipeline.statusQueue.queueUrl, 'Status events (FIFO)');
  for (const workflow of WORKFLOWS) {
    const arn = pipeline.stateMachines[workflow].stateMachineArn;
    output(`${pascalCase(workflow)}StateMachineArn`, arn, `The ${workflow} workflow`);
  }
  // What `stepform --stack OUTPUTS.json` reads (the region is in the ARNs).
  output('TableName', pipeline.table.tableName, 'The state table (locks, runs, approvals)');
  output(
    'ArtifactsBucketName',
    pipeline.artifactsBucket.bucketName,
    'Executor artifacts (plans, logs) under artifacts/',
  );
  output(
    'ScheduleGroupName',
    pipeline.scheduleGroup.scheduleGroupName,
    "The TTL schedules' group (read by stepform serve --stack)",
  );
  output(
    'DriftScheduleGroupName',
    pipeline.driftScheduleGroup.scheduleGroupName,
    "The drift schedules' group (written by stepform drift --stack --schedule)",
  );
  output(
    'DriftSchedulerRoleArn',
    pipeline.driftSchedulerRole.roleArn,
    'The role the drift schedules start the drift workflow as',
  );
  if (repository)
    output('GitHubRepository', repository, 'The repository this stack runs (owner/name)');
  for (const [name, role] of Object.entries(pipeline.githubRoles)) {
    const id = name.charAt(0).toUpperCase() + name.slice(1);
    output(`GitHub${id}RoleArn`, role.roleArn, `Role for GitHub Actions (${name})`);
  }
  if (options.nag ?? true) Validations.of(app).addPlugins(new nag.AwsSolutionsChecks(app));
  return { app, stack, pipeline };
}

if (import.meta.url === new URL(process.argv[1] ?? '', 'file:').href) {
  const started = Date.now();
  // A fresh assembly: stale assets of earlier synths would be uploaded by a deploy too.
  rmSync(DEFAULT_OUTDIR, { recursive: true, force: true });
  const { app } = buildApp();
  const assembly = app.synth();
  // The CDK CLI prints the warnings of an assembly; a plain `node` run prints them here.
  for (const stack of assembly.stacks) {
    for (const message of stack.messages.filter((m) => m.entry.type === 'aws:cdk:warning')) {
      const { data } = message.entry;
      console.warn(
        `[Warning at ${message.id}] ${typeof data === 'string' ? data : JSON.stringify(data)}`,
      );
    }
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `synthesized ${assembly.stacks.map((s) => s.stackName).join(', ')} into ${assembly.directory} in ${seconds}s`,
  );
}
