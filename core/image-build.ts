// The executor image built on deploy: a CloudFormation custom resource (the CDK provider
// framework) starts a CodeBuild build of the image and polls it until it ends. This is the
// logic of its two handlers, over a narrow port (CodeBuild, ECR and CloudWatch Logs on AWS):
// start the build unless the repository already holds an image of this tag, then answer
// "not yet", the image's digest, or an ImageBuildFailed with the failed phase and the log's tail.
import { z } from 'zod';
import { ImageBuildFailed } from './errors.ts';
import { parseInput } from './validation.ts';

/** The build's CloudWatch log stream (BatchGetBuilds' logs.groupName and logs.streamName). */
export interface BuildLog {
  readonly groupName: string;
  readonly streamName: string;
}

/** One phase of a build, with the reasons CodeBuild gives for a failed one. */
export interface BuildPhase {
  readonly type: string;
  /** Absent while the phase runs. */
  readonly status?: string;
  readonly messages: readonly string[];
}

/** What the handlers need of a build (BatchGetBuilds' build, narrowed). */
export interface BuildReport {
  readonly id: string;
  /** SUCCEEDED, FAILED, FAULT, STOPPED, TIMED_OUT or IN_PROGRESS. */
  readonly status: string;
  readonly phases: readonly BuildPhase[];
  /** Absent until CodeBuild has created the stream (and on builds without CloudWatch logs). */
  readonly log?: BuildLog;
  /** The console link of the build's log. */
  readonly deepLink?: string;
}

/** What the handlers do on AWS, as small primitives. */
export interface ImageBuildPort {
  /** The digest (`sha256:<hex>`) of the image with this tag in the repository, if any. */
  imageDigest(repositoryName: string, tag: string): Promise<string | undefined>;
  /** Starts a build of the project as it is defined; returns the build's id. */
  startBuild(projectName: string): Promise<string>;
  build(buildId: string): Promise<BuildReport>;
  /** The last `lines` lines of the log, oldest first. */
  logTail(log: BuildLog, lines: number): Promise<string[]>;
}

/** ECR's tag syntax. */
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:([0-9a-f]{64})$/;

/** The custom resource's properties (CloudFormation passes them as strings). */
export const IMAGE_BUILD_PROPERTIES = z.object({
  ProjectName: z.string().min(1),
  RepositoryName: z.string().min(1),
  RepositoryUri: z.string().regex(/^[^\s@:]+\/[^\s@:]+$/, 'must be a repository URI'),
  /** Changes with the build context, the buildspec and the build image: a new tag rebuilds. */
  ImageTag: z.string().regex(IMAGE_TAG, 'must be an ECR image tag'),
});
export type ImageBuildProperties = z.output<typeof IMAGE_BUILD_PROPERTIES>;

const REQUEST = z.object({
  RequestType: z.enum(['Create', 'Update', 'Delete']),
  PhysicalResourceId: z.string().optional(),
  ResourceProperties: IMAGE_BUILD_PROPERTIES,
});

/** The isComplete request: the onEvent request merged with what onEvent returned. */
const COMPLETION_REQUEST = REQUEST.extend({
  PhysicalResourceId: z.string().min(1),
  Data: z.object({ BuildId: z.string().min(1).optional() }).optional(),
});

/** What onEvent returns to the provider framework. */
export interface ImageBuildStarted {
  readonly PhysicalResourceId: string;
  /** No build id: nothing to build (a delete, or the tag is already in the repository). */
  readonly Data: { readonly BuildId?: string };
}

/** The resource's attributes once the image is in the repository. */
export interface ImageBuildAttributes {
  /** `<repository URI>@sha256:<hex>`: what the job definitions run. */
  readonly ImageUri: string;
  /** `sha256:<hex>`. */
  readonly ImageDigest: string;
  /** The digest's hex part (ecs.ContainerImage.fromEcrRepository takes `sha256:` + it). */
  readonly ImageSha256: string;
  readonly ImageTag: string;
}

export type ImageBuildCompletion =
  | { readonly IsComplete: false }
  | { readonly IsComplete: true; readonly Data?: ImageBuildAttributes };

/** How many lines of the build's log a failure carries. */
export const LOG_TAIL_LINES = 30;
/**
 * A failure's message at most (CloudFormation refuses a custom resource response over 4 KiB,
 * and the provider framework adds the handler's log group and a stack trace).
 */
export const FAILURE_MESSAGE_LIMIT = 2_500;

const TERMINAL_FAILURES = new Set(['FAILED', 'FAULT', 'STOPPED', 'TIMED_OUT']);

/** A build that has not ended, one that succeeded, or why it failed. */
export type BuildOutcome =
  | { readonly kind: 'running' }
  | { readonly kind: 'succeeded' }
  | {
      readonly kind: 'failed';
      readonly status: string;
      /** The first phase that did not succeed, if CodeBuild says which. */
      readonly phase?: BuildPhase;
    };

