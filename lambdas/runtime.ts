// What every handler shares, built once per Lambda container: the configuration, the AWS
// clients and the adapters of the core's ports, and Powertools logging, tracing and metrics.
import { BATCH_ARTIFACTS_ROOT } from '../core/contracts/job-input.ts';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { DefaultBranchCheckFailed, InvalidInput, describeError } from '../core/errors.ts';
import {
  CLONE_TOKEN_REQUEST,
  type CloneToken,
  repositoryOnHost,
} from '../core/github-credentials.ts';
import { parseInput } from '../core/validation.ts';
import type { NotifyPorts } from '../core/notify.ts';
import type { CodeHostPort, StatusPort } from '../core/ports.ts';
import { type RepositoryPin, githubRepositoryPin } from '../core/repository-pin.ts';
import type { JobSettings } from '../core/run.ts';
import { slackMessage } from '../core/slack-message.ts';
import {
  type AnnouncedApproval,
  TASK_STEPS,
  type TaskFunction,
  type TaskOutput,
  type TaskPorts,
} from '../core/task-steps.ts';
import { DynamoApprovalPort } from '../adapters/aws/dynamodb/dynamo-approvals.ts';
import { DynamoLockPort } from '../adapters/aws/dynamodb/dynamo-locks.ts';
import { DynamoRecordPort } from '../adapters/aws/dynamodb/dynamo-records.ts';
import { DynamoRunPort } from '../adapters/aws/dynamodb/dynamo-runs.ts';
import { S3ArtifactPort } from '../adapters/aws/s3.ts';
import { EventBridgeSchedulePort } from '../adapters/aws/scheduler.ts';
import { SecretsManagerSecretPort } from '../adapters/aws/secrets.ts';
import { StepFunctionsTaskCallbackPort } from '../adapters/aws/sfn.ts';
import { SqsStatusPort } from '../adapters/aws/sqs.ts';
import { SecretGitHubCredentials, type TokenScope } from '../adapters/github/app-auth.ts';
import { GitHubCodeHost, createOctokit } from '../adapters/github/code-host.ts';
import { SlackWebhookChatPort } from '../adapters/slack/webhook.ts';
import { type LambdaConfig, approvers, readConfig } from './config.ts';

export const logger = new Logger({ serviceName: 'stepform' });
export const tracer = new Tracer({ serviceName: 'stepform' });
export const metrics = new Metrics({ namespace: 'Stepform', serviceName: 'stepform' });

/**
 * Adapters for one configuration, the Task steps' ports on AWS; built lazily so a handler
 * only pays for what it uses.
 */
export class AwsRuntime implements TaskPorts {
  readonly config: LambdaConfig;
  readonly #dynamo: DynamoDBClient;

  constructor(config: LambdaConfig) {
    this.config = config;
    this.#dynamo = tracer.captureAWSv3Client(new DynamoDBClient({ region: config.AWS_REGION }));
  }

