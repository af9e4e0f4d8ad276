// The executor entrypoint, as on Batch, cloning a private repository over HTTPS with real git:
// the job asks the GitHubToken function (a fake Lambda endpoint) for a token, clones with it,
// plans, and leaves the token in no file it wrote.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type GitHttpServer,
  bareRepository,
  startGitHttpServer,
} from '../support/git-http-server.ts';
import { jobFactory, runExecutor } from '../support/executor.ts';
import { RecordingServer } from '../support/recording-server.ts';
import { HELLO_EXAMPLE, makeRepo } from '../support/repo.ts';

const PROJECT = 'stacks/hello';
const TOKEN = `ghs_${'Pr1vate'.repeat(6)}`;
const BASIC = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
const FUNCTION = 'stepform-GitHubToken';
const INVOKE = `/2015-03-31/functions/${FUNCTION}/invocations`;

/** Every file under `dir` that holds the token or its Basic form. */
async function filesWithToken(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const bytes = await readFile(path);
    if (bytes.includes(TOKEN) || bytes.includes(BASIC)) found.push(path);
  }
  return found;
}

describe('the executor clones a private repository with the GitHubToken function', () => {
  let git: GitHttpServer;
  let lambda: RecordingServer;
  let commit: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    const repo = await makeRepo();
    commit = await repo.commitDir(HELLO_EXAMPLE, PROJECT, 'add hello');
    git = await startGitHttpServer(await bareRepository(repo.dir, 'acme/infra.git'), TOKEN);
    lambda = await RecordingServer.start();
    env = {
      GIT_SSL_CAINFO: git.caFile,
      STEPFORM_GITHUB_TOKEN_FUNCTION: FUNCTION,
      AWS_ENDPOINT_URL_LAMBDA: lambda.baseUrl,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIAFAKEFORTESTS0001',
      AWS_SECRET_ACCESS_KEY: 'fake-secret-access-key-for-tests',
    };
  });

  afterAll(async () => {
    await Promise.all([git.close(), lambda.close()]);
  });

  it('plans with the token, which is in no log, result or file of the job', async () => {
    lambda.route('POST', INVOKE, {
      status: 200,
      body: { kind: 'app', gitHost: '127.0.0.1', token: TOKEN },
    });
    const jobs = await jobFactory(git.url('acme/infra.git'), PROJECT);
    const job = jobs.job('plan', commit);

    const ran = await runExecutor(job, { ...env, STEPFORM_WORK_ROOT: jobs.workRoot });

    expect([ran.exitCode, ran.result?.error]).toEqual([0, undefined]);
    expect(ran.result).toMatchObject({ status: 'succeeded', hasChanges: true });
    expect(lambda.requestsTo('POST', INVOKE).map((request) => request.body)).toEqual([
      { repository: git.url('acme/infra.git') },
    ]);
    expect(git.authorizations).toContain(`Basic ${BASIC}`);
    const log = await readFile(join(job.artifactsDir, 'executor.log'), 'utf8');
    expect(log).toContain("cloning with the deployment's GitHub App installation token");
    expect(`${ran.stdout}${ran.stderr}`).not.toContain(TOKEN);
    // The artifacts (log, result, plan), the state and the work folder (removed by now).
    expect(await filesWithToken(jobs.root)).toEqual([]);
  });

  it('fails the clone with CheckoutFailed saying why, when the function fails', async () => {
    lambda.route('POST', INVOKE, {
      status: 200,
      headers: { 'x-amz-function-error': 'Unhandled' },
      body: {
        errorType: 'GitHubAuthFailed',
        errorMessage: 'the GitHub credentials in secret gh are not usable: secret: is empty',
      },
    });
    const jobs = await jobFactory(git.url('acme/infra.git'), PROJECT);

    const ran = await runExecutor(jobs.job('plan', commit), {
      ...env,
      STEPFORM_WORK_ROOT: jobs.workRoot,
    });

    expect(ran.exitCode).toBe(1);
    expect(ran.result?.error?.name).toBe('CheckoutFailed');
    expect(ran.result?.error?.message).toContain(
      'no GitHub credentials: GitHubAuthFailed: stepform-GitHubToken failed: GitHubAuthFailed: ' +
        'the GitHub credentials in secret gh are not usable: secret: is empty',
    );
  });
});
