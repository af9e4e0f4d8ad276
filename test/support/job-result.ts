// A complete result.json as the executor writes it, for tests of its readers.
import type { JobResult } from '../../core/contracts/job-result.ts';

export function jobResult(overrides: Partial<JobResult> = {}): JobResult {
  return {
    schemaVersion: 1,
    runId: 'run-1',
    verb: 'plan',
    status: 'succeeded',
    repository: '/repo',
    commit: 'a'.repeat(40),
    environment: 'dev',
    projectDir: '.',
    artifacts: { dir: '/a', log: '/a/executor.log', result: '/a/result.json' },
    timings: {},
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:01.000Z',
    ...overrides,
  };
}