  get locks(): DynamoLockPort {
    return new DynamoLockPort(this.#dynamo, this.config.TABLE_NAME);
  }

  get records(): DynamoRecordPort {
    return new DynamoRecordPort(this.#dynamo, this.config.TABLE_NAME);
  }

  get runs(): DynamoRunPort {
    return new DynamoRunPort(this.#dynamo, this.config.TABLE_NAME);
  }

  get approvals(): DynamoApprovalPort {
    return new DynamoApprovalPort(this.#dynamo, this.config.TABLE_NAME);
  }

  #artifacts?: S3ArtifactPort;
  get artifacts(): S3ArtifactPort {
    this.#artifacts ??= new S3ArtifactPort(
      tracer.captureAWSv3Client(new S3Client({ region: this.config.AWS_REGION })),
      {
        bucket: this.config.ARTIFACTS_BUCKET,
        keyPrefix: 'artifacts',
        ...(this.config.ARTIFACTS_KMS_KEY_ID ? { kmsKeyId: this.config.ARTIFACTS_KMS_KEY_ID } : {}),
      },
    );
    return this.#artifacts;
  }

  #secrets?: SecretsManagerSecretPort;
  get secrets(): SecretsManagerSecretPort {
    this.#secrets ??= new SecretsManagerSecretPort(
      tracer.captureAWSv3Client(new SecretsManagerClient({ region: this.config.AWS_REGION })),
    );
    return this.#secrets;
  }

  get schedules(): EventBridgeSchedulePort {
    return new EventBridgeSchedulePort(
      tracer.captureAWSv3Client(new SchedulerClient({ region: this.config.AWS_REGION })),
      {
        groupName: this.config.SCHEDULE_GROUP,
        stateMachineArn: this.config.DESTROY_STATE_MACHINE_ARN,
        roleArn: this.config.SCHEDULER_ROLE_ARN,
      },
    );
  }

  get callbacks(): StepFunctionsTaskCallbackPort {
    return new StepFunctionsTaskCallbackPort(
      tracer.captureAWSv3Client(new SFNClient({ region: this.config.AWS_REGION })),
    );
  }

  /** What every executor job of this deployment gets: the S3 backend and the artifacts root. */
  get jobSettings(): JobSettings {
    return {
      backend: {
        type: 's3',
        bucket: this.config.STATE_BUCKET,
        region: this.config.AWS_REGION,
        keyPrefix: this.config.STATE_KEY_PREFIX,
      },
      artifactsRoot: BATCH_ARTIFACTS_ROOT,
    };
  }

  async signingKey(): Promise<string> {
    return this.secrets.get(this.config.SIGNING_KEY_SECRET_ID);
  }

  now(): Date {
    return new Date();
  }

  get allowAutoApprove(): boolean {
    return this.config.ALLOW_AUTO_APPROVE === 'true';
  }

  async approvalSigning(): Promise<{
    signingKey: string;
    baseUrl: string;
    approvers?: readonly string[];
  }> {
    const baseUrl = this.config.APPROVAL_URL;
    if (baseUrl === undefined)
      throw new InvalidInput('env.APPROVAL_URL', 'is required to send approval links');
    const allowed = approvers(this.config);
    return {
      signingKey: await this.signingKey(),
      baseUrl,
      ...(allowed ? { approvers: allowed } : {}),
    };
  }

  /** Step Functions waits for the callback (waitForTaskToken); this return value is not read. */
  async awaitDecision(request: AnnouncedApproval): Promise<unknown> {
    return Promise.resolve({
      approvalId: request.approval.id,
      expiresAt: request.approval.expiresAt,
    });
  }

  warn(message: string, detail: Record<string, unknown>): void {
    logger.warn(message, detail);
  }

  /**
   * A deployment runs its own repository only (GITHUB_REPOSITORY, from the stack's
   * github.repository); without one it runs none.
   */
  get repositoryPin(): RepositoryPin {
    return githubRepositoryPin(
      this.config.GITHUB_REPOSITORY,
      'the github.repository prop of StepformPipeline (STEPFORM_GITHUB_REPOSITORY or -c githubRepository for infra/bin/app.ts) and deploy again',
    );
  }

  /**
   * GitHub tells whether a plan-apply's commit is merged. Fail closed: without credentials, or
   * with some GitHub refuses, the plan-apply is refused with what to configure (never run
   * unchecked).
   */
  async defaultBranchCheck(): Promise<Pick<CodeHostPort, 'isOnDefaultBranch'>> {
    const { GITHUB_TOKEN_SECRET_ID: secretId, GITHUB_REPOSITORY: repository } = this.config;
    if (!secretId || !repository) {
      throw new DefaultBranchCheckFailed(
        'plan-apply runs only commits on the default branch, and this deployment cannot check that: ' +
          'GITHUB_TOKEN_SECRET_ID and GITHUB_REPOSITORY must be set (deploy the stack with github.repository)',
      );
    }
    const configure =
      `plan-apply needs GitHub credentials (a GitHub App or a token) that can read ${repository} ` +
      `in the secret ${secretId} (stack output GitHubTokenSecretArn; docs/deploy.md, "The secrets to set")`;
    let host: GitHubCodeHost | undefined;
    try {
      host = await this.codeHost();
    } catch (error) {
      throw new DefaultBranchCheckFailed(
        `cannot use the GitHub credentials: ${describeError(error).message}; ${configure}`,
        { cause: error },
      );
    }
    const github = host;
    if (github === undefined) throw new DefaultBranchCheckFailed(configure);
    return {
      isOnDefaultBranch: async (commit) => {
        try {
          return await github.isOnDefaultBranch(commit);
        } catch (error) {
          throw new DefaultBranchCheckFailed(`${describeError(error).message}; ${configure}`, {
            cause: error,
          });
        }
      },
    };
  }

  readonly #githubCredentials = new Map<string, SecretGitHubCredentials>();

  /**
   * The deployment's GitHub credentials (GITHUB_TOKEN_SECRET_ID: a token, or a GitHub App
   * whose installation tokens are narrowed to `scope`), kept for the container's life so that
   * an App's token is minted once an hour, not once per call.
   */
  #credentials(name: string, scope: TokenScope): SecretGitHubCredentials | undefined {
    const secretId = this.config.GITHUB_TOKEN_SECRET_ID;
    if (!secretId) return undefined;
    let credentials = this.#githubCredentials.get(name);
    if (credentials === undefined) {
      credentials = new SecretGitHubCredentials({ secrets: this.secrets, secretId, scope });
      this.#githubCredentials.set(name, credentials);
    }
    return credentials;
  }

  /** owner and name of GITHUB_REPOSITORY. */
  get #repository(): { owner: string; name: string } | undefined {
    const [owner = '', name = ''] = this.config.GITHUB_REPOSITORY?.split('/') ?? [];
    return owner && name ? { owner, name } : undefined;
  }

