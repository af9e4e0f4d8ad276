// The deployable stack on emulated AWS: the CDK app synthesized once (Lambdas bundled by esbuild
// into cdk.out), its resources made on a moto server from the template (table, buckets, queues,
// secrets, state machines with their DefinitionSubstitutions resolved), and a harness HTTP server
// on loopback that does what moto cannot:
//   POST /lambda/invoke     runs a function's bundle (lambda-runner.ts) with its environment
//   POST /batch/submit      starts the executor as the job definition runs it; GET /batch/jobs/ID
//   GET|POST /approvals/..., POST /slack/actions
//                           the approval Function URL: the approval-callback bundle
//   /github/...             a fake GitHub API (the repository, compare, comments, statuses)
//   POST /slack             a fake Slack webhook
// moto_launcher.py patches moto's ASL interpreter to call the first two.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateScheduleGroupCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { buildApp } from '../../infra/bin/app.ts';
import { REPO_ROOT } from '../../toolchain/paths.ts';
import { buildExecutorBundle } from '../../toolchain/build-executor.ts';
import { IMAGE_ENTRYPOINT } from '../../executor-image/entrypoint.ts';
import { type MotoServer, startMotoServer } from '../aws/moto-server.ts';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';
export const GITHUB_REPOSITORY = 'acme/infra';
/** The repository every run of the stack is of (PrepareRun refuses any other). */
export const GITHUB_URL = `https://github.com/${GITHUB_REPOSITORY}`;
const LAUNCHER = new URL('./moto_launcher.py', import.meta.url).pathname;
const LAMBDA_RUNNER = new URL('./lambda-runner.ts', import.meta.url).pathname;
/**
 * The image's /app: its package.json and the executor bundle the Dockerfile's bundle stage
 * builds (toolchain/build-executor.ts), made once per test process. Jobs run what the image
 * runs, not the TypeScript sources.
 */
let imageApp: Promise<string> | undefined;
async function executorImageApp(): Promise<string> {
  imageApp ??= (async () => {
    const app = await mkdtemp(join(tmpdir(), 'stepform-image-app-'));
    await copyFile(join(REPO_ROOT, 'package.json'), join(app, 'package.json'));
    await buildExecutorBundle(join(app, 'lib'));
    return app;
  })();
  return imageApp;
}

interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
}
export interface Template {
  Resources: Record<string, Resource>;
  Outputs?: Record<string, { Value: unknown }>;
}

/**
 * Synthesizes the app as docs/deploy.md does (account, region, GitHub, and any more `context`,
 * as `-c key=value`), bundling every Lambda unless `bundling` is false (then the template's
 * functions name placeholder code: run it with another synth's `bundles`).
 */
export function synthesize(
  outdir: string,
  options: { context?: Record<string, unknown>; bundling?: boolean } = {},
): Template {
  const { app, stack } = buildApp({
    outdir,
    nag: false,
    context: {
      account: ACCOUNT,
      region: REGION,
      githubRepository: GITHUB_REPOSITORY,
      ...options.context,
      // CDK's own switch: the stacks whose assets are bundled (none: skip esbuild).
      ...(options.bundling === false ? { 'aws:cdk:bundling-stacks': [] } : {}),
    },
  });
  app.synth();
  return JSON.parse(
    readFileSync(join(outdir, `${stack.artifactId}.template.json`), 'utf8'),
  ) as Template;
}

export interface LambdaInvocation {
  /** The function's logical id in the template. */
  readonly logicalId: string;
  readonly event: unknown;
  readonly outcome: { result: unknown } | { errorType: string; errorMessage: string };
}

export interface BatchJob {
  readonly jobId: string;
  readonly jobName: string;
  readonly jobDefinition: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  exitCode?: number;
  output: string;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

export interface FakeIssue {
  readonly number: number;
  readonly title: string;
  body: string;
  readonly labels: readonly string[];
  state: 'open' | 'closed';
}

interface Outcome {
  result?: unknown;
  errorType?: string;
  errorMessage?: string;
}

/** Object keys with a lower-case first letter, at every depth (ASL's JobName → boto's jobName). */
function lowerFirstKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(lowerFirstKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      key.charAt(0).toLowerCase() + key.slice(1),
      lowerFirstKeys(item),
    ]),
  );
}

