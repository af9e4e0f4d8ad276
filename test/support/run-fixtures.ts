// A run and its job's result as the contracts define them, for tests of their readers and of
// the steps over them. Each test overrides what it is about.
import type { JobResult, PlanSummary } from '../../core/contracts/job-result.ts';
import type { RunContext } from '../../core/contracts/workflow-input.ts';

/** A plan-apply run of `stack` in `dev`, as PrepareRun hands it on. */
export function runContext(overrides: Partial<RunContext> = {}): RunContext {
  return {
    runId: 'run-1',
    workflow: 'plan-apply',
    repository: '/repo',
    commit: 'a'.repeat(40),
    projectDir: 'stack',
    environment: 'dev',
    autoApprove: false,
    approvalTimeoutSeconds: 600,
    ...overrides,
  };
}

/** A plan summary with these counts and no resources listed. */
export function planSummary(counts: Partial<PlanSummary> = {}): PlanSummary {
  return {
    add: 0,
    change: 0,
    destroy: 0,
    replace: 0,
    import: 0,
    forget: 0,
    resources: [],
    outputs: [],
    ...counts,
  };
}

/** A complete result.json as the executor writes it. */
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