export function buildOutcome(build: BuildReport): BuildOutcome {
  if (build.status === 'SUCCEEDED') return { kind: 'succeeded' };
  if (!TERMINAL_FAILURES.has(build.status)) return { kind: 'running' };
  const phase = build.phases.find(
    (p) => p.status !== undefined && p.status !== 'SUCCEEDED' && p.type !== 'COMPLETED',
  );
  return { kind: 'failed', status: build.status, ...(phase ? { phase } : {}) };
}

/**
 * The message `cdk deploy` shows for a failed build: its id, status and failed phase, then the
 * tail of its log (as many of the last lines as fit), then where the whole log is.
 */
export function buildFailureMessage(
  build: BuildReport,
  outcome: Extract<BuildOutcome, { kind: 'failed' }>,
  logTail: readonly string[],
): string {
  const phase = outcome.phase
    ? ` in phase ${outcome.phase.type}${outcome.phase.messages.length > 0 ? ` (${outcome.phase.messages.join('; ')})` : ''}`
    : '';
  const head = `executor image build ${build.id} ${outcome.status}${phase}`;
  const where = build.log
    ? `full log: CloudWatch Logs ${build.log.groupName} ${build.log.streamName}${build.deepLink ? ` (${build.deepLink})` : ''}`
    : 'the build wrote no CloudWatch log';
  let budget = FAILURE_MESSAGE_LIMIT - head.length - where.length - 40;
  const kept: string[] = [];
  for (const line of [...logTail].reverse()) {
    const trimmed = line.replace(/\s+$/, '').slice(0, 300);
    if (trimmed.length + 1 > budget) break;
    kept.unshift(trimmed);
    budget -= trimmed.length + 1;
  }
  const tail = kept.length > 0 ? `\nlast ${kept.length} log lines:\n${kept.join('\n')}` : '';
  return `${head}${tail}\n${where}`;
}

/** The image's attributes from its digest in the repository. */
export function imageAttributes(
  properties: ImageBuildProperties,
  digest: string,
): ImageBuildAttributes {
  const match = DIGEST.exec(digest);
  if (!match?.[1]) {
    throw new ImageBuildFailed(
      `${properties.RepositoryName}:${properties.ImageTag} has digest "${digest}", not sha256:<hex>`,
    );
  }
  return {
    ImageUri: `${properties.RepositoryUri}@${digest}`,
    ImageDigest: digest,
    ImageSha256: match[1],
    ImageTag: properties.ImageTag,
  };
}

/**
 * onEvent: on Create and Update, starts the build, unless the repository already holds an image
 * of this tag (tags are immutable and name the context, buildspec and build image: the image is
 * the same). A Delete does nothing: the images belong to the repository and its lifecycle rule.
 */
export async function startImageBuild(
  event: unknown,
  port: ImageBuildPort,
): Promise<ImageBuildStarted> {
  const request = parseInput(REQUEST, event, 'event');
  const properties = request.ResourceProperties;
  if (request.RequestType === 'Delete') {
    return { PhysicalResourceId: request.PhysicalResourceId ?? properties.ImageTag, Data: {} };
  }
  const physicalId = `${properties.RepositoryName}:${properties.ImageTag}`;
  if (await port.imageDigest(properties.RepositoryName, properties.ImageTag)) {
    return { PhysicalResourceId: physicalId, Data: {} };
  }
  const buildId = await port.startBuild(properties.ProjectName);
  return { PhysicalResourceId: physicalId, Data: { BuildId: buildId } };
}

/**
 * isComplete: not yet while the build runs; the image's digest once it succeeded (read from the
 * repository: the digest the job definitions will pull); ImageBuildFailed with the failed phase
 * and the log's tail when it failed, stopped or timed out.
 */
export async function imageBuildComplete(
  event: unknown,
  port: ImageBuildPort,
): Promise<ImageBuildCompletion> {
  const request = parseInput(COMPLETION_REQUEST, event, 'event');
  if (request.RequestType === 'Delete') return { IsComplete: true };
  const properties = request.ResourceProperties;
  const buildId = request.Data?.BuildId;
  if (buildId !== undefined) {
    const build = await port.build(buildId);
    const outcome = buildOutcome(build);
    if (outcome.kind === 'running') return { IsComplete: false };
    if (outcome.kind === 'failed') {
      const tail = build.log ? await port.logTail(build.log, LOG_TAIL_LINES) : [];
      throw new ImageBuildFailed(buildFailureMessage(build, outcome, tail));
    }
  }
  const digest = await port.imageDigest(properties.RepositoryName, properties.ImageTag);
  if (digest === undefined) {
    throw new ImageBuildFailed(
      `executor image build ${buildId ?? '(none)'} SUCCEEDED but ${properties.RepositoryUri} has no image tagged ${properties.ImageTag}`,
    );
  }
  return { IsComplete: true, Data: imageAttributes(properties, digest) };
}
