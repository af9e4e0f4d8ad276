// The executor image built in AWS on deploy (executor-image-build.ts), by synthesis: the ECR
// repository, the CodeBuild project of the jobs' architecture, the custom resource that waits
// for the build, the job definitions on the image by digest; the buildspec against the
// Dockerfile and the handler; the staged build context against what the Dockerfile copies.
// And the two other ways: a local Docker build (an image asset) and a prebuilt image.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { parse } from 'yaml';
import { IMAGE_BUILD_PROPERTIES } from '../../core/image-build.ts';
import { REPO_ROOT } from '../../toolchain/paths.ts';
import { buildApp } from '../bin/app.ts';
import { EXECUTOR_DOCKERFILE, executorBuildSpec } from '../lib/executor-image-build.ts';
import { StepformPipeline, type StepformPipelineProps } from '../lib/stepform-pipeline.ts';

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

function synth(props: StepformPipelineProps = {}) {
  const outdir = mkdtempSync(join(tmpdir(), 'stepform-image-'));
  outdirs.push(outdir);
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Stepform');
  const pipeline = new StepformPipeline(stack, 'Pipeline', props);
  const template = Template.fromStack(stack);
  return { outdir, stack, pipeline, template };
}

type Resource = { Type: string; Properties: Record<string, unknown> };
const resourcesOf = (template: Template, type: string): [string, Resource][] =>
  Object.entries(template.findResources(type)) as [string, Resource][];

/** The one resource of a type: its logical ID and the resource. */
function only(template: Template, type: string): { id: string; resource: Resource } {
  const found = resourcesOf(template, type);
  expect([type, found.length]).toEqual([type, 1]);
  const [id, resource] = found[0]!;
  return { id, resource };
}

const built = synth();
const arm = built.template;
const imageBuild = built.pipeline.node.findAll().find((c) => c.node.id === 'ExecutorImage') as
  import('../lib/executor-image-build.ts').ExecutorImageBuild | undefined;

