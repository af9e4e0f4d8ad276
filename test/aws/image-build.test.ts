// The executor image build's custom resource handlers (core/image-build.ts over
// adapters/aws/image-build.ts) against CodeBuild, ECR and CloudWatch Logs served by moto on
// loopback. moto's CodeBuild starts builds and reports every build SUCCEEDED at once, without
// running the buildspec (nothing is pushed) and without a log stream; its builds never fail.
// So the pushed image is put into moto's ECR by the test, and a failed build is a recorded
// BatchGetBuilds response (SDK-shaped, as CodeBuild answers for a failed docker build) given to
// the real adapter through aws-sdk-client-mock, with its log in moto's CloudWatch Logs.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  BatchGetBuildsCommand,
  type Build,
  CodeBuildClient,
  CreateProjectCommand,
  ListBuildsForProjectCommand,
} from '@aws-sdk/client-codebuild';
import { CreateRepositoryCommand, ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { ImageBuildFailed, InvalidInput } from '../../core/errors.ts';
import {
  FAILURE_MESSAGE_LIMIT,
  type ImageBuildProperties,
  imageBuildComplete,
  startImageBuild,
} from '../../core/image-build.ts';
import { AwsImageBuildPort } from '../../adapters/aws/image-build.ts';
import { type MotoServer, startMotoServer } from './moto-server.ts';

const PROJECT = 'stepform-executor-image';
const REPOSITORY = 'stepform-executor';
const LOG_GROUP = '/stepform/image-build';
let moto: MotoServer;
let clients: { codebuild: CodeBuildClient; ecr: ECRClient; logs: CloudWatchLogsClient };
let port: AwsImageBuildPort;
let repositoryUri: string;

beforeAll(async () => {
  moto = await startMotoServer();
  clients = {
    codebuild: new CodeBuildClient(moto.clientConfig),
    ecr: new ECRClient(moto.clientConfig),
    logs: new CloudWatchLogsClient(moto.clientConfig),
  };
  const created = await clients.ecr.send(
    new CreateRepositoryCommand({
      repositoryName: REPOSITORY,
      imageTagMutability: 'IMMUTABLE',
      imageScanningConfiguration: { scanOnPush: true },
    }),
  );
  repositoryUri = created.repository!.repositoryUri!;
  await clients.codebuild.send(
    new CreateProjectCommand({
      name: PROJECT,
      source: { type: 'S3', location: 'cdk-assets/context.zip' },
      artifacts: { type: 'NO_ARTIFACTS' },
      environment: {
        type: 'ARM_CONTAINER',
        image: 'aws/codebuild/amazonlinux-aarch64-standard:3.0',
        computeType: 'BUILD_GENERAL1_LARGE',
        privilegedMode: true,
      },
      serviceRole: 'arn:aws:iam::123456789012:role/stepform-image-build',
    }),
  );
  await clients.logs.send(new CreateLogGroupCommand({ logGroupName: LOG_GROUP }));
  port = new AwsImageBuildPort(clients);
}, 120_000);

afterAll(async () => {
  for (const client of Object.values(clients)) client.destroy();
  await moto.stop();
});

const properties = (tag: string): ImageBuildProperties => ({
  ProjectName: PROJECT,
  RepositoryName: REPOSITORY,
  RepositoryUri: repositoryUri,
  ImageTag: tag,
});

/** A request as the provider framework passes it (its ResponseURL and ids included). */
const request = (requestType: 'Create' | 'Update' | 'Delete', tag: string, extra = {}) => ({
  RequestType: requestType,
  ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:framework-onEvent',
  ResponseURL: '...',
  StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/Stepform/1',
  RequestId: 'request-1',
  LogicalResourceId: 'PipelineExecutorImageBuild011129EF',
  ResourceType: 'Custom::StepformExecutorImage',
  ResourceProperties: { ServiceToken: 'token', ...properties(tag) },
  ...extra,
});

/** Pushes an image manifest under `tag` (what the build's `docker push` does); its digest. */
async function pushImage(tag: string): Promise<string> {
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: {
      mediaType: 'application/vnd.docker.container.image.v1+json',
      size: 7023,
      digest: `sha256:${createHash('sha256').update(tag).digest('hex')}`,
    },
    layers: [],
  });
  const { image } = await clients.ecr.send(
    new PutImageCommand({ repositoryName: REPOSITORY, imageManifest: manifest, imageTag: tag }),
  );
  return image!.imageId!.imageDigest!;
}

