// The create of an ephemeral environment of several projects, one layer after the other: the
// workflow loops NextCreateLayer → CreateLayer (a Map over the layer's projects, each planned
// and applied in one job) → NextCreateLayer… and this decides each turn what the next layer
// is, or that the create is over. A layer where a project failed is the last one started; the
// workflow then destroys every project whose apply started (`started`, by name), layers in
// reverse (core/destroy-layers.ts), so a failed ephemeral environment leaves nothing behind.
// Pure.
import { z } from 'zod';
import { JOB } from './contracts/job-input.ts';
import { RUN_INPUT, runProjects } from './contracts/workflow-input.ts';
import {
  APPLIED_RESULT,
  CAUGHT,
  type CollectedProjects,
  ITERATION_BASE,
  type ProjectReport,
  preparedProject,
  projectError,
  reportedError,
  totalOf,
  unstartedReport,
} from './project-results.ts';
import { parseInput } from './validation.ts';

const PREPARED = preparedProject({ planApply: JOB, destroy: JOB });
type Prepared = z.output<typeof PREPARED>;

/** One CreateLayer iteration's output (the Pass states at the end of each iteration build it). */
export const CREATE_OUTCOME = z.discriminatedUnion('status', [
  z.looseObject({ ...ITERATION_BASE, status: z.literal('applied'), result: APPLIED_RESULT }),
  z.looseObject({ ...ITERATION_BASE, status: z.literal('failed'), error: CAUGHT }),
]);
type CreateOutcome = z.output<typeof CREATE_OUTCOME>;

export const NEXT_CREATE_LAYER_INPUT = z.looseObject({
  run: RUN_INPUT,
  /** PrepareRun's projects. */
  projects: z.array(PREPARED).min(1),
  creating: z.looseObject({
    /** The layer last started; -1 before the first. */
    layer: z.number().int().min(-1),
    created: z.array(CREATE_OUTCOME),
    /** The Map's output of the layer just created (absent on the first turn). */
    results: z.array(CREATE_OUTCOME).optional(),
  }),
});

export interface CreateProgress {
  /** The next step of the workflow's Choice. */
  outcome: 'creating' | 'created' | 'failed';
  layer: number;
  created: CreateOutcome[];
  /** The projects of the layer to create next (empty once the create is over). */
  next: Prepared[];
  /** Every project of the run, in execution order, as it stands. */
  projects: CollectedProjects;
  /**
   * The names of the projects whose apply started, applied or not (a failed apply may have
   * created part of its resources): what the cleanup of a failed run destroys, layers in
   * reverse. Names, not projects: the state keeps each project once (Step Functions' 256 KB).
   */
  started: string[];
  /** The first failure (in execution order): the run's error. */
  error?: { Error: string; Cause?: string };
}

/** NextCreateLayer: folds in the layer just created, then the next layer or the end. */
export function nextCreateLayer(input: unknown): CreateProgress {
  const { run, projects, creating } = parseInput(NEXT_CREATE_LAYER_INPUT, input, 'creating');
  const created = [...creating.created, ...(creating.results ?? [])];
  const outcomes = new Map(created.map((outcome) => [outcome.name, outcome]));
  const started = projects.filter((p) => outcomes.has(p.name)).map((p) => p.name);
  const report = reportOf(run, projects, outcomes);
  const failed = created.find((outcome) => outcome.status === 'failed');
  const layer = [...new Set(projects.map((p) => p.layer))]
    .sort((a, b) => a - b)
    .find((candidate) => candidate > creating.layer);
  if (failed !== undefined || layer === undefined) {
    return {
      outcome: failed === undefined ? 'created' : 'failed',
      layer: creating.layer,
      created,
      next: [],
      projects: report,
      started,
      ...(failed?.status === 'failed'
        ? { error: projectError(failed.name, failed.error, projects.length) }
        : {}),
    };
  }
  return {
    outcome: 'creating',
    layer,
    created,
    next: projects.filter((project) => project.layer === layer),
    projects: report,
    started,
  };
}

function reportOf(
  run: z.output<typeof RUN_INPUT>,
  projects: readonly Prepared[],
  outcomes: ReadonlyMap<string, CreateOutcome>,
): CollectedProjects {
  const settings = new Map(runProjects(run).map((p) => [p.name, p]));
  const reports = projects.map((project): ProjectReport => {
    const outcome = outcomes.get(project.name);
    const base = unstartedReport(project, settings.get(project.name));
    if (outcome === undefined) return base;
    if (outcome.status === 'failed')
      return { ...base, status: 'failed', error: reportedError(outcome.error) };
    const { result } = outcome;
    const { add, change, destroy, replace, import: imports } = result.summary;
    return {
      ...base,
      status: 'applied',
      hasChanges: add + change + destroy + replace + imports > 0,
      summary: { add, change, destroy, replace, import: imports },
      resultLocation: result.resultLocation,
      outputs: result.outputs,
      startedAt: result.startedAt ?? null,
      finishedAt: result.finishedAt ?? null,
    };
  });
  return {
    failed: reports.some((p) => p.status === 'failed'),
    hasChanges: reports.some((p) => p.hasChanges),
    summary: totalOf(reports),
    projects: reports,
    // Neither a destroy nor an ephemeral environment's plan is checked against policies.
    policyBlocked: false,
  };
}
