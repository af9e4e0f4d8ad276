// The plan diffs a run's plan jobs left in its artifacts folder (plan-diff.json, no secret in
// it), read back for `stepform show` and the run console alike.
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

/**
 * The plan diffs of a run's artifacts folder: its own (a run of one project) or each
 * `project-<name>` folder's (a run of several), in name order.
 */
export function planDiffsOf(runFolder: string): ShownPlan[] {
  if (!existsSync(runFolder)) return [];
  const prefix = projectArtifactsFolder('');
  const projects = readdirSync(runFolder, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name.startsWith(prefix))
    .map((entry) => entry.name.slice(prefix.length))
    .sort();
  const folders: { project: string | null; folder: string }[] =
    projects.length > 0
      ? projects.map((project) => ({
          project,
          folder: join(runFolder, projectArtifactsFolder(project)),
        }))
      : [{ project: null, folder: runFolder }];
  const shown: ShownPlan[] = [];
  for (const { project, folder } of folders) {
    const path = STEPS.map((step) => join(folder, step, PLAN_DIFF_FILE)).find((p) => existsSync(p));
    if (path === undefined) continue;
    const diff = parseInput(PLAN_DIFF_MODEL, JSON.parse(readFileSync(path, 'utf8')), path);
    shown.push({ project, diff });
  }
  return shown;
}

/**
 * A run's plan diffs, each named by its project: a run of one project keeps its plan in the
 * run's own folder, named here as the run did (its stepform.yaml name, else its folder).
 */
export function runPlanDiffs(
  run: Pick<RunRow, 'runId' | 'projectDir' | 'details'>,
  artifactsRoot: string,
): ShownPlan[] {
  const reported = (run.details as { projects?: { name?: unknown }[] }).projects?.[0]?.name;
  const only = typeof reported === 'string' ? reported : run.projectDir;
  return planDiffsOf(join(artifactsRoot, run.runId)).map((plan) =>
    plan.project === null ? { ...plan, project: only } : plan,
  );
}