describe('the executor image built by CodeBuild (the default)', () => {
  it('has an ECR repository that scans on push, never moves a tag and keeps the last 10 images', () => {
    arm.resourceCountIs('AWS::ECR::Repository', 1);
    const { resource: repository } = only(arm, 'AWS::ECR::Repository');
    expect(repository.Properties.ImageScanningConfiguration).toEqual({ ScanOnPush: true });
    expect(repository.Properties.ImageTagMutability).toBe('IMMUTABLE');
    const policy = JSON.parse(
      (repository.Properties.LifecyclePolicy as { LifecyclePolicyText: string })
        .LifecyclePolicyText,
    ) as unknown;
    expect(policy).toEqual({
      rules: [
        {
          rulePriority: 1,
          description: 'Keep the last 10 executor images',
          selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 10 },
          action: { type: 'expire' },
        },
      ],
    });
    // Kept with the stack's data by default; emptied and deleted with dataRemovalPolicy DESTROY.
    arm.hasResource('AWS::ECR::Repository', { DeletionPolicy: 'Retain' });
    expect(repository.Properties.EmptyOnDelete).toBe(false);
    const destroyed = synth({ dataRemovalPolicy: RemovalPolicy.DESTROY }).template;
    destroyed.hasResource('AWS::ECR::Repository', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ EmptyOnDelete: true }),
    });
  });

  it('builds on an arm64 CodeBuild image, privileged, from the context asset, logging to its group', () => {
    const { resource: project } = only(arm, 'AWS::CodeBuild::Project');
    expect(project.Properties.Environment).toMatchObject({
      Type: 'ARM_CONTAINER',
      Image: 'aws/codebuild/amazonlinux-aarch64-standard:3.0',
      ComputeType: 'BUILD_GENERAL1_LARGE',
      PrivilegedMode: true,
    });
    expect(imageBuild).toBeDefined();
    const source = project.Properties.Source as { Type: string; Location: unknown };
    expect(source.Type).toBe('S3');
    expect(JSON.stringify(source.Location)).toContain(`${imageBuild!.context.assetHash}.zip`);
    expect(project.Properties.LogsConfig).toEqual({
      CloudWatchLogs: { Status: 'ENABLED', GroupName: { Ref: expect.any(String) as unknown } },
    });
    expect(imageBuild!.imageTag).toMatch(/^arm64-[0-9a-f]{64}$/);
  });

  it('builds on an x86_64 CodeBuild image for X86_64 jobs, under another tag', () => {
    const x86 = synth({ architecture: 'X86_64' });
    const { resource: project } = only(x86.template, 'AWS::CodeBuild::Project');
    expect(project.Properties.Environment).toMatchObject({
      Type: 'LINUX_CONTAINER',
      Image: 'aws/codebuild/amazonlinux-x86_64-standard:5.0',
      PrivilegedMode: true,
    });
    const { resource: build } = only(x86.template, 'Custom::StepformExecutorImage');
    expect(build.Properties.ImageTag).toMatch(/^amd64-[0-9a-f]{64}$/);
  });

  it('waits for the build in a custom resource whose properties change with the image tag', () => {
    const { id: buildId, resource: build } = only(arm, 'Custom::StepformExecutorImage');
    const { id: projectId, resource: project } = only(arm, 'AWS::CodeBuild::Project');
    const { id: repositoryId } = only(arm, 'AWS::ECR::Repository');
    const properties = Object.fromEntries(
      Object.entries(build.Properties).filter(([key]) => key !== 'ServiceToken'),
    );
    // What the handlers parse: the template gives them exactly their schema's fields.
    expect(Object.keys(properties).sort()).toEqual(
      Object.keys(IMAGE_BUILD_PROPERTIES.shape).sort(),
    );
    expect(properties.ProjectName).toEqual({ Ref: projectId });
    expect(properties.RepositoryName).toEqual({ Ref: repositoryId });
    expect(properties.ImageTag).toBe(imageBuild!.imageTag);
    const variables = (
      project.Properties.Environment as { EnvironmentVariables: { Name: string; Value: unknown }[] }
    ).EnvironmentVariables;
    expect(variables.find((v) => v.Name === 'IMAGE_TAG')?.Value).toBe(imageBuild!.imageTag);
    expect(variables.find((v) => v.Name === 'DOCKERFILE')?.Value).toBe(EXECUTOR_DOCKERFILE);
    expect(variables.find((v) => v.Name === 'REPOSITORY_URI')?.Value).toEqual(
      properties.RepositoryUri,
    );
    // The provider's waiter polls every 30 s, for less than CloudFormation's hour.
    const [[, waiter]] = resourcesOf(arm, 'AWS::StepFunctions::StateMachine').filter(
      ([, r]) => r.Properties.StateMachineName === undefined,
    ) as [[string, Resource]];
    const definition = JSON.stringify(waiter.Properties.DefinitionString);
    expect(definition).toContain('\\"IntervalSeconds\\":30');
    expect(definition).toContain('\\"MaxAttempts\\":110');
    expect(buildId).toMatch(/^PipelineExecutorImageBuild/);
  });

  it('gives both job definitions the pushed image by digest, and their execution roles ECR pull', () => {
    const { id: buildId } = only(arm, 'Custom::StepformExecutorImage');
    const { id: repositoryId } = only(arm, 'AWS::ECR::Repository');
    const definitions = resourcesOf(arm, 'AWS::Batch::JobDefinition');
    expect(definitions).toHaveLength(2);
    for (const [, definition] of definitions) {
      const image = (definition.Properties.ContainerProperties as { Image: unknown }).Image as {
        'Fn::Join': [string, unknown[]];
      };
      const parts = image['Fn::Join'][1];
      expect(parts.slice(-3)).toEqual([
        { Ref: repositoryId } as unknown,
        '@sha256:',
        { 'Fn::GetAtt': [buildId, 'ImageSha256'] },
      ]);
    }
    const pulls = resourcesOf(arm, 'AWS::IAM::Policy').filter(([, policy]) =>
      JSON.stringify(policy.Properties.PolicyDocument).includes('"ecr:BatchGetImage"'),
    );
    const pullers = pulls.map(([, policy]) => JSON.stringify(policy.Properties.Roles));
    expect(
      pullers.filter((roles) => roles.includes('PlanJobDefinitionContainerExecutionRole')),
    ).toHaveLength(1);
    expect(
      pullers.filter((roles) => roles.includes('ApplyJobDefinitionContainerExecutionRole')),
    ).toHaveLength(1);
  });

  it('stages a build context that holds the Dockerfile and everything it copies, and no tests', () => {
    const context = join(built.outdir, imageBuild!.context.assetPath);
    expect(existsSync(join(context, EXECUTOR_DOCKERFILE))).toBe(true);
    const staged = listFiles(context);
    const dockerfile = readFileSync(join(REPO_ROOT, EXECUTOR_DOCKERFILE), 'utf8');
    const sources = copySources(dockerfile);
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) {
      const pattern = new RegExp(
        `^${source.replace(/\/$/, '').replace(/\./g, '\\.').replace(/\*/g, '[^/]*')}(/|$)`,
      );
      expect([source, staged.some((file) => pattern.test(file))]).toEqual([source, true]);
    }
    expect(staged.filter((file) => file.endsWith('.test.ts'))).toEqual([]);
    expect(staged.filter((file) => file.includes('node_modules/'))).toEqual([]);
  });
});