async function buildsOfProject(): Promise<string[]> {
  const { ids } = await clients.codebuild.send(
    new ListBuildsForProjectCommand({ projectName: PROJECT }),
  );
  return ids ?? [];
}

describe('the image build custom resource on moto', () => {
  it('starts a build on Create, waits for it, and answers the digest ECR has for the tag', async () => {
    const tag = 'arm64-aaaa';
    const started = await startImageBuild(request('Create', tag), port);
    expect(started.PhysicalResourceId).toBe(`${REPOSITORY}:${tag}`);
    const buildId = started.Data.BuildId!;
    expect(buildId).toMatch(new RegExp(`^${PROJECT}:`));
    expect(await buildsOfProject()).toContain(buildId);

    const completion = { ...request('Create', tag), ...started };
    // moto reports the build SUCCEEDED without running it: nothing was pushed yet.
    await expect(imageBuildComplete(completion, port)).rejects.toThrow(
      new ImageBuildFailed(
        `executor image build ${buildId} SUCCEEDED but ${repositoryUri} has no image tagged ${tag}`,
      ),
    );

    const digest = await pushImage(tag);
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await imageBuildComplete(completion, port)).toEqual({
      IsComplete: true,
      Data: {
        ImageUri: `${repositoryUri}@${digest}`,
        ImageDigest: digest,
        ImageSha256: digest.slice('sha256:'.length),
        ImageTag: tag,
      },
    });
  });

  it('starts no build when the repository already holds the tag (an Update back to a built context)', async () => {
    const tag = 'arm64-bbbb';
    const digest = await pushImage(tag);
    const before = await buildsOfProject();
    const started = await startImageBuild(
      request('Update', tag, { PhysicalResourceId: `${REPOSITORY}:arm64-aaaa` }),
      port,
    );
    expect(started).toEqual({ PhysicalResourceId: `${REPOSITORY}:${tag}`, Data: {} });
    expect(await buildsOfProject()).toEqual(before);
    const completed = await imageBuildComplete({ ...request('Update', tag), ...started }, port);
    expect(completed).toEqual({
      IsComplete: true,
      Data: expect.objectContaining({ ImageUri: `${repositoryUri}@${digest}` }) as unknown,
    });
  });

  it('does nothing on Delete: the images stay in the repository for its lifecycle rule', async () => {
    const before = await buildsOfProject();
    const deleted = await startImageBuild(
      request('Delete', 'arm64-aaaa', { PhysicalResourceId: `${REPOSITORY}:arm64-aaaa` }),
      port,
    );
    expect(deleted).toEqual({ PhysicalResourceId: `${REPOSITORY}:arm64-aaaa`, Data: {} });
    expect(
      await imageBuildComplete({ ...request('Delete', 'arm64-aaaa'), ...deleted }, port),
    ).toEqual({ IsComplete: true });
    expect(await buildsOfProject()).toEqual(before);
  });

  it('names the bad property of a request', async () => {
    await expect(startImageBuild(request('Create', 'not a tag!'), port)).rejects.toThrow(
      new InvalidInput('event.ResourceProperties.ImageTag', 'must be an ECR image tag'),
    );
  });

  it("reads the last lines of a build's log from CloudWatch Logs", async () => {
    const stream = `${PROJECT}/tail`;
    await clients.logs.send(
      new CreateLogStreamCommand({ logGroupName: LOG_GROUP, logStreamName: stream }),
    );
    const start = Date.now();
    await clients.logs.send(
      new PutLogEventsCommand({
        logGroupName: LOG_GROUP,
        logStreamName: stream,
        logEvents: Array.from({ length: 45 }, (_, i) => ({
          timestamp: start + i,
          message: `line ${i + 1}\n`,
        })),
      }),
    );
    const tail = await port.logTail({ groupName: LOG_GROUP, streamName: stream }, 30);
    expect(tail).toEqual(Array.from({ length: 30 }, (_, i) => `line ${i + 16}`));
  });
});

/**
 * A failed build as BatchGetBuilds returns it (the shape of the SDK's Build; ids, times and
 * the failing command as CodeBuild reports a docker build that exits 1 in the BUILD phase).
 */
