// The apply of a plan-apply of several projects, one layer after the other: the workflow loops
// NextLayer → ApplyLayer (a Map over the layer's projects) → NextLayer… and this decides each
// turn what the next layer is, or that the apply is over and how it ended. A layer whose
// projects did not all apply ends the apply there: later layers never start. Pure.
import { z } from 'zod';
import { JOB } from './contracts/job-input.ts';
import { RUN_INPUT, runProjects } from './contracts/workflow-input.ts';
import { InvalidInput } from './errors.ts';
import {
  APPLIED_RESULT,
  CAUGHT,
  type CollectedProjects,
  ITERATION_BASE,
  PROJECT_OUTCOME,
  type ProjectReport,
  type ProjectStatus,
  collectProjects,
  preparedProject,
  projectError,
} from './project-results.ts';
import { parseInput } from './validation.ts';

/** A project of the run as PrepareRun gave it: what its apply and its rollback need. */
const PREPARED = preparedProject({ plan: JOB });

/** One ApplyLayer iteration's output (the Pass states at the end of each iteration build it). */
export const APPLY_OUTCOME = z.discriminatedUnion('status', [
  z.looseObject({ ...ITERATION_BASE, status: z.literal('applied'), result: APPLIED_RESULT }),
  // A refused plan (stale, foreign) or a failure with nothing to roll back to.
  z.looseObject({ ...ITERATION_BASE, status: z.literal('failed'), error: CAUGHT }),
  z.looseObject({
    ...ITERATION_BASE,
    status: z.literal('rolled_back'),
    error: CAUGHT,
    rollback: z.looseObject({ commit: z.string(), failedCommit: z.string() }),
  }),
  z.looseObject({
    ...ITERATION_BASE,
    status: z.literal('rollback_failed'),
    error: CAUGHT,
    rollback: z.looseObject({ commit: z.string(), failedCommit: z.string(), applyError: CAUGHT }),
  }),
]);
type ApplyOutcome = z.output<typeof APPLY_OUTCOME>;

/** `$.applying` between the turns: what applied so far, and the layer last started. */
const APPLYING = z.looseObject({
  layer: z.number().int().min(-1),
  applied: z.array(APPLY_OUTCOME),
  /** The Map's output of the layer just applied (absent on the first turn). */
  results: z.array(APPLY_OUTCOME).optional(),
});

export const NEXT_LAYER_INPUT = z.looseObject({
  run: RUN_INPUT,
  /** PrepareRun's projects. */
  projects: z.array(PREPARED).min(1),
  /** PlanProjects' output: every project's plan (all planned: a failed plan applies nothing). */
  planned: z.array(PROJECT_OUTCOME).min(1),
  applying: APPLYING,
});

/** What one ApplyLayer iteration gets: the project, its run view, and the job of its plan. */
export interface ApplyItem {
  name: string;
  dir: string;
  layer: number;
  run: z.output<typeof RUN_INPUT>;
  jobs: { plan: z.output<typeof JOB> };
  applyJob: z.output<typeof JOB>;
}

/** How the apply ended, or 'applying' while layers are left. */
export type ApplyState = 'applying' | 'applied' | 'failed' | 'rolled_back' | 'rollback_failed';

export interface ApplyProgress {
  /** The next step of the workflow's Choice. */
  outcome: ApplyState;
  layer: number;
  applied: ApplyOutcome[];
  /** The projects of the layer to apply next (empty once the apply is over). */
  next: ApplyItem[];
  /** Every project of the run, in execution order, as it stands. */
  projects: CollectedProjects;
  /** The first failure (in execution order): the run's error, as the outcome carries it. */
  error?: { Error: string; Cause?: string };
  /** Its rollback, as the rolled_back and rollback_failed outcomes carry it. */
  rollback?: Record<string, unknown>;
}

/** NextLayer: folds the layer just applied in, then the next layer or how the apply ended. */
export function nextLayer(input: unknown): ApplyProgress {
  const { run, projects, planned, applying } = parseInput(NEXT_LAYER_INPUT, input, 'applying');
  const applied = [...applying.applied, ...(applying.results ?? [])];
  const plans = new Map(planned.map((outcome) => [outcome.name, outcome]));
  const withChanges = projects.filter((project) => {
    const plan = plans.get(project.name);
    return plan?.status === 'planned' && plan.result.hasChanges;
  });
  const unsettled = applied.filter((outcome) => outcome.status !== 'applied');
  const later = [...new Set(withChanges.map((p) => p.layer))]
    .sort((a, b) => a - b)
    .filter((layer) => layer > applying.layer);
  const report = reportOf(run, planned, applied);
  const first = unsettled[0];
  if (first !== undefined || later[0] === undefined) {
    return {
      outcome: first?.status ?? 'applied',
      layer: applying.layer,
      applied,
      next: [],
      projects: report,
      ...(first === undefined ? {} : failureOf(first, projects.length)),
    };
  }
  const layer = later[0];
  const next = withChanges
    .filter((project) => project.layer === layer)
    .map((project): ApplyItem => {
      const plan = plans.get(project.name);
      const applyJob = plan?.status === 'planned' ? plan.result.applyJob : undefined;
      if (applyJob === undefined)
        throw new InvalidInput(
          `applying.planned.${project.name}.result.applyJob`,
          'is required for a plan with changes',
        );
      return {
        name: project.name,
        dir: project.dir,
        layer: project.layer,
        run: project.run,
        jobs: { plan: project.jobs.plan },
        applyJob,
      };
    });
  return { outcome: 'applying', layer, applied, next, projects: report };
}

/** The run's error and rollback from its first unsettled project, as the outcomes carry them. */
function failureOf(
  outcome: Exclude<ApplyOutcome, { status: 'applied' }>,
  projectCount: number,
): Pick<ApplyProgress, 'error' | 'rollback'> {
  const named = (error: { Error: string; Cause?: string | undefined }) =>
    projectError(outcome.name, error, projectCount);
  if (outcome.status === 'failed') return { error: named(outcome.error) };
  const { rollback } = outcome;
  const message = typeof rollback.message === 'string' ? rollback.message : undefined;
  return {
    error: named(outcome.error),
    rollback:
      projectCount > 1 && message !== undefined
        ? { ...rollback, message: `${outcome.name}: ${message}` }
        : rollback,
  };
}

/** Every project as the apply left it: applied, unchanged, failed or rolled back, not started. */
function reportOf(
  run: z.output<typeof RUN_INPUT>,
  planned: readonly z.output<typeof PROJECT_OUTCOME>[],
  applied: readonly ApplyOutcome[],
): CollectedProjects {
  const plansReport = collectProjects(planned, runProjects(run));
  const outcomes = new Map(applied.map((outcome) => [outcome.name, outcome]));
  const projects = plansReport.projects.map((project): ProjectReport => {
    const outcome = outcomes.get(project.name);
    if (outcome === undefined) {
      const status: ProjectStatus = project.hasChanges ? 'not_started' : 'no_changes';
      return { ...project, status };
    }
    if (outcome.status === 'applied') {
      const result = outcome.result;
      return {
        ...project,
        status: 'applied',
        resultLocation: result.resultLocation,
        outputs: result.outputs,
        startedAt: result.startedAt ?? project.startedAt,
        finishedAt: result.finishedAt ?? project.finishedAt,
      };
    }
    const { Error: name, Cause: message } = outcome.error;
    return { ...project, status: outcome.status, error: { name, message: message ?? name } };
  });
  return { ...plansReport, failed: projects.some(isUnsettled), projects };
}

function isUnsettled(project: ProjectReport): boolean {
  return project.status !== 'applied' && project.status !== 'no_changes';
}