describe('the buildspec', () => {
  const { resource: project } = only(arm, 'AWS::CodeBuild::Project');
  const spec = parse((project.Properties.Source as { BuildSpec: string }).BuildSpec) as {
    version: string;
    env: { variables: Record<string, string> };
    phases: Record<string, { commands: string[] }>;
  };

  it('is the one the construct defines, builds the Dockerfile with BuildKit and pushes the tag', () => {
    expect(spec).toEqual(executorBuildSpec());
    expect(spec.version).toBe('0.2');
    expect(spec.env.variables.DOCKER_BUILDKIT).toBe('1');
    const commands = Object.values(spec.phases).flatMap((phase) => phase.commands);
    expect(commands).toContain(
      'docker build --progress=plain --file "$DOCKERFILE" --tag "$REPOSITORY_URI:$IMAGE_TAG" .',
    );
    expect(commands).toContain('docker push "$REPOSITORY_URI:$IMAGE_TAG"');
    expect(existsSync(join(REPO_ROOT, EXECUTOR_DOCKERFILE))).toBe(true);
  });

  it('uses only variables the project, the buildspec or CodeBuild itself set', () => {
    const variables = (
      project.Properties.Environment as { EnvironmentVariables: { Name: string }[] }
    ).EnvironmentVariables.map((v) => v.Name);
    const defined = new Set([...variables, ...Object.keys(spec.env.variables), 'AWS_REGION']);
    const used = Object.values(spec.phases)
      .flatMap((phase) => phase.commands)
      .flatMap((command) => [...command.matchAll(/\$\{?([A-Z_]+)/g)].map((m) => m[1]!));
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((name) => !defined.has(name))).toEqual([]);
  });
});

