import { describe, expect, it } from '@jest/globals';
import { jobResult } from '../test/support/run-fixtures.ts';
import type { JobInput } from './contracts/job-input.ts';
import { parseJobResult } from './contracts/job-result.ts';
import { collectJobResult } from './run.ts';

const APPLY_JOB: JobInput = {
  runId: 'run-1',
  verb: 'apply',
  repository: '/repo',
  commit: 'a'.repeat(40),
  projectDir: 'stack',
  environment: 'dev',
  backend: { type: 'local', stateDir: '/state' },
  artifactsDir: '/artifacts/run-1/apply',
  plan: { dir: '/artifacts/run-1/plan', sha256: 'b'.repeat(64) },
};

function failedApply(stateChanged: boolean | undefined, name = 'TerraformFailed') {
  return jobResult({
    verb: 'apply',
    status: 'failed',
    error: { name, message: 'it went wrong' },
    ...(stateChanged === undefined ? {} : { stateChanged }),
  });
}

describe('collectJobResult of a failed job', () => {
  it.each(['StalePlan', 'PlanDigestMismatch', 'ForeignPlan', 'PlanNotFound', 'TerraformFailed'])(
    'is NothingApplied, with the real error, when %s left the state unchanged',
    (name) => {
      expect(() => collectJobResult(APPLY_JOB, failedApply(false, name))).toThrow(
        expect.objectContaining({
          name: 'NothingApplied',
          message: `apply failed: ${name}: it went wrong`,
        }),
      );
    },
  );

  it('is JobFailed when the state changed', () => {
    expect(() => collectJobResult(APPLY_JOB, failedApply(true))).toThrow(
      expect.objectContaining({
        name: 'JobFailed',
        message: 'apply failed: TerraformFailed: it went wrong',
      }),
    );
  });

  it('is JobFailed when the result cannot tell (an older executor): the state may have changed', () => {
    const older = parseJobResult(JSON.stringify(failedApply(undefined)), 'result.json');
    expect(older.stateChanged).toBeUndefined();
    expect(() => collectJobResult(APPLY_JOB, older)).toThrow(
      expect.objectContaining({ name: 'JobFailed' }),
    );
  });

  it('is JobLost without a result', () => {
    expect(() => collectJobResult(APPLY_JOB, undefined)).toThrow(
      expect.objectContaining({ name: 'JobLost' }),
    );
  });
});