  /**
   * GitHub, when the stack was given a credentials secret and the repository. An App's tokens
   * reach that repository only. Credentials that are not usable (the secret unset, malformed
   * or refused) fail each call with GitHubAuthFailed: reported by the notifications, fatal to
   * the default-branch check.
   */
  async codeHost(): Promise<GitHubCodeHost | undefined> {
    const repository = this.#repository;
    if (repository === undefined) return undefined;
    const credentials = this.#credentials('codeHost', { repositories: [repository.name] });
    if (credentials === undefined) return undefined;
    const apiUrl = await credentials.resolve().then(
      (resolved) => resolved.apiUrl,
      () => undefined,
    );
    const baseUrl = apiUrl ? { baseUrl: apiUrl } : {};
    return new GitHubCodeHost({
      octokit: createOctokit({ token: credentials, ...baseUrl }),
      owner: repository.owner,
      repo: repository.name,
      // after_apply's dispatch: an App's token for the target repository, allowed to dispatch.
      octokitFor: (owner, repo) => {
        const target = this.#credentials(`dispatch:${owner}/${repo}`, {
          repositories: [repo],
          permissions: { contents: 'write' },
        });
        return createOctokit({ token: target ?? credentials, ...baseUrl });
      },
    });
  }

  /**
   * The GitHubToken function: a token an executor job clones its repository with. Only for
   * the deployment's repository (InvalidInput naming `repository` otherwise); an App's token
   * may read that repository's contents and nothing else.
   */
  async cloneToken(event: unknown): Promise<CloneToken> {
    const { repository } = parseInput(CLONE_TOKEN_REQUEST, event, 'event');
    const pinned = this.#repository;
    if (pinned === undefined) {
      throw new InvalidInput('env.GITHUB_REPOSITORY', 'is required to hand out clone tokens');
    }
    const credentials = this.#credentials('clone', {
      repositories: [pinned.name],
      permissions: { contents: 'read' },
    });
    if (credentials === undefined) {
      throw new InvalidInput('env.GITHUB_TOKEN_SECRET_ID', 'is required to hand out clone tokens');
    }
    const resolved = await credentials.resolve();
    const target = repositoryOnHost(repository, resolved.gitHost);
    const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
    if (
      target === undefined ||
      !same(target.owner, pinned.owner) ||
      !same(target.name, pinned.name)
    ) {
      throw new InvalidInput(
        'event.repository',
        `is not https://${resolved.gitHost}/${pinned.owner}/${pinned.name}, the repository of this deployment`,
      );
    }
    return {
      kind: resolved.kind,
      gitHost: resolved.gitHost,
      token: await resolved.credentials.token(),
    };
  }

  async notifyPorts(): Promise<NotifyPorts> {
    const { config } = this;
    const queue = new SqsStatusPort(
      tracer.captureAWSv3Client(new SQSClient({ region: config.AWS_REGION })),
      config.STATUS_QUEUE_URL,
    );
    // As the local notifier does: the run's item shows its latest phase (`stepform runs`).
    const { runs } = this;
    const status: StatusPort = {
      publish: async (event) => {
        await queue.publish(event);
        await runs.addRunDetails(event.runId, { phase: event.phase });
      },
    };
    const chat = config.SLACK_WEBHOOK_SECRET_ID
      ? new SlackWebhookChatPort({
          secrets: this.secrets,
          secretName: config.SLACK_WEBHOOK_SECRET_ID,
        })
      : undefined;
    const codeHost = await this.codeHost();
    return {
      status,
      artifacts: this.artifacts,
      runs: this.runs,
      chatMessage: (run, phase, detail) => slackMessage({ run, phase, ...detail }),
      // Who decided the run's approval, for the notices after it (ExecutionEnded's too).
      approvals: this.approvals,
      ...(chat ? { chat } : {}),
      ...(codeHost ? { codeHost, dispatcher: codeHost } : {}),
    };
  }
}

