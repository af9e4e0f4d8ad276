// The destroy of several projects, layers in reverse: what depends on a project goes before
// it (app before network). The workflow loops NextDestroyLayer → DestroyLayer (a Map over the
// layer's projects) → NextDestroyLayer…; a layer where a destroy failed is the last one
// started, so nothing a failed project still depends on is destroyed under it. Pure.
import { z } from 'zod';
import { JOB } from './contracts/job-input.ts';
import { RUN_INPUT, runProjects } from './contracts/workflow-input.ts';
import {
  CAUGHT,
  COUNTS,
  type CollectedProjects,
  ITERATION_BASE,
  PROJECT_REF,
  type ProjectReport,
  preparedProject,
  projectError,
  reportedError,
  totalOf,
  unstartedReport,
} from './project-results.ts';
import { parseInput } from './validation.ts';

const PREPARED = preparedProject({ destroy: JOB });
const BASE = ITERATION_BASE;

/** One DestroyLayer iteration's output. */
export const DESTROY_OUTCOME = z.discriminatedUnion('status', [
  z.looseObject({
    ...BASE,
    status: z.literal('destroyed'),
    result: z.looseObject({
      summary: COUNTS,
      resultLocation: z.string().min(1),
      startedAt: z.string().optional(),
      finishedAt: z.string().optional(),
    }),
  }),
  z.looseObject({ ...BASE, status: z.literal('destroy_failed'), error: CAUGHT }),
]);
type DestroyOutcome = z.output<typeof DESTROY_OUTCOME>;

export const NEXT_DESTROY_LAYER_INPUT = z.looseObject({
  run: RUN_INPUT,
  projects: z.array(PREPARED).min(1),
  /** Only these projects, by name (an ephemeral run's cleanup: those whose apply started). */
  only: z.array(PROJECT_REF).optional(),
  destroying: z.looseObject({
    /** The layer last started; null before the first. */
    layer: z.number().int().min(0).nullable(),
    destroyed: z.array(DESTROY_OUTCOME),
    /** The Map's output of the layer just destroyed (absent on the first turn). */
    results: z.array(DESTROY_OUTCOME).optional(),
  }),
});

export interface DestroyItem {
  name: string;
  dir: string;
  layer: number;
  run: z.output<typeof RUN_INPUT>;
  jobs: { destroy: z.output<typeof JOB> };
}

export interface DestroyProgress {
  /** The next step of the workflow's Choice. */
  outcome: 'destroying' | 'destroyed' | 'destroy_failed';
  layer: number | null;
  destroyed: DestroyOutcome[];
  next: DestroyItem[];
  /** Every project of the run, in the run's order, as it stands. */
  projects: CollectedProjects;
  /** The first failure (in the order the layers ran): the run's error. */
  error?: { Error: string; Cause?: string };
}

/** NextDestroyLayer: folds in the layer just destroyed, then the next (lower) layer or the end. */
export function nextDestroyLayer(input: unknown): DestroyProgress {
  const parsed = parseInput(NEXT_DESTROY_LAYER_INPUT, input, 'destroying');
  const { run, destroying, only } = parsed;
  const projects =
    only === undefined ? parsed.projects : parsed.projects.filter((p) => only.includes(p.name));
  const destroyed = [...destroying.destroyed, ...(destroying.results ?? [])];
  const report = reportOf(run, projects, destroyed);
  const failed = destroyed.find((outcome) => outcome.status === 'destroy_failed');
  const last = destroying.layer;
  const lower = [...new Set(projects.map((p) => p.layer))]
    .sort((a, b) => b - a)
    .filter((layer) => last === null || layer < last);
  const layer = lower[0];
  if (failed !== undefined || layer === undefined) {
    return {
      outcome: failed === undefined ? 'destroyed' : 'destroy_failed',
      layer: last,
      destroyed,
      next: [],
      projects: report,
      ...(failed?.status === 'destroy_failed'
        ? { error: projectError(failed.name, failed.error, projects.length) }
        : {}),
    };
  }
  const next = projects
    .filter((project) => project.layer === layer)
    .map((project): DestroyItem => ({
      name: project.name,
      dir: project.dir,
      layer: project.layer,
      run: project.run,
      jobs: { destroy: project.jobs.destroy },
    }));
  return { outcome: 'destroying', layer, destroyed, next, projects: report };
}

function reportOf(
  run: z.output<typeof RUN_INPUT>,
  projects: readonly z.output<typeof PREPARED>[],
  destroyed: readonly DestroyOutcome[],
): CollectedProjects {
  const settings = new Map(runProjects(run).map((p) => [p.name, p]));
  const outcomes = new Map(destroyed.map((outcome) => [outcome.name, outcome]));
  const reports = projects.map((project): ProjectReport => {
    const outcome = outcomes.get(project.name);
    const base = unstartedReport(project, settings.get(project.name));
    if (outcome === undefined) return base;
    if (outcome.status === 'destroy_failed')
      return { ...base, status: 'destroy_failed', error: reportedError(outcome.error) };
    const { add, change, destroy, replace, import: imports } = outcome.result.summary;
    return {
      ...base,
      status: 'destroyed',
      hasChanges: destroy > 0,
      summary: { add, change, destroy, replace, import: imports },
      resultLocation: outcome.result.resultLocation,
      startedAt: outcome.result.startedAt ?? null,
      finishedAt: outcome.result.finishedAt ?? null,
    };
  });
  return {
    failed: reports.some((p) => p.status === 'destroy_failed'),
    hasChanges: reports.some((p) => p.hasChanges),
    summary: totalOf(reports),
    projects: reports,
    // Neither a destroy nor an ephemeral environment's plan is checked against policies.
    policyBlocked: false,
  };
}
