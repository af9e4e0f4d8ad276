// The image build port on AWS (core/image-build.ts): CodeBuild starts and reports the build,
// ECR says which digest a tag names, CloudWatch Logs gives the tail of a failed build's log.
import { type CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  BatchGetBuildsCommand,
  type Build,
  type CodeBuildClient,
  StartBuildCommand,
} from '@aws-sdk/client-codebuild';
import { DescribeImagesCommand, type ECRClient } from '@aws-sdk/client-ecr';
import { ImageBuildFailed } from '../../core/errors.ts';
import type { BuildLog, BuildReport, ImageBuildPort } from '../../core/image-build.ts';
import { isAwsError } from './aws-errors.ts';

export interface ImageBuildClients {
  readonly codebuild: CodeBuildClient;
  readonly ecr: ECRClient;
  readonly logs: CloudWatchLogsClient;
}

/** BatchGetBuilds' build as the core reads it. */
export function buildReport(build: Build): BuildReport {
  const { groupName, streamName, deepLink } = build.logs ?? {};
  return {
    id: build.id ?? '',
    status: build.buildStatus ?? 'IN_PROGRESS',
    phases: (build.phases ?? []).map((phase) => ({
      type: phase.phaseType ?? 'UNKNOWN',
      ...(phase.phaseStatus ? { status: phase.phaseStatus } : {}),
      messages: (phase.contexts ?? [])
        .map((context) => [context.statusCode, context.message].filter(Boolean).join(': '))
        .filter((message) => message !== ''),
    })),
    // CodeBuild names a group and stream once it has created them ("null" never names one).
    ...(groupName && streamName && groupName !== 'null' && streamName !== 'null'
      ? { log: { groupName, streamName } }
      : {}),
    ...(deepLink ? { deepLink } : {}),
  };
}

export class AwsImageBuildPort implements ImageBuildPort {
  readonly #clients: ImageBuildClients;

  constructor(clients: ImageBuildClients) {
    this.#clients = clients;
  }

  async imageDigest(repositoryName: string, tag: string): Promise<string | undefined> {
    try {
      const { imageDetails } = await this.#clients.ecr.send(
        new DescribeImagesCommand({ repositoryName, imageIds: [{ imageTag: tag }] }),
      );
      return imageDetails?.[0]?.imageDigest;
    } catch (error) {
      if (isAwsError(error, 'ImageNotFoundException')) return undefined;
      throw error;
    }
  }

  async startBuild(projectName: string): Promise<string> {
    const { build } = await this.#clients.codebuild.send(new StartBuildCommand({ projectName }));
    if (!build?.id) throw new ImageBuildFailed(`StartBuild of ${projectName} returned no build id`);
    return build.id;
  }

  async build(buildId: string): Promise<BuildReport> {
    const { builds, buildsNotFound } = await this.#clients.codebuild.send(
      new BatchGetBuildsCommand({ ids: [buildId] }),
    );
    const build = builds?.find((b) => b.id === buildId);
    if (!build) {
      throw new ImageBuildFailed(
        `CodeBuild has no build ${buildId}${buildsNotFound?.length ? ' (not found)' : ''}`,
      );
    }
    return buildReport(build);
  }

  async logTail(log: BuildLog, lines: number): Promise<string[]> {
    try {
      const { events } = await this.#clients.logs.send(
        new GetLogEventsCommand({
          logGroupName: log.groupName,
          logStreamName: log.streamName,
          startFromHead: false,
          limit: lines,
        }),
      );
      return (events ?? [])
        .flatMap((event) => (event.message ?? '').replace(/\n$/, '').split('\n'))
        .slice(-lines);
    } catch (error) {
      // A failure must still be reported when its log cannot be read.
      if (isAwsError(error, 'ResourceNotFoundException', 'AccessDeniedException')) {
        return [`(the log could not be read: ${(error as Error).name})`];
      }
      throw error;
    }
  }
}
