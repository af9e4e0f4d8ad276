// The policy checks a run's plan jobs left in their result.json, read back for the CLI's end
// of a run (its terminal lines and --json): the workflow's state carries only their counts.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULT_FILE, parseJobResult } from '../../core/contracts/job-result.ts';
import type { PolicyResult } from '../../core/policy.ts';
import { PLAN_STEP } from '../../core/run.ts';
import { filesUnder } from './plan-diffs.ts';

/**
 * The plan jobs' result.json among a run folder's file names ("/"-separated, relative to it):
 * each project's `plan` folder, in name order. Locally and in the artifacts bucket alike.
 */
export function planResultNames(names: readonly string[]): string[] {
  const planResult = `${PLAN_STEP}/${RESULT_FILE}`;
  return names.filter((name) => name === planResult || name.endsWith(`/${planResult}`)).sort();
}

/** Every policy result of the run's plan jobs (each project's `plan` folder), in name order. */
export function runPolicyResults(runFolder: string): PolicyResult[] {
  if (!existsSync(runFolder)) return [];
  return planResultNames(filesUnder(runFolder)).flatMap((name) => {
    const path = join(runFolder, ...name.split('/'));
    return parseJobResult(readFileSync(path, 'utf8'), path).policy ?? [];
  });
}