describe('the other ways to get the image', () => {
  it('local-docker: an image asset built by cdk deploy, and no CodeBuild, ECR or custom resource', () => {
    const { template, outdir } = synth({ executorImageBuild: 'local-docker' });
    for (const type of [
      'AWS::CodeBuild::Project',
      'AWS::ECR::Repository',
      'Custom::StepformExecutorImage',
    ]) {
      template.resourceCountIs(type, 0);
    }
    const [, definition] = resourcesOf(template, 'AWS::Batch::JobDefinition')[0]!;
    expect(JSON.stringify(definition.Properties.ContainerProperties)).toContain('container-assets');
    const manifest = readdirSync(outdir).find((file) => file.endsWith('.assets.json'))!;
    const assets = JSON.parse(readFileSync(join(outdir, manifest), 'utf8')) as {
      dockerImages: Record<string, { source: { dockerFile: string; platform: string } }>;
    };
    expect(Object.values(assets.dockerImages).map((image) => image.source)).toEqual([
      expect.objectContaining({ dockerFile: EXECUTOR_DOCKERFILE, platform: 'linux/arm64' }),
    ]);
  });

  it('a prebuilt image: used as given, nothing built', () => {
    const { template } = synth({
      executorImage: ecs.ContainerImage.fromRegistry('public.ecr.aws/acme/executor@sha256:abc'),
    });
    template.resourceCountIs('AWS::CodeBuild::Project', 0);
    template.resourceCountIs('Custom::StepformExecutorImage', 0);
    template.hasResourceProperties('AWS::Batch::JobDefinition', {
      ContainerProperties: Match.objectLike({ Image: 'public.ecr.aws/acme/executor@sha256:abc' }),
    });
  });

  it('refuses a prebuilt image together with a way to build one', () => {
    expect(() =>
      synth({
        executorImage: ecs.ContainerImage.fromRegistry('public.ecr.aws/acme/executor:1'),
        executorImageBuild: 'codebuild',
      }),
    ).toThrow(
      'ExecutorCompute: executorImage is a prebuilt image: executorImageBuild (how to build one) does not apply',
    );
  });
});

describe('the app settings (infra/bin/app.ts)', () => {
  const appTemplate = (context: Record<string, string>) => {
    const outdir = mkdtempSync(join(tmpdir(), 'stepform-image-app-'));
    outdirs.push(outdir);
    const { stack } = buildApp({
      outdir,
      nag: false,
      context: { 'aws:cdk:bundling-stacks': [], ...context },
    });
    return Template.fromStack(stack);
  };

  it('executorImageBuild=local-docker builds no CodeBuild project', () => {
    appTemplate({ executorImageBuild: 'local-docker' }).resourceCountIs(
      'AWS::CodeBuild::Project',
      0,
    );
  });

  it("executorImage in the stack's own ECR: by digest, with a pull grant on that repository", () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const template = appTemplate({
      account: '123456789012',
      region: 'eu-west-1',
      executorImage: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/executor@${digest}`,
    });
    template.resourceCountIs('AWS::CodeBuild::Project', 0);
    template.hasResourceProperties('AWS::Batch::JobDefinition', {
      ContainerProperties: Match.objectLike({
        Image: {
          'Fn::Join': [
            '',
            ['123456789012.dkr.ecr.eu-west-1.', { Ref: 'AWS::URLSuffix' }, `/executor@${digest}`],
          ],
        },
      }),
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(['ecr:BatchGetImage']),
            Resource: {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  ':ecr:eu-west-1:123456789012:repository/executor',
                ],
              ],
            },
          }),
        ]),
      }),
    });
  });

  it('refuses an unknown executorImageBuild', () => {
    expect(() => appTemplate({ executorImageBuild: 'podman' })).toThrow(
      `ExecutorCompute: executorImageBuild must be 'codebuild' or 'local-docker', got "podman"`,
    );
  });
});

/** Every file under `dir`, relative, with `/`. */
function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split('\\').join('/'));
}

/** The context paths the Dockerfile's COPY instructions read (not those `--from` a stage). */
function copySources(dockerfile: string): string[] {
  return dockerfile
    .split('\n')
    .filter((line) => /^COPY\s/.test(line) && !line.includes('--from='))
    .flatMap((line) => {
      const operands = line
        .split(/\s+/)
        .slice(1)
        .filter((word) => !word.startsWith('--'));
      return operands.slice(0, -1);
    });
}
