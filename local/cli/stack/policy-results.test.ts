// The policy verdicts `logs --stack` and a stack run's end print: read from the plan jobs'
// result.json in the artifacts bucket (S3 on moto), every project's, in name order, rendered
// by the same lines as the local CLI's.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { S3ArtifactPort } from '../../../adapters/aws/s3.ts';
import { RESULT_FILE } from '../../../core/contracts/job-result.ts';
import type { PolicyResult } from '../../../core/policy.ts';
import { type MotoServer, startMotoServer } from '../../../test/aws/moto-server.ts';
import { jobResult } from '../../../test/support/run-fixtures.ts';
import { renderLog } from '../history.ts';
import type { RunRow } from '../../engine/store/sqlite-runs.ts';
import type { Io } from '../io.ts';
import { policyLines } from '../policy-lines.ts';
import { stackPolicyResults } from './policy-results.ts';

let moto: MotoServer;
let artifacts: S3ArtifactPort;

beforeAll(async () => {
  moto = await startMotoServer();
  const s3 = new S3Client({ ...moto.clientConfig, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: 'stepform-artifacts' }));
  // As the stack's CLI addresses it: `/artifacts/<runId>` under the bucket.
  artifacts = new S3ArtifactPort(s3, { bucket: 'stepform-artifacts' });
}, 120_000);

afterAll(async () => moto.stop());

const set = (project: string, policy: string, passed: boolean): PolicyResult => ({
  policy,
  project,
  onFailure: 'block',
  passed,
  violations: passed
    ? []
    : [{ policy, rule: 'deny', message: `${project} may not`, resource: `${project}.r` }],
});

describe('stackPolicyResults', () => {
  it('reads every plan job’s policy results of the run, in name order, and nothing else', async () => {
    const folder = '/artifacts/run-policy';
    await artifacts.putArtifact(
      `${folder}/project-network/plan`,
      RESULT_FILE,
      JSON.stringify(jobResult({ policy: [set('network', 'guardrails', false)] })),
    );
    await artifacts.putArtifact(
      `${folder}/project-app/plan`,
      RESULT_FILE,
      JSON.stringify(jobResult({ policy: [set('app', 'guardrails', true)] })),
    );
    // An apply's result, and a plan that checked nothing: no policy lines from either.
    await artifacts.putArtifact(
      `${folder}/project-app/apply`,
      RESULT_FILE,
      JSON.stringify(jobResult({ verb: 'apply', policy: [set('app', 'stale', false)] })),
    );
    await artifacts.putArtifact(
      `${folder}/project-dns/plan`,
      RESULT_FILE,
      JSON.stringify(jobResult()),
    );

    const policy = await stackPolicyResults(artifacts, 'run-policy');
    expect(policy.map((p) => `${p.project}:${p.policy}`)).toEqual([
      'app:guardrails',
      'network:guardrails',
    ]);
    expect(policyLines(policy)).toEqual([
      '  policy guardrails on app: passed',
      '  policy guardrails on network: failed (blocks the run)',
      '    ✗ deny  network.r: network may not',
    ]);
  });

  it('gives none for a run that left no artifacts', async () => {
    expect(await stackPolicyResults(artifacts, 'run-without-artifacts')).toEqual([]);
  });
});

describe('renderLog with policy results', () => {
  const run: RunRow = {
    runId: 'run-policy',
    workflow: 'plan-apply',
    environment: 'prod',
    projectDir: 'infra',
    repository: 'https://github.com/acme/infra',
    commit: 'a'.repeat(40),
    status: 'failed',
    phase: 'policy_failed',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:01:00.000Z',
    error: null,
    details: {},
  };
  const policy = [set('network', 'guardrails', false)];

  const printed = (json: boolean) => {
    const out: string[] = [];
    const io: Io = {
      out: (text) => void out.push(text),
      err: () => undefined,
      cwd: '/',
      env: {},
      interactive: false,
      ask: async () => Promise.resolve(''),
    };
    renderLog({ run, events: [], policy }, json ? { json: true } : {}, io);
    return out.join('');
  };

  it('prints each set’s verdict and violations after the status, as the local CLI does', () => {
    expect(printed(false)).toContain('status failed (policy_failed)');
    expect(printed(false)).toContain(`${policyLines(policy).join('\n')}\n`);
  });

  it('gives the results under `policy` with --json', () => {
    expect(JSON.parse(printed(true))).toMatchObject({ policy });
  });
});
