// The executor as it runs on AWS Batch, against S3 served by moto on loopback: a plan's
// artifacts are uploaded, and an apply in a fresh container (an empty folder) downloads the
// approved plan, checks it and applies it; its result lands in S3 for CollectJobResult.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { S3ArtifactPort } from '../../adapters/aws/s3.ts';
import { jobFactory, runExecutor } from '../support/executor.ts';
import { stateKey } from '../../core/contracts/job-input.ts';
import { HELLO_EXAMPLE, REPO_ROOT, makeRepo } from '../support/repo.ts';
import { type MotoServer, startMotoServer } from './moto-server.ts';

const BUCKET = 'stepform-artifacts-test';
let moto: MotoServer;
let env: NodeJS.ProcessEnv;
let port: S3ArtifactPort;
let s3: S3Client;

beforeAll(async () => {
  moto = await startMotoServer();
  s3 = new S3Client({ ...moto.clientConfig, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  port = new S3ArtifactPort(s3, { bucket: BUCKET, keyPrefix: 'artifacts' });
  env = {
    STEPFORM_ARTIFACTS_BUCKET: BUCKET,
    STEPFORM_S3_FORCE_PATH_STYLE: 'true',
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: moto.clientConfig.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: moto.clientConfig.credentials.secretAccessKey,
  };
}, 120_000);

afterAll(async () => {
  await moto.stop();
});

describe('the executor with S3 artifacts', () => {
  it('uploads a plan, and a later apply in an empty container pulls, checks and applies it', async () => {
    const repo = await makeRepo();
    const commit = await repo.commitDir(HELLO_EXAMPLE, 'stack');
    const jobs = await jobFactory(repo.dir, 'stack');
    const planJob = jobs.job('plan', commit);
    const plan = await runExecutor(planJob, env);
    expect(plan.exitCode).toBe(0);
    const uploaded = await port.readResult(planJob.artifactsDir);
    expect(uploaded).toMatchObject({ status: 'succeeded', verb: 'plan' });
    // The plan's diff went up beside it, for the approval page and the PR comment to read.
    const diff = await port.readPlanDiff(planJob.artifactsDir);
    expect(diff?.resources.length).toBeGreaterThan(0);
    expect(diff?.resources.map((r) => r.action)).toEqual(
      uploaded?.summary?.resources.map((r) => r.action),
    );

    // A new container: nothing of the plan run is on disk.
    await rm(join(jobs.root, 'artifacts'), { recursive: true, force: true });
    const applyJob = jobs.job('apply', commit, {
      plan: { dir: planJob.artifactsDir, sha256: plan.result!.plan!.sha256 },
    });
    const apply = await runExecutor(applyJob, env);
    expect(apply.exitCode).toBe(0);
    expect(await port.readResult(applyJob.artifactsDir)).toMatchObject({
      status: 'succeeded',
      applied: true,
    });
  });

  it('refuses a plan whose upload was tampered with', async () => {
    const repo = await makeRepo();
    const commit = await repo.commitDir(HELLO_EXAMPLE, 'stack');
    const jobs = await jobFactory(repo.dir, 'stack');
    const planJob = jobs.job('plan', commit);
    const plan = await runExecutor(planJob, env);
    await port.putArtifact(planJob.artifactsDir, 'plan.tfplan', 'not the reviewed plan');
    await rm(join(jobs.root, 'artifacts'), { recursive: true, force: true });
    const applyJob = jobs.job('apply', commit, {
      plan: { dir: planJob.artifactsDir, sha256: plan.result!.plan!.sha256 },
    });
    const apply = await runExecutor(applyJob, env);
    expect(apply.exitCode).toBe(1);
    expect(await port.readResult(applyJob.artifactsDir)).toMatchObject({
      status: 'failed',
      error: { name: 'PlanDigestMismatch' },
    });
  });

  it('reports a folder it cannot create through S3, instead of dying without a result', async () => {
    // Root may write anywhere, so the folder is made impossible: its parent is a file.
    const repo = await makeRepo();
    const commit = await repo.commitDir(HELLO_EXAMPLE, 'stack');
    const jobs = await jobFactory(repo.dir, 'stack');
    const blocker = join(jobs.root, 'not-a-folder');
    await writeFile(blocker, '');
    const job = jobs.job('plan', commit, { artifactsDir: join(blocker, 'run-9', 'plan') });
    const ran = await runExecutor(job, env);
    expect(ran.exitCode).toBe(1);
    expect(ran.stderr).toContain(
      `ArtifactsUnwritable: cannot create the artifacts folder ${job.artifactsDir}`,
    );
    expect(await port.readResult(job.artifactsDir)).toMatchObject({
      runId: job.runId,
      status: 'failed',
      error: { name: 'ArtifactsUnwritable' },
    });
  });

  it('fails with PlanNotFound when the plan was never uploaded', async () => {
    const repo = await makeRepo();
    const commit = await repo.commitDir(HELLO_EXAMPLE, 'stack');
    const jobs = await jobFactory(repo.dir, 'stack');
    const applyJob = jobs.job('apply', commit, {
      plan: { dir: '/nowhere/run-0/plan', sha256: 'a'.repeat(64) },
    });
    const apply = await runExecutor(applyJob, env);
    expect(apply.exitCode).toBe(1);
    expect(await port.readResult(applyJob.artifactsDir)).toMatchObject({
      error: { name: 'PlanNotFound' },
    });
  });
});

describe('the executor with the S3 state backend', () => {
  it('keeps a named workspace’s state under its environment and project, nothing elsewhere', async () => {
    const repo = await makeRepo();
    const commit = await repo.commitDir(join(REPO_ROOT, 'test', 'golden', 'workspaces'), '.');
    const jobs = await jobFactory(repo.dir, '.');
    const backend = {
      type: 's3',
      bucket: BUCKET,
      region: 'us-east-1',
      keyPrefix: 'stepform/state',
    };
    const ran = await runExecutor(
      jobs.job('plan-apply', commit, {
        backend,
        workspace: 'dev',
        varFiles: ['variables/dev.tfvars'],
      }),
      env,
    );
    expect(ran.result?.error).toBeUndefined();
    expect(ran.result?.outputs?.workspace).toEqual({ sensitive: false, value: 'dev' });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'stepform/' }));
    // The same layout as the local backend's (core's stateKey): the IAM policy of each
    // environment's role covers it, and the default workspace's key is never written.
    expect(listed.Contents?.map((object) => object.Key)).toEqual([
      `stepform/state/${stateKey('dev', '.', 'dev')}`,
    ]);
    const root = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'terraform' }));
    expect(root.Contents ?? []).toEqual([]);
  });
});
