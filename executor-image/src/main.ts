// The executor's entrypoint: the container command on AWS Batch, and a plain child process
// of the local engine. It reads the job (--job-file FILE, --job JSON, or $STEPFORM_JOB),
// validates it before anything is created, runs it, and writes result.json beside the log.
//
// Exit codes: 0 succeeded, 1 the job failed (result.json says why), 2 bad input (nothing
// was created or run).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  ArtifactsUnwritable,
  InvalidInput,
  StepformError,
  ToolchainMissing,
  describeError,
} from '../../core/errors.ts';
import { parseInput } from '../../core/validation.ts';
import { resolveEngine } from '../../toolchain/engine.ts';
import { resolveOpa } from '../../toolchain/opa.ts';
import { pluginCacheDir, providerMirrorDir } from '../../toolchain/paths.ts';
import { readMirror } from '../../toolchain/provider-mirror.ts';
import { type ArtifactStore, pullPlan, pushArtifacts } from './artifact-sync.ts';
import { resolveCommand } from '../../core/terraform-commands.ts';
import { ABSOLUTE_PATH, JOB, type Job } from '../../core/contracts/job-input.ts';
import { JobLog } from './job-log.ts';
import { SecretMasker } from '../../core/masking.ts';
import { type JobResult, LOG_FILE, RESULT_FILE } from '../../core/contracts/job-result.ts';
import { newResult, runJob } from './run-job.ts';
import { gitAuth, requestCloneToken, wantsCloneToken } from './git-credentials.ts';
import { SETUP_COMMAND } from '../../toolchain/setup-command.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** Environment variables whose values are secrets wherever they might be echoed. */
const SECRET_ENV = [
  'GITHUB_TOKEN',
  'GH_TOKEN',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'SLACK_WEBHOOK_URL',
  'STEPFORM_APPROVAL_SIGNING_KEY',
];

const USAGE =
  'usage: executor (--job-file FILE | --job JSON)   or set STEPFORM_JOB to the job JSON';

async function readJob(argv: readonly string[], env: Env): Promise<unknown> {
  let values: { 'job-file'?: string | undefined; job?: string | undefined };
  let given: number;
  try {
    let tokens: readonly { kind: string }[];
    ({ values, tokens } = parseArgs({
      args: [...argv],
      options: { 'job-file': { type: 'string' }, job: { type: 'string' } },
      strict: true,
      tokens: true,
    }));
    given = tokens.filter((token) => token.kind === 'option').length;
  } catch (error) {
    throw new InvalidInput('arguments', `${(error as Error).message}; ${USAGE}`);
  }
  // One job, said once: with two, which one runs would depend on the order of the checks.
  if (given > 1) throw new InvalidInput('arguments', `give one job, not ${given}; ${USAGE}`);
  let text = values.job ?? env.STEPFORM_JOB;
  if (values['job-file'] !== undefined) {
    text = await readFile(values['job-file'], 'utf8').catch(() => {
      throw new InvalidInput('--job-file', `cannot read ${values['job-file'] ?? ''}`);
    });
  }
  if (text === undefined) throw new InvalidInput('job', `no job given; ${USAGE}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidInput('job', 'is not valid JSON');
  }
}

/** Parses and checks everything about the job that can be checked without side effects. */
export async function validateJob(argv: readonly string[], env: Env): Promise<Job> {
  const job = parseInput(JOB, await readJob(argv, env), 'job');
  if (job.verb === 'command') resolveCommand(job.args);
  return job;
}

/**
 * On AWS Batch ($STEPFORM_ARTIFACTS_BUCKET set) artifacts live in S3; the SDK is loaded only
 * then, so a local job does not pay for it.
 */
async function artifactStore(env: Env): Promise<ArtifactStore | undefined> {
  const bucket = env.STEPFORM_ARTIFACTS_BUCKET;
  if (!bucket) return undefined;
  const [{ S3Client }, { S3ArtifactPort }] = await Promise.all([
    import('@aws-sdk/client-s3'),
    import('../../adapters/aws/s3.ts'),
  ]);
  const client = new S3Client({
    ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
    // For S3-compatible stores (MinIO, moto) that do not serve bucket subdomains.
    ...(env.STEPFORM_S3_FORCE_PATH_STYLE === 'true' ? { forcePathStyle: true } : {}),
  });
  return new S3ArtifactPort(client, {
    bucket,
    keyPrefix: env.STEPFORM_ARTIFACTS_PREFIX ?? 'artifacts',
    ...(env.STEPFORM_ARTIFACTS_KMS_KEY_ID ? { kmsKeyId: env.STEPFORM_ARTIFACTS_KMS_KEY_ID } : {}),
  });
}

/**
 * On Batch, the clone's credentials from the GitHubToken function, masked from here on. Without
 * them the clone is tried anyway (a public repository needs none); a private one then fails
 * with CheckoutFailed saying why there were none.
 */
async function cloneCredentials(
  job: Job,
  env: Env,
  log: JobLog,
  masker: SecretMasker,
): Promise<{ gitAuth?: Readonly<Record<string, string>>; gitAuthProblem?: string }> {
  const functionName = wantsCloneToken(env, job.repository);
  if (functionName === undefined) return {};
  try {
    const grant = await requestCloneToken(env, functionName, job.repository);
    masker.add(grant.token);
    const auth = gitAuth(env, job.repository, grant);
    if (auth === undefined) {
      log.info(`no GitHub credentials for ${job.repository}: they are for ${grant.gitHost}`);
      return {};
    }
    masker.add(auth.secrets);
    log.info(
      `cloning with the deployment's GitHub ${grant.kind === 'app' ? 'App installation token' : 'token'}`,
    );
    return { gitAuth: auth.env };
  } catch (error) {
    const { name, message } = describeError(error);
    const problem = `no GitHub credentials: ${name}: ${message}`;
    log.info(`${problem}; cloning without`);
    return { gitAuthProblem: problem };
  }
}

