// The plan diffs a run's plan jobs left in its artifacts (plan-diff.json, no secret in it),
// read back for `stepform show` and the run console alike: from the local artifacts folder,
// or (serve --stack) from the stack's bucket, chosen by the same rule over the files' names.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PLAN_DIFF_FILE } from '../../core/contracts/job-result.ts';
import { PLAN_DIFF_MODEL, type PlanDiff } from '../../core/plan-diff.ts';
import { PLAN_STEP, projectArtifactsFolder } from '../../core/run.ts';
import { parseInput } from '../../core/validation.ts';
import type { RunRow } from './store/sqlite-runs.ts';

/** One project's plan diff, as a run's artifacts hold it. */
export interface ShownPlan {
  /** The project's name (its folder's, for a run of several); null in a run of one's folder. */
  readonly project: string | null;
  readonly diff: PlanDiff;
}

/** The job folders of a run whose plan may hold a diff: the plan job's, else a plan-apply's. */
const STEPS = [PLAN_STEP, 'apply'];

/** Where one project's diff is: its name in the run's artifacts ("/"-separated). */
export interface PlanDiffFile {
  readonly project: string | null;
  readonly name: string;
}

/**
 * Which of a run's artifacts (their names, relative to the run's folder) are its plan diffs:
 * each `project-<name>` folder's (a run of several), in name order, else the run's own; in
 * each, the plan job's before an apply's.
 */
export function planDiffFiles(names: readonly string[]): PlanDiffFile[] {
  const present = new Set(names);
  const prefix = projectArtifactsFolder('');
  const projects = [
    ...new Set(
      names
        .filter((name) => name.startsWith(prefix) && name.includes('/'))
        .map((name) => name.slice(prefix.length, name.indexOf('/'))),
    ),
  ].sort();
  const folders: { project: string | null; folder: string }[] =
    projects.length > 0
      ? projects.map((project) => ({ project, folder: `${projectArtifactsFolder(project)}/` }))
      : [{ project: null, folder: '' }];
  const files: PlanDiffFile[] = [];
  for (const { project, folder } of folders) {
    const name = STEPS.map((step) => `${folder}${step}/${PLAN_DIFF_FILE}`).find((n) =>
      present.has(n),
    );
    if (name !== undefined) files.push({ project, name });
  }
  return files;
}

/** The files under `folder`, relative to it, "/"-separated, two folders deep at most. */
export function filesUnder(folder: string): string[] {
  const names: string[] = [];
  const walk = (dir: string, prefix: string, depth: number) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isFile()) names.push(`${prefix}${entry.name}`);
      else if (entry.isDirectory() && depth > 0)
        walk(join(dir, entry.name), `${prefix}${entry.name}/`, depth - 1);
    }
  };
  walk(folder, '', 2);
  return names;
}

/** The plan diffs of a run's local artifacts folder (see planDiffFiles). */
export function planDiffsOf(runFolder: string): ShownPlan[] {
  if (!existsSync(runFolder)) return [];
  return planDiffFiles(filesUnder(runFolder)).map(({ project, name }) => {
    const path = join(runFolder, ...name.split('/'));
    return {
      project,
      diff: parseInput(PLAN_DIFF_MODEL, JSON.parse(readFileSync(path, 'utf8')), path),
    };
  });
}

/**
 * A run of one project keeps its plan in the run's own folder: its diff is named here as the
 * run did (its stepform.yaml name, else its folder).
 */
export function namedPlans(
  run: Pick<RunRow, 'projectDir' | 'details'>,
  plans: readonly ShownPlan[],
): ShownPlan[] {
  const reported = (run.details as { projects?: { name?: unknown }[] }).projects?.[0]?.name;
  const only = typeof reported === 'string' ? reported : run.projectDir;
  return plans.map((plan) => (plan.project === null ? { ...plan, project: only } : plan));
}

/** A run's local plan diffs, each named by its project. */
export function runPlanDiffs(
  run: Pick<RunRow, 'runId' | 'projectDir' | 'details'>,
  artifactsRoot: string,
): ShownPlan[] {
  return namedPlans(run, planDiffsOf(join(artifactsRoot, run.runId)));
}