let runtime: AwsRuntime | undefined;

/** The runtime of this container, from its environment (read once). */
export function awsRuntime(): AwsRuntime {
  runtime ??= new AwsRuntime(readConfig(process.env));
  return runtime;
}

/**
 * Wraps a handler: request context in every log line, a subsegment, a success or failure
 * metric, and errors logged by name and message only (never the event: it may hold a token).
 * The error is rethrown unchanged, so its name reaches the state machine's Retry and Catch.
 */
export function instrument<E, R>(
  name: string,
  handler: (event: E, context: Context) => Promise<R>,
) {
  return async (event: E, context: Context): Promise<R> => {
    logger.addContext(context);
    const parent = tracer.getSegment();
    const segment = parent?.addNewSubsegment(`## ${name}`);
    if (segment) tracer.setSegment(segment);
    try {
      const result = await handler(event, context);
      metrics.addMetric(`${name}Succeeded`, MetricUnit.Count, 1);
      return result;
    } catch (error) {
      const { name: errorName, message } = describeError(error);
      logger.error(`${name} failed`, { errorName, errorMessage: message });
      metrics.addMetric(`${name}Failed`, MetricUnit.Count, 1);
      throw error;
    } finally {
      metrics.publishStoredMetrics();
      segment?.close();
      if (parent) tracer.setSegment(parent);
    }
  };
}

/** The Lambda of a Task state: its step from the table (core/task-steps.ts) over the AWS ports. */
export function taskHandler<N extends TaskFunction>(name: N) {
  // Typed per name, so that each handler returns its own step's output.
  const steps: { [F in TaskFunction]: (event: unknown, ports: TaskPorts) => TaskOutput<F> } =
    TASK_STEPS;
  return instrument(name, async (event: unknown) => steps[name](event, awsRuntime()));
}