const sleep = async (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(response: ServerResponse, status: number, body: unknown, type = 'application/json') {
  response.writeHead(status, { 'content-type': type });
  response.end(typeof body === 'string' ? body : JSON.stringify(body));
}

/** Runs a child to its end (killed after `timeoutMs`); its output, and what it wrote on fd 3. */
async function runChild(
  child: ChildProcess,
  input: string | undefined,
  timeoutMs: number,
): Promise<{ code: number | null; output: string; answer: string }> {
  let output = '';
  let answer = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const fd3 = child.stdio[3];
  if (fd3 && 'on' in fd3) {
    fd3.on('data', (chunk: Buffer) => {
      answer += chunk.toString('utf8');
    });
  }
  if (child.stdin) child.stdin.end(input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => {
    child.once('close', (exitCode) => {
      resolve(exitCode);
    });
  });
  clearTimeout(timer);
  return { code, output, answer };
}

export class EmulatedAws {
  readonly invocations: LambdaInvocation[] = [];
  readonly jobs = new Map<string, BatchJob>();
  readonly github: RecordedRequest[] = [];
  /** The issues the fake GitHub holds (the drift issues the Notify function opens and closes). */
  readonly issues: FakeIssue[] = [];
  readonly slack: unknown[] = [];
  /**
   * Faults a scenario injects: an invoke of a function whose logical id contains a key does not
   * run its bundle but answers Lambda's Unhandled error with the value as its errorType (what
   * the function's own uncaught error of that name would give).
   */
  readonly failingFunctions = new Map<string, string>();
  /** What the harness could not answer (a 500 to moto), for a failing test's message. */
  readonly errors: string[] = [];
  /** Physical names and ARNs by logical id: what Ref and Fn::GetAtt Arn give. */
  readonly #refs = new Map<string, string>();
  readonly #arns = new Map<string, string>();
  readonly #functionsByArn = new Map<string, string>();
  readonly #jobDefinitionsByArn = new Map<string, string>();
  readonly #running = new Set<ChildProcess>();
  #harnessUrl = '';
  #moto?: MotoServer;
  #server?: ReturnType<typeof createServer>;

  readonly template: Template;
  readonly outdir: string;
  /**
   * Where each function's bundle is, by its logical id: this synth's, or another synth's of
   * the same app (the same sources bundled the same way; only the templates differ).
   */
  readonly bundles: { readonly template: Template; readonly outdir: string };
  /** The image's /app (executorImageApp), once started. */
  #imageApp = '';
  /** A scratch folder for the executor's work tree. */
  readonly scratch: string;
  /**
   * What the test changes in a state machine's definition before it is created on moto,
   * given its name (Stepform-<workflow>) and its JSON; by default nothing.
   */
  readonly editDefinition: (name: string, definition: string) => string;
  /**
   * The local git repository that stands in for https://github.com/<GITHUB_REPOSITORY>: the
   * stack runs only its own repository, and the executor's git fetches it from here.
   */
  repositoryMirror?: string;

  constructor(
    template: Template,
    outdir: string,
    scratch: string,
    options: {
      bundles?: { template: Template; outdir: string };
      editDefinition?: (name: string, definition: string) => string;
    } = {},
  ) {
    this.template = template;
    this.outdir = outdir;
    this.scratch = scratch;
    this.bundles = options.bundles ?? { template, outdir };
    this.editDefinition = options.editDefinition ?? ((_name, definition) => definition);
  }

  get moto(): MotoServer {
    if (!this.#moto) throw new Error('the emulated stack is not started');
    return this.#moto;
  }

  get harnessUrl(): string {
    return this.#harnessUrl;
  }

  /** The physical name (Ref) of a resource of the given type whose logical id contains `part`. */
  ref(type: string, part: string): string {
    const matches = Object.entries(this.template.Resources).filter(
      ([id, r]) => r.Type === type && id.includes(part),
    );
    if (matches.length !== 1) throw new Error(`${String(matches.length)} ${type} match ${part}`);
    return this.#refs.get(matches[0]![0])!;
  }

  /**
   * The stack's outputs as `cdk deploy --outputs-file` writes them (`{ Stepform: {...} }`),
   * resolved to the emulated resources: what `stepform --stack` reads.
   */
  stackOutputs(): Record<string, Record<string, string>> {
    const outputs = Object.entries(this.template.Outputs ?? {}).map(([key, output]) => [
      key,
      String(this.#resolve(output.Value)),
    ]);
    return { Stepform: Object.fromEntries(outputs) as Record<string, string> };
  }

  /** The logical id of the function whose id contains `part` (ExecutionEnded, Notify...). */
  functionId(part: string): string {
    const ids = Object.entries(this.template.Resources)
      .filter(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.includes(part))
      .map(([id]) => id);
    if (ids.length !== 1) throw new Error(`${String(ids.length)} functions match ${part}`);
    return ids[0]!;
  }

  stateMachineArn(workflow: string): string {
    return `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:Stepform-${workflow}`;
  }

  async start(): Promise<void> {
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        this.errors.push(`${request.method ?? ''} ${request.url ?? ''}: ${message}`);
        send(response, 500, { message });
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    this.#harnessUrl = `http://127.0.0.1:${String(port)}`;
    this.#moto = await startMotoServer({
      launcher: LAUNCHER,
      env: { STEPFORM_HARNESS_URL: this.#harnessUrl },
    });
    await this.#createResources();
    this.#imageApp = await executorImageApp();
  }

  async stop(): Promise<void> {
    for (const child of this.#running) child.kill('SIGKILL');
    await this.#moto?.stop();
    await new Promise<void>((resolve) => {
      if (!this.#server) resolve();
      else this.#server.close(() => resolve());
    });
  }

  /** Waits until no Lambda or job started by the harness is still running. */
  async settled(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#running.size > 0 && Date.now() < deadline) await sleep(100);
  }

  /** Every Lambda's view of AWS: moto's endpoint, dummy credentials, the region. */
  awsEnvironment(): Record<string, string> {
    return {
      AWS_REGION: REGION,
      AWS_DEFAULT_REGION: REGION,
      AWS_ENDPOINT_URL: this.moto.endpoint,
      AWS_ACCESS_KEY_ID: this.moto.clientConfig.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: this.moto.clientConfig.credentials.secretAccessKey,
    };
  }

  #resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((item) => this.#resolve(item));
    if (value === null || typeof value !== 'object') return value;
    const object = value as Record<string, unknown>;
    if ('Ref' in object) {
      const name = object.Ref as string;
      const pseudo: Record<string, string> = {
        'AWS::Partition': 'aws',
        'AWS::Region': REGION,
        'AWS::AccountId': ACCOUNT,
        'AWS::URLSuffix': 'amazonaws.com',
      };
      const resolved = pseudo[name] ?? this.#refs.get(name);
      if (resolved === undefined) throw new Error(`cannot resolve Ref ${name}`);
      return resolved;
    }
    if ('Fn::GetAtt' in object) {
      const [id, attribute] = object['Fn::GetAtt'] as [string, string];
      if (attribute === 'FunctionUrl') return `${this.#harnessUrl}/`;
      if (attribute.endsWith('Arn') || attribute === 'Arn') {
        const arn = this.#arns.get(id);
        if (arn !== undefined) return arn;
      }
      return `arn:aws:emulated:${REGION}:${ACCOUNT}:${id}/${attribute}`;
    }
    if ('Fn::Join' in object) {
      const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
      return parts.map((part) => String(this.#resolve(part))).join(separator);
    }
    if ('Fn::Sub' in object) {
      const text = object['Fn::Sub'] as string;
      return text.replace(/\$\{([^}]+)\}/g, (_, name: string) =>
        String(this.#resolve({ Ref: name })),
      );
    }
    return Object.fromEntries(
      Object.entries(object).map(([key, item]) => [key, this.#resolve(item)]),
    );
  }

  /** Names every resource first (Refs may point forward), then makes what moto can hold. */
  async #createResources(): Promise<void> {
    const resources = Object.entries(this.template.Resources);
    for (const [id, resource] of resources) {
      switch (resource.Type) {
        case 'AWS::Lambda::Function': {
          const arn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:Stepform-${id}`;
          this.#refs.set(id, `Stepform-${id}`);
          this.#arns.set(id, arn);
          this.#functionsByArn.set(arn, id);
          break;
        }
        case 'AWS::Batch::JobDefinition': {
          const arn = `arn:aws:batch:${REGION}:${ACCOUNT}:job-definition/${id}:1`;
          this.#refs.set(id, arn);
          this.#jobDefinitionsByArn.set(arn, id);
          break;
        }
        case 'AWS::Batch::JobQueue':
          this.#arns.set(id, `arn:aws:batch:${REGION}:${ACCOUNT}:job-queue/${id}`);
          break;
        case 'AWS::IAM::Role':
          this.#arns.set(id, `arn:aws:iam::${ACCOUNT}:role/${id}`);
          break;
        case 'AWS::S3::Bucket':
          this.#refs.set(id, `stepform-${id.toLowerCase()}`);
          break;
        case 'AWS::DynamoDB::Table':
          this.#refs.set(id, `Stepform-${id}`);
          break;
        case 'AWS::StepFunctions::StateMachine': {
          const name = resource.Properties!.StateMachineName as string;
          this.#refs.set(id, `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${name}`);
          break;
        }
        default:
          break;
      }
    }
    const { clientConfig } = this.moto;
    const dynamo = new DynamoDBClient(clientConfig);
    const s3 = new S3Client({ ...clientConfig, forcePathStyle: true });
    const sqs = new SQSClient(clientConfig);
    const secrets = new SecretsManagerClient(clientConfig);
    const sfn = new SFNClient(clientConfig);
    const scheduler = new SchedulerClient(clientConfig);
    try {
      for (const [id, resource] of resources) {
        const properties = resource.Properties ?? {};
        if (resource.Type === 'AWS::DynamoDB::Table') {
          await dynamo.send(
            new CreateTableCommand({
              TableName: this.#refs.get(id),
              KeySchema: properties.KeySchema as never,
              AttributeDefinitions: properties.AttributeDefinitions as never,
              ...(properties.GlobalSecondaryIndexes
                ? { GlobalSecondaryIndexes: properties.GlobalSecondaryIndexes as never }
                : {}),
              BillingMode: 'PAY_PER_REQUEST',
            }),
          );
        } else if (resource.Type === 'AWS::S3::Bucket') {
          await s3.send(new CreateBucketCommand({ Bucket: this.#refs.get(id) }));
        } else if (resource.Type === 'AWS::SecretsManager::Secret') {
          const created = await secrets.send(
            new CreateSecretCommand({ Name: id, SecretString: this.#secretValue(id) }),
          );
          this.#refs.set(id, created.ARN!);
          this.#arns.set(id, created.ARN!);
        } else if (resource.Type === 'AWS::Scheduler::ScheduleGroup') {
          // The group the Schedule function writes the TTL schedules into.
          await scheduler.send(new CreateScheduleGroupCommand({ Name: properties.Name as string }));
        }
      }
      // Queues after the dead-letter queue they name (its ARN is known once it exists).
      const queues = resources.filter(([, r]) => r.Type === 'AWS::SQS::Queue');
      const redriven = (r: Resource) => r.Properties?.RedrivePolicy !== undefined;
      for (const [id, resource] of [
        ...queues.filter(([, r]) => !redriven(r)),
        ...queues.filter(([, r]) => redriven(r)),
      ]) {
        const properties = resource.Properties ?? {};
        const name = `Stepform-${id}${properties.FifoQueue ? '.fifo' : ''}`;
        const attributes: Record<string, string> = {};
        if (properties.FifoQueue) attributes.FifoQueue = 'true';
        if (properties.ContentBasedDeduplication !== undefined)
          attributes.ContentBasedDeduplication = JSON.stringify(
            properties.ContentBasedDeduplication,
          );
        if (properties.RedrivePolicy)
          attributes.RedrivePolicy = JSON.stringify(this.#resolve(properties.RedrivePolicy));
        const created = await sqs.send(
          new CreateQueueCommand({ QueueName: name, Attributes: attributes }),
        );
        this.#refs.set(id, created.QueueUrl!);
        this.#arns.set(id, `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`);
      }
      for (const [, resource] of resources) {
        if (resource.Type !== 'AWS::StepFunctions::StateMachine') continue;
        const properties = resource.Properties!;
        // The workflows; not the executor image build's waiter (a deploy-time custom resource).
        if (properties.DefinitionS3Location === undefined) continue;
        const location = properties.DefinitionS3Location as { Key: string };
        const substitutions = this.#resolve(properties.DefinitionSubstitutions) as Record<
          string,
          string
        >;
        const definition = readFileSync(join(this.outdir, `asset.${location.Key}`), 'utf8').replace(
          /\$\{([A-Za-z0-9]+)\}/g,
          (whole, name: string) => substitutions[name] ?? whole,
        );
        const name = properties.StateMachineName as string;
        await sfn.send(
          new CreateStateMachineCommand({
            name,
            definition: this.editDefinition(name, definition),
            roleArn: this.#resolve(properties.RoleArn) as string,
          }),
        );
      }
    } finally {
      for (const client of [dynamo, s3, sqs, secrets, sfn, scheduler]) client.destroy();
    }
  }

  /** The secrets a deploy leaves to the operator, set as docs/deploy.md says: to fakes here. */
  #secretValue(id: string): string {
    // Shaped like a GitHub token: the credentials parser refuses anything else.
    if (id.includes('GitHubToken')) return 'ghp_emulated0github0token0000000000000';
    if (id.includes('SlackWebhook')) return `${this.#harnessUrl}/slack`;
    return randomBytes(32).toString('hex');
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.#harnessUrl);
    const body = await readBody(request);
    const method = request.method ?? 'GET';
    if (method === 'POST' && url.pathname === '/lambda/invoke') {
      const { functionName, payload } = JSON.parse(body) as {
        functionName: string;
        payload: string;
      };
      const logicalId = this.#functionsByArn.get(functionName);
      if (!logicalId) {
        send(response, 404, { message: `no function ${functionName}` });
        return;
      }
      const outcome = await this.invoke(logicalId, JSON.parse(payload) as unknown);
      send(
        response,
        200,
        outcome.errorType === undefined
          ? { payload: outcome.result }
          : {
              payload: { errorType: outcome.errorType, errorMessage: outcome.errorMessage },
              functionError: 'Unhandled',
            },
      );
      return;
    }
    if (method === 'POST' && url.pathname === '/batch/submit') {
      send(response, 200, this.#submitJob(JSON.parse(body) as Record<string, unknown>));
      return;
    }
    if (method === 'GET' && url.pathname.startsWith('/batch/jobs/')) {
      const job = this.jobs.get(url.pathname.slice('/batch/jobs/'.length));
      if (!job) {
        send(response, 404, { message: 'no such job' });
        return;
      }
      send(response, 200, {
        jobId: job.jobId,
        jobName: job.jobName,
        jobDefinition: job.jobDefinition,
        status: job.status,
        container: job.exitCode === undefined ? {} : { exitCode: job.exitCode },
      });
      return;
    }
    if (url.pathname.startsWith('/approvals/') || url.pathname === '/slack/actions') {
      await this.#functionUrl(request, url, body, response);
      return;
    }
    if (url.pathname.startsWith('/github/')) {
      this.#fakeGitHub(
        method,
        url.pathname.slice('/github'.length),
        url.searchParams,
        body,
        response,
      );
      return;
    }
    if (method === 'POST' && url.pathname === '/slack') {
      this.slack.push(JSON.parse(body) as unknown);
      send(response, 200, 'ok', 'text/plain');
      return;
    }
    send(response, 404, { message: `no route ${method} ${url.pathname}` });
  }

  /** Runs a function's bundle once with its environment, as Lambda would. */
  async invoke(logicalId: string, event: unknown): Promise<Outcome> {
    const fault = [...this.failingFunctions].find(([part]) => logicalId.includes(part));
    if (fault) {
      const errorMessage = `${logicalId} failed as the test asked`;
      this.invocations.push({ logicalId, event, outcome: { errorType: fault[1], errorMessage } });
      return { errorType: fault[1], errorMessage };
    }
    const properties = this.template.Resources[logicalId]!.Properties!;
    const code = this.bundles.template.Resources[logicalId]?.Properties;
    if (!code) throw new Error(`no bundle for ${logicalId}`);
    const [file, exportName] = (code.Handler as string).split('.') as [string, string];
    const key = (code.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '');
    const folder = join(this.bundles.outdir, `asset.${key}`);
    const bundle = ['.mjs', '.js', '.cjs']
      .map((extension) => join(folder, `${file}${extension}`))
      .find((path) => existsSync(path));
    if (!bundle) throw new Error(`no bundle for ${logicalId} in ${folder}`);
    const variables = this.#resolve(
      (properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
        {},
    ) as Record<string, string>;
    const child = spawn(
      process.execPath,
      [LAMBDA_RUNNER, bundle, exportName, `${this.#harnessUrl}/github/`],
      {
        stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
        env: {
          PATH: process.env.PATH ?? '',
          LANG: 'C.UTF-8',
          TZ: 'UTC',
          ...variables,
          ...this.awsEnvironment(),
          AWS_LAMBDA_FUNCTION_NAME: this.#refs.get(logicalId)!,
        },
      },
    );
    this.#running.add(child);
    const timeoutMs = ((properties.Timeout as number | undefined) ?? 3) * 1000;
    const ran = await runChild(child, JSON.stringify(event), timeoutMs + 5_000);
    this.#running.delete(child);
    let outcome: Outcome;
    try {
      outcome = JSON.parse(ran.answer) as Outcome;
    } catch {
      // No answer: the runtime reports a crash (or the timeout) the same way.
      outcome = {
        errorType: ran.code === null ? 'Sandbox.Timedout' : 'Runtime.ExitError',
        errorMessage: `exited ${String(ran.code)} without an answer: ${ran.output.slice(-2_000)}`,
      };
    }
    this.invocations.push({
      logicalId,
      event,
      outcome:
        outcome.errorType === undefined
          ? { result: outcome.result }
          : { errorType: outcome.errorType, errorMessage: outcome.errorMessage ?? '' },
    });
    return outcome;
  }

  /**
   * SubmitJob: the executor as the job definition runs it (the image's entrypoint). The
   * interpreter passes boto's parameter names (jobDefinition, containerOverrides.environment).
   */
  #submitJob(raw: Record<string, unknown>): { JobId: string; JobName: string } {
    const parameters = lowerFirstKeys(raw) as {
      jobName: string;
      jobDefinition: string;
      containerOverrides?: { environment?: { name: string; value?: string }[] };
    };
    const definitionArn = parameters.jobDefinition;
    const logicalId = this.#jobDefinitionsByArn.get(definitionArn);
    if (!logicalId) throw new Error(`no job definition ${definitionArn}`);
    const { Environment, Command } = this.template.Resources[logicalId]!.Properties!
      .ContainerProperties as { Environment?: unknown; Command?: unknown };
    const container = {
      Environment: this.#resolve(Environment ?? []) as { Name: string; Value: string }[],
      Command: this.#resolve(Command ?? []) as string[],
    };
    const environment: Record<string, string> = {};
    for (const variable of container.Environment) environment[variable.Name] = variable.Value;
    for (const variable of parameters.containerOverrides?.environment ?? [])
      environment[variable.name] = variable.value ?? '';
    const job: BatchJob = {
      jobId: randomUUID(),
      jobName: parameters.jobName,
      jobDefinition: definitionArn,
      status: 'RUNNING',
      output: '',
    };
    this.jobs.set(job.jobId, job);
    // The image's ENTRYPOINT, in its WORKDIR; a job definition's Command would be its arguments.
    const child = spawn(process.execPath, [...IMAGE_ENTRYPOINT.slice(1), ...container.Command], {
      cwd: this.#imageApp,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        LANG: 'C.UTF-8',
        ...(process.env.STEPFORM_CACHE_DIR
          ? { STEPFORM_CACHE_DIR: process.env.STEPFORM_CACHE_DIR }
          : {}),
        // What the image's ENV sets, in the scratch folder.
        STEPFORM_WORK_ROOT: join(this.scratch, 'work', job.jobId),
        ...environment,
        ...this.awsEnvironment(),
        STEPFORM_S3_FORCE_PATH_STYLE: 'true',
        // git's own configuration from the environment: the GitHub URL read from the mirror.
        ...(this.repositoryMirror
          ? {
              GIT_CONFIG_COUNT: '1',
              GIT_CONFIG_KEY_0: `url.${this.repositoryMirror}.insteadOf`,
              GIT_CONFIG_VALUE_0: GITHUB_URL,
            }
          : {}),
      },
    });
    this.#running.add(child);
    void runChild(child, undefined, 600_000).then((ran) => {
      job.output = ran.output;
      job.exitCode = ran.code ?? -1;
      job.status = ran.code === 0 ? 'SUCCEEDED' : 'FAILED';
      this.#running.delete(child);
    });
    return { JobId: job.jobId, JobName: job.jobName };
  }

  /** A Lambda Function URL: the request as a payload 2.0 event, the function's answer back. */
  async #functionUrl(
    request: IncomingMessage,
    url: URL,
    body: string,
    response: ServerResponse,
  ): Promise<void> {
    const logicalId = Object.entries(this.template.Resources).find(
      ([id, r]) => r.Type === 'AWS::Lambda::Function' && id.includes('ApprovalCallback'),
    )?.[0];
    if (!logicalId) throw new Error('the template has no approval callback function');
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([name, value]) => [
        name,
        Array.isArray(value) ? value.join(',') : (value ?? ''),
      ]),
    );
    const method = request.method ?? 'GET';
    const event = {
      version: '2.0',
      routeKey: '$default',
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      // As a Function URL forwards it: here over http, on loopback.
      headers: { ...headers, 'x-forwarded-proto': 'http' },
      queryStringParameters: Object.fromEntries(url.searchParams),
      requestContext: {
        domainName: url.host,
        http: { method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1' },
        requestId: randomUUID(),
        timeEpoch: Date.now(),
      },
      body: Buffer.from(body).toString('base64'),
      isBase64Encoded: true,
    };
    const outcome = await this.invoke(logicalId, event);
    if (outcome.errorType !== undefined) {
      send(response, 502, { message: 'Internal Server Error' });
      return;
    }
    const result = outcome.result as {
      statusCode: number;
      headers?: Record<string, string>;
      body?: string;
    };
    response.writeHead(result.statusCode, result.headers ?? {});
    response.end(result.body ?? '');
  }

  /**
   * What the functions ask of GitHub: the repository, compare (merged?), the issues (kept, so
   * that a later run finds the one an earlier run opened), and the writes.
   */
  #fakeGitHub(
    method: string,
    path: string,
    query: URLSearchParams,
    body: string,
    response: ServerResponse,
  ): void {
    this.github.push({ method, path, body });
    const repository = `/repos/${GITHUB_REPOSITORY}`;
    const issue = new RegExp(`^${repository}/issues/(\\d+)$`).exec(path);
    const shown = (i: FakeIssue) => ({
      number: i.number,
      title: i.title,
      body: i.body,
      state: i.state,
      labels: i.labels.map((name) => ({ name })),
      html_url: `https://github.com/${GITHUB_REPOSITORY}/issues/${String(i.number)}`,
    });
    if (method === 'GET' && path === `${repository}/issues`) {
      // As GitHub filters: by state (open unless asked) and by every label asked for.
      const state = query.get('state') ?? 'open';
      const labels = (query.get('labels') ?? '').split(',').filter((label) => label !== '');
      const listed = this.issues.filter(
        (i) =>
          (state === 'all' || i.state === state) &&
          labels.every((label) => i.labels.includes(label)),
      );
      send(response, 200, listed.map(shown));
    } else if (method === 'POST' && path === `${repository}/issues`) {
      const sent = JSON.parse(body) as { title: string; body?: string; labels?: string[] };
      const created: FakeIssue = {
        number: this.issues.length + 1,
        title: sent.title,
        body: sent.body ?? '',
        labels: sent.labels ?? [],
        state: 'open',
      };
      this.issues.push(created);
      send(response, 201, shown(created));
    } else if (method === 'PATCH' && issue) {
      const found = this.issues.find((i) => i.number === Number(issue[1]));
      if (!found) {
        send(response, 404, { message: 'Not Found' });
        return;
      }
      const change = JSON.parse(body) as { body?: string; state?: 'open' | 'closed' };
      if (change.body !== undefined) found.body = change.body;
      if (change.state !== undefined) found.state = change.state;
      send(response, 200, shown(found));
    } else if (method === 'GET' && path === repository) {
      send(response, 200, { full_name: GITHUB_REPOSITORY, default_branch: 'main' });
    } else if (method === 'GET' && path.startsWith(`${repository}/compare/`)) {
      // Every commit of the scratch repository is "on main".
      send(response, 200, { status: 'behind', ahead_by: 0, behind_by: 0, commits: [] });
    } else if (method === 'GET') {
      send(response, 200, []);
    } else {
      send(response, 201, { id: this.github.length, html_url: 'https://github.com/x' });
    }
  }
}