async function writeResult(result: JobResult, masker: SecretMasker): Promise<void> {
  await writeFile(
    join(result.artifacts.dir, RESULT_FILE),
    masker.mask(`${JSON.stringify(result, null, 2)}\n`),
    { mode: 0o600 },
  );
}

/**
 * The job cannot write its own folder (a missing or foreign /artifacts in the image, a full
 * disk): nothing can run. On Batch the failed result still goes to S3, so the workflow reads
 * why instead of a lost job.
 */
async function reportUnwritableArtifacts(job: Job, error: unknown, env: Env): Promise<number> {
  const uid = process.getuid?.();
  const failure = new ArtifactsUnwritable(
    `cannot create the artifacts folder ${job.artifactsDir}${uid === undefined ? '' : ` as uid ${uid}`}: ${describeError(error).message}`,
  );
  process.stderr.write(`stepform executor: ${failure.name}: ${failure.message}\n`);
  const store = await artifactStore(env);
  if (store) {
    const result: JobResult = { ...newResult(job, new Date()), error: describeError(failure) };
    await store.putArtifact(job.artifactsDir, RESULT_FILE, `${JSON.stringify(result, null, 2)}\n`);
  }
  return 1;
}

export async function main(argv: readonly string[], env: Env): Promise<number> {
  let job: Job;
  let preparedRoot: string | undefined;
  try {
    job = await validateJob(argv, env);
    preparedRoot =
      env.STEPFORM_PREPARED_ROOT === undefined
        ? undefined
        : parseInput(ABSOLUTE_PATH, env.STEPFORM_PREPARED_ROOT, 'STEPFORM_PREPARED_ROOT');
  } catch (error) {
    const { name, message } = describeError(error);
    process.stderr.write(`stepform executor: ${name}: ${message}\n`);
    return error instanceof StepformError && error.kind === 'usage' ? 2 : 1;
  }

  try {
    await mkdir(job.artifactsDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    return reportUnwritableArtifacts(job, error, env);
  }
  const masker = new SecretMasker();
  for (const name of SECRET_ENV) masker.add(env[name]);
  const log = new JobLog(join(job.artifactsDir, LOG_FILE), masker);
  let closed = false;
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    log.info(`received ${signal}: stopping Terraform gracefully`);
    controller.abort();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    const store = await artifactStore(env);
    const resolution = await resolveEngine(env);
    const failedBeforeStart = (error: unknown): JobResult => {
      const described = describeError(error);
      log.info(`failed: ${described.name}: ${described.message}`);
      return { ...newResult(job, new Date()), error: described };
    };
    const pullError =
      store && job.verb === 'apply'
        ? await pullPlan(store, job.plan.dir).then(
            () => undefined,
            (error: unknown) => error,
          )
        : undefined;
    // OPA only for a job with policies to check: no other job needs it on the machine.
    const checksPolicies = 'policyChecks' in job && job.policyChecks !== undefined;
    const opa = checksPolicies
      ? await resolveOpa(env).then(
          (found) => found,
          (error: unknown) => ({ error }),
        )
      : undefined;
    let result: JobResult;
    if (pullError !== undefined) {
      result = failedBeforeStart(pullError);
    } else if (opa !== undefined && 'error' in opa) {
      result = failedBeforeStart(opa.error);
    } else if (!resolution.found) {
      result = failedBeforeStart(
        new ToolchainMissing(
          `no usable OpenTofu or Terraform: ${resolution.skipped.join('; ')}. Run \`${SETUP_COMMAND}\` to build the pinned OpenTofu`,
        ),
      );
    } else {
      const mirrorDir = providerMirrorDir(env);
      const pluginCache = pluginCacheDir(env);
      await mkdir(pluginCache, { recursive: true });
      const credentials = await cloneCredentials(job, env, log, masker);
      result = await runJob(job, {
        ...credentials,
        engine: resolution.engine,
        ...(opa === undefined ? {} : { opa: opa.path }),
        mirrorDir,
        mirrored: await readMirror(mirrorDir),
        pluginCacheDir: pluginCache,
        workRoot: env.STEPFORM_WORK_ROOT ?? join(tmpdir(), 'stepform-work'),
        ...(preparedRoot === undefined ? {} : { preparedRoot }),
        baseEnv: env,
        log,
        masker,
        signal: controller.signal,
      });
    }
    await writeResult(result, masker);
    if (store) {
      log.info(`uploading the artifacts of ${job.artifactsDir}`);
      log.close();
      closed = true;
      try {
        await pushArtifacts(store, job.artifactsDir);
      } catch (error) {
        // Without its result in S3 the workflow reads this job as lost (JobLost).
        process.stderr.write(
          `stepform executor: artifacts upload failed: ${describeError(error).message}\n`,
        );
        return 1;
      }
    }
    return result.status === 'succeeded' ? 0 : 1;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    if (!closed) log.close();
  }
}

if (import.meta.main) {
  // Everything the job and its Terraform create (checkout, saved plan, state, log) is its
  // owner's alone: files 0600, folders 0700.
  process.umask(0o077);
  process.exitCode = await main(process.argv.slice(2), process.env);
}
