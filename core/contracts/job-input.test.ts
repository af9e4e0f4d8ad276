import { describe, expect, it } from '@jest/globals';
import { parseInput } from '../validation.ts';
import { JOB } from './job-input.ts';

const VALID = {
  runId: 'run-1',
  verb: 'plan',
  repository: '/srv/repo',
  commit: '0123456789abcdef0123456789abcdef01234567',
  projectDir: 'terraform/examples/hello/',
  environment: 'dev',
  backend: { type: 'local', stateDir: '/srv/state' },
  artifactsDir: '/srv/artifacts/run-1',
};

const fieldOf = (input: unknown): string => {
  try {
    parseInput(JOB, input, 'job');
  } catch (error) {
    return (error as { field: string }).field;
  }
  return 'valid';
};

describe('the job schema', () => {
  it('accepts a valid job and normalizes the project dir', () => {
    const job = parseInput(JOB, VALID, 'job');
    expect(job.projectDir).toBe('terraform/examples/hello');
    expect(parseInput(JOB, { ...VALID, projectDir: '.' }, 'job').projectDir).toBe('.');
  });

  it('fills S3 backend defaults', () => {
    const job = parseInput(
      JOB,
      { ...VALID, backend: { type: 's3', bucket: 'my-state', region: 'eu-west-1' } },
      'job',
    );
    expect(job.backend).toEqual({
      type: 's3',
      bucket: 'my-state',
      region: 'eu-west-1',
      keyPrefix: 'stepform',
    });
  });

  it.each([
    [{ commit: 'abc' }, 'job.commit'],
    [{ commit: '0123456789ABCDEF0123456789ABCDEF01234567' }, 'job.commit'],
    [{ projectDir: '..' }, 'job.projectDir'],
    [{ projectDir: 'a/../../b' }, 'job.projectDir'],
    [{ projectDir: '.hidden' }, 'job.projectDir'],
    [{ projectDir: 'a b' }, 'job.projectDir'],
    [{ environment: 'Dev' }, 'job.environment'],
    [{ environment: 'dev`id`' }, 'job.environment'],
    [{ environment: '-dev' }, 'job.environment'],
    [{ repository: 'relative/repo' }, 'job.repository'],
    [{ repository: 'https://user:token@github.com/o/r' }, 'job.repository'],
    [{ repository: 'git@github.com:o/r.git' }, 'job.repository'],
    [{ repository: '--upload-pack=touch /tmp/x' }, 'job.repository'],
    [{ runId: '../etc' }, 'job.runId'],
    // Batch job names take no ".", execution names no more than 80 characters.
    [{ runId: 'run.1' }, 'job.runId'],
    [{ runId: 'r'.repeat(81) }, 'job.runId'],
    [{ artifactsDir: 'artifacts' }, 'job.artifactsDir'],
    [{ verb: 'apply' }, 'job.plan'],
    [{ verb: 'command', args: [] }, 'job.args'],
    [{ unexpected: true }, 'job'],
    [{ backend: { type: 'gcs' } }, 'job.backend.type'],
    [{ backend: { type: 's3', bucket: 'Bad_Bucket', region: 'eu-west-1' } }, 'job.backend.bucket'],
  ])('refuses %j naming %s', (override, field) => {
    expect(fieldOf({ ...VALID, ...override })).toBe(field);
  });

  it('accepts a run id of 80 characters, the longest execution name', () => {
    expect(fieldOf({ ...VALID, runId: `a${'_-9Z'.repeat(19)}xyz` })).toBe('valid');
  });

  it('accepts an https repository', () => {
    expect(fieldOf({ ...VALID, repository: 'https://github.com/acme/infra.git' })).toBe('valid');
  });
});