function failedBuild(id: string, streamName: string): Build {
  const time = new Date('2026-12-02T10:00:00Z');
  const phase = (phaseType: string, phaseStatus?: string, message?: string) => ({
    phaseType: phaseType as never,
    ...(phaseStatus ? { phaseStatus: phaseStatus as never } : {}),
    startTime: time,
    ...(message ? { contexts: [{ statusCode: 'COMMAND_EXECUTION_ERROR', message }] } : {}),
  });
  return {
    id,
    arn: `arn:aws:codebuild:us-east-1:123456789012:build/${id}`,
    buildNumber: 7,
    startTime: time,
    endTime: time,
    currentPhase: 'COMPLETED',
    buildStatus: 'FAILED',
    projectName: PROJECT,
    phases: [
      phase('SUBMITTED', 'SUCCEEDED'),
      phase('QUEUED', 'SUCCEEDED'),
      phase('PROVISIONING', 'SUCCEEDED'),
      phase('DOWNLOAD_SOURCE', 'SUCCEEDED'),
      phase('INSTALL', 'SUCCEEDED'),
      phase('PRE_BUILD', 'SUCCEEDED'),
      phase(
        'BUILD',
        'FAILED',
        'Error while executing command: docker build --progress=plain --file "$DOCKERFILE" --tag "$REPOSITORY_URI:$IMAGE_TAG" .. Reason: exit status 1',
      ),
      phase('POST_BUILD', 'SUCCEEDED'),
      phase('FINALIZING', 'SUCCEEDED'),
      phase('COMPLETED'),
    ],
    logs: {
      groupName: LOG_GROUP,
      streamName,
      deepLink: `https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEvent:group=${LOG_GROUP};stream=${streamName}`,
    },
  };
}

describe('a failed build (a recorded BatchGetBuilds response; its log in moto)', () => {
  it("fails with the failed phase, CodeBuild's reason and the tail of the build's log", async () => {
    const id = `${PROJECT}:0b7c8d4e-failed`;
    const stream = '0b7c8d4e-failed';
    await clients.logs.send(
      new CreateLogStreamCommand({ logGroupName: LOG_GROUP, logStreamName: stream }),
    );
    const start = Date.now();
    const lines = [
      ...Array.from({ length: 40 }, (_, i) => `#12 ${i}.0 compiling package ${i}`),
      '#12 41.2 go: github.com/opentofu/opentofu@v1.12.6: verifying module: checksum mismatch',
      'ERROR: failed to solve: process "/bin/sh -c go build" did not complete successfully: exit code: 1',
      '[Container] 2026/12/02 10:04:00 Command did not exit successfully docker build exit status 1',
    ];
    await clients.logs.send(
      new PutLogEventsCommand({
        logGroupName: LOG_GROUP,
        logStreamName: stream,
        logEvents: lines.map((message, i) => ({ timestamp: start + i, message: `${message}\n` })),
      }),
    );
    const recorded = mockClient(CodeBuildClient);
    try {
      recorded.on(BatchGetBuildsCommand, { ids: [id] }).resolves({
        builds: [failedBuild(id, stream)],
        buildsNotFound: [],
      });
      const codebuild = new CodeBuildClient({ region: 'us-east-1' });
      const failing = new AwsImageBuildPort({ ...clients, codebuild });
      const completion = {
        ...request('Create', 'arm64-cccc'),
        PhysicalResourceId: `${REPOSITORY}:arm64-cccc`,
        Data: { BuildId: id },
      };
      const error = await imageBuildComplete(completion, failing).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(ImageBuildFailed);
      const message = (error as Error).message;
      expect(message.split('\n')[0]).toBe(
        `executor image build ${id} FAILED in phase BUILD (COMMAND_EXECUTION_ERROR: Error while executing command: docker build --progress=plain --file "$DOCKERFILE" --tag "$REPOSITORY_URI:$IMAGE_TAG" .. Reason: exit status 1)`,
      );
      expect(message).toContain(`\nlast 30 log lines:\n${lines.slice(-30).join('\n')}\n`);
      expect(message.split('\n').at(-1)).toBe(
        `full log: CloudWatch Logs ${LOG_GROUP} ${stream} (https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEvent:group=${LOG_GROUP};stream=${stream})`,
      );
      expect(message.length).toBeLessThanOrEqual(FAILURE_MESSAGE_LIMIT);
      expect(recorded.commandCalls(BatchGetBuildsCommand)).toHaveLength(1);
    } finally {
      recorded.restore();
    }
  });
});
