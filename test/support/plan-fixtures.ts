// The plan diffs of the committed golden plans (test/fixtures/plans/<case>/plan.json, real
// Terraform 1.11.4 `show -json`), and a plan of many resources made from one of them.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type PlanDiff, planDiff } from '../../core/plan-diff.ts';
import { REPO_ROOT } from '../../toolchain/paths.ts';

/** The folder of the cases: each `<case>/plan.json` with its golden renderings beside it. */
export const PLAN_FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'plans');

/** The cases, by folder name (create, delete, import, moved, replace, …). */
export const PLAN_FIXTURE_CASES: readonly string[] = readdirSync(PLAN_FIXTURES, {
  withFileTypes: true,
})
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

/** A case's plan as Terraform wrote it. */
export function fixturePlan(name: string): unknown {
  return JSON.parse(readFileSync(join(PLAN_FIXTURES, name, 'plan.json'), 'utf8'));
}

export function fixtureDiff(name: string): PlanDiff {
  return planDiff(fixturePlan(name));
}

/** `count` copies of a case's resources, each address made unique: a plan far past any limit. */
export function manyResources(name: string, count: number): PlanDiff {
  const one = fixtureDiff(name);
  return {
    ...one,
    resources: Array.from({ length: count }, (_, i) =>
      one.resources.map((r) => ({ ...r, address: `${r.address}_${i}` })),
    ).flat(),
  };
}
