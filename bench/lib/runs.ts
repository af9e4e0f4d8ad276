// Reading a finished run back: its row and events from the store, its jobs' result.json
// files, and where its wall-clock time went.
import { join } from 'node:path';
import type { JobResult } from '../../core/contracts/job-result.ts';
import type { Workflow } from '../../core/contracts/workflow-input.ts';
import { type AslDefinition, allStates, readAslText } from '../../state-machines/workflows.ts';
import type { RunEventRow, RunRow } from '../../local/engine/store/sqlite-runs.ts';
import { readResult } from '../../local/executor-process.ts';
import { type StateKind, stateKinds, stateOfLabel } from './cost-model.ts';

/** How each state of a workflow is billed / run: Batch job, Lambda, callback or nothing. */
export async function workflowKinds(workflow: Workflow): Promise<Record<string, StateKind>> {
  const definition = JSON.parse(await readAslText(workflow)) as AslDefinition;
  // A Map's iteration states too: a run of projects runs its jobs there.
  return stateKinds(Object.fromEntries(allStates(definition)));
}

/** The result.json of each executor job of a run (plan/, apply/, ...), in that order. */
export async function jobResults(artifactsRoot: string, runId: string): Promise<JobResult[]> {
  const results: JobResult[] = [];
  for (const step of ['plan', 'apply', 'plan-apply', 'destroy', 'rollback']) {
    const result = await readResult(join(artifactsRoot, runId, step));
    if (result) results.push(result);
  }
  return results;
}

/** The executor's step timings, in the order a job takes them. */
export const EXECUTOR_STEPS = ['checkout', 'init', 'stateRead', 'plan', 'show', 'apply'] as const;

/**
 * Splits a CLI run's wall time into parts that add up to it:
 * - cliStart: spawn → the run is recorded (Node start, module loading, git, store open);
 * - engine: the run's span not spent inside any state (state machine, event recording);
 * - lambdaStates: the states that are Lambdas on AWS (lock, notify, record: store writes);
 * - executorStart: Batch states less their jobs' own span (Node start, engine probe);
 * - each executor step from result.json timings, summed over the run's jobs;
 * - jobRest: the jobs' span not in a timed step (plan storage, plan.txt, work folder);
 * - cliEnd: the run is finished → exit (git note, store close, process exit).
 */
export function attributeRun(
  wall: { ms: number; startedAt: number; endedAt: number },
  run: Pick<RunRow, 'startedAt' | 'finishedAt'>,
  events: readonly Pick<RunEventRow, 'type' | 'state' | 'durationMs'>[],
  kinds: Readonly<Record<string, StateKind>>,
  results: readonly Pick<JobResult, 'timings' | 'startedAt' | 'finishedAt'>[],
): Record<string, number> {
  const runStart = Date.parse(run.startedAt);
  const runEnd = Date.parse(run.finishedAt ?? run.startedAt);
  let batch = 0;
  let other = 0;
  for (const event of events) {
    if (event.type !== 'exited' && event.type !== 'failed') continue;
    const kind = kinds[stateOfLabel(event.state)];
    if (kind === 'batch') batch += event.durationMs ?? 0;
    // A Map state's span holds its iterations' states, counted on their own.
    else if (kind === 'lambda' || kind === 'callback') other += event.durationMs ?? 0;
  }
  const jobSpan = results.reduce(
    (sum, r) => sum + Date.parse(r.finishedAt) - Date.parse(r.startedAt),
    0,
  );
  const steps: Record<string, number> = {};
  for (const step of EXECUTOR_STEPS) {
    steps[step] = results.reduce((sum, r) => sum + (r.timings[step] ?? 0), 0);
  }
  const timed = Object.values(steps).reduce((sum, value) => sum + value, 0);
  return {
    cliStart: runStart - wall.startedAt,
    engine: runEnd - runStart - batch - other,
    lambdaStates: other,
    executorStart: batch - jobSpan,
    ...steps,
    jobRest: jobSpan - timed,
    cliEnd: wall.endedAt - runEnd,
  };
}

export const PART_LABELS: Readonly<Record<string, string>> = {
  cliStart: 'CLI start: Node, modules, git, store open',
  engine: 'engine: state machine, event log',
  lambdaStates: 'Lambda-side states: lock, notify, record (store writes)',
  executorStart: 'executor process start: Node, engine probe',
  checkout: 'executor: git checkout',
  init: 'executor: init',
  stateRead: 'executor: state read (the file, or `state pull`)',
  plan: 'executor: plan',
  show: 'executor: show -json',
  apply: 'executor: apply',
  jobRest: 'executor: rest (plan storage, files)',
  cliEnd: 'CLI end: git note, exit',
};
