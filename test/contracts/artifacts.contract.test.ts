// The ArtifactPort contract, on both sides: a job's artifacts folder locally and S3 on AWS (on
// moto). What a job wrote there (its result.json and the plan diff beside its plan) comes back
// parsed; a folder without it gives undefined; a file that is not what it claims is a named
// error, never read half-way.
import { describe, expect, it } from '@jest/globals';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3ArtifactPort } from '../../adapters/aws/s3.ts';
import { PLAN_DIFF_FILE, RESULT_FILE } from '../../core/contracts/job-result.ts';
import { JobLost } from '../../core/errors.ts';
import { planDiff } from '../../core/plan-diff.ts';
import type { ArtifactPort } from '../../core/ports.ts';
import { readPlanDiff, readResult } from '../../local/executor-process.ts';
import { REPO_ROOT } from '../../toolchain/paths.ts';
import { jobResult } from '../support/run-fixtures.ts';
import { contractBackends, uniqueName } from './backends.ts';

const backends = contractBackends();

interface ArtifactsUnderTest {
  readonly artifacts: ArtifactPort;
  /** A new job folder of the store: a location, as a job's `artifactsDir` names it. */
  readonly folder: () => Promise<string>;
  /** Writes one file into a job folder as the executor (or its upload) does. */
  readonly write: (location: string, name: string, text: string) => Promise<void>;
}

const SUBJECTS: [string, () => Promise<ArtifactsUnderTest>][] = [
  [
    'local artifacts folder',
    async () => {
      const root = await mkdtemp(join(tmpdir(), 'stepform-artifacts-'));
      return {
        artifacts: { readResult, readPlanDiff },
        folder: async () => {
          const dir = join(root, uniqueName('run'), 'plan');
          await mkdir(dir, { recursive: true });
          return dir;
        },
        write: async (location, name, text) => writeFile(join(location, name), text),
      };
    },
  ],
  [
    'S3 (moto)',
    async () => {
      const s3 = new S3Client({ ...backends.moto().clientConfig, forcePathStyle: true });
      const bucket = uniqueName('stepform-artifacts');
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      // As the Lambdas see it: absolute locations under the deployment's key prefix.
      const port = new S3ArtifactPort(s3, { bucket, keyPrefix: 'artifacts' });
      return {
        artifacts: port,
        folder: async () => Promise.resolve(`/${uniqueName('run')}/plan`),
        write: async (location, name, text) => {
          await port.putArtifact(location, name, text);
        },
      };
    },
  ],
];

/** A real plan's diff: Terraform 1.11.4's `show -json` of the nested update fixture. */
async function realDiff() {
  const json = await readFile(
    join(REPO_ROOT, 'test', 'fixtures', 'plans', 'update-nested', 'plan.json'),
    'utf8',
  );
  return planDiff(JSON.parse(json));
}

describe.each(SUBJECTS)('ArtifactPort contract: %s', (_name, open) => {
  it('reads back the plan diff a job left beside its plan', async () => {
    const store = await open();
    const location = await store.folder();
    const diff = await realDiff();
    expect(diff.resources.length).toBeGreaterThan(0);
    await store.write(location, PLAN_DIFF_FILE, JSON.stringify(diff));
    expect(await store.artifacts.readPlanDiff(location)).toEqual(diff);
  });

  it('gives undefined for a folder without a plan diff or a result', async () => {
    const store = await open();
    const location = await store.folder();
    expect(await store.artifacts.readPlanDiff(location)).toBeUndefined();
    expect(await store.artifacts.readResult(location)).toBeUndefined();
  });

  it('refuses a plan diff that is not the model, naming the file and the field', async () => {
    const store = await open();
    const location = await store.folder();
    await store.write(location, PLAN_DIFF_FILE, JSON.stringify({ resources: 'all', outputs: [] }));
    await expect(store.artifacts.readPlanDiff(location)).rejects.toMatchObject({
      name: 'InvalidInput',
      message: expect.stringMatching(/plan-diff\.json\.resources/),
    });
    await store.write(location, PLAN_DIFF_FILE, '{"resources": [');
    await expect(store.artifacts.readPlanDiff(location)).rejects.toMatchObject({
      name: 'InvalidInput',
      message: expect.stringMatching(/plan-diff\.json.*not JSON/),
    });
  });

  it('reads back a plan job’s policy checks whole: every set, violation, rule and resource', async () => {
    const store = await open();
    const location = await store.folder();
    const result = jobResult({
      hasChanges: true,
      policy: [
        {
          policy: 'guardrails',
          project: 'app',
          onFailure: 'block',
          passed: false,
          violations: [
            {
              policy: 'guardrails',
              rule: 'deny',
              message: 'terraform_data.greeting may not be created in prod <script>`x`</script>',
              resource: 'terraform_data.greeting',
            },
            { policy: 'guardrails', rule: 'warn', message: 'time_static is deprecated' },
          ],
        },
        { policy: 'tags', project: 'app', onFailure: 'warn', passed: true, violations: [] },
      ],
    });
    await store.write(location, RESULT_FILE, JSON.stringify(result));
    const read = await store.artifacts.readResult(location);
    expect(read?.policy).toEqual(result.policy);
  });

  it('reads back a result, and names a torn one as lost', async () => {
    const store = await open();
    const location = await store.folder();
    const result = jobResult({ hasChanges: true });
    await store.write(location, RESULT_FILE, JSON.stringify(result));
    expect(await store.artifacts.readResult(location)).toEqual(result);
    await store.write(location, RESULT_FILE, JSON.stringify(result).slice(0, 40));
    await expect(store.artifacts.readResult(location)).rejects.toBeInstanceOf(JobLost);
  });
});
