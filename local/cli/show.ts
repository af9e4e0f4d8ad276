// show RUN_ID [--project NAME]: what a run's plans change, attribute by attribute, read from
// the diff each plan job left next to its plan (no secret is in it), and each policy set's
// verdict on them. Colour on a terminal, none when piped or with NO_COLOR.
import { join } from 'node:path';
import { InvalidInput, NotFound } from '../../core/errors.ts';
import { RUN_ID } from '../../core/contracts/job-input.ts';
import { renderPlanText } from '../../core/plan-diff.ts';
import type { PolicyResult } from '../../core/policy.ts';
import { parseInput } from '../../core/validation.ts';
import { type ShownPlan, planDiffsOf, runPlanDiffs } from '../engine/plan-diffs.ts';
import { runPolicyResults } from '../engine/policy-results.ts';
import { openEngine, resolveRepository } from './context.ts';
import type { Io } from './io.ts';
import type { CliValues } from './main.ts';
import { policyLines } from './policy-lines.ts';
import { projectNames } from './selection.ts';

/** The most of a run's diffs a terminal is given: far more than anyone reads in one go. */
const TERMINAL_BUDGET = 200_000;

/** Each plan's diff as text, under its project's name in a run of several. */
export function renderPlans(plans: readonly ShownPlan[], colour: boolean): string {
  const budget = Math.floor(TERMINAL_BUDGET / Math.max(1, plans.length));
  return plans
    .map(
      (plan) =>
        `${plan.project === null ? '' : `\n── ${plan.project} ──\n`}${renderPlanText(plan.diff, {
          color: colour,
          maxChars: budget,
        })}`,
    )
    .join('');
}

/**
 * What a run waiting for its approval shows first: what it would apply, from the diffs its
 * plan jobs wrote (none for a destroy or a command, which have no plan yet).
 */
export function approvalDiffs(artifactsRoot: string, runId: string, colour: boolean): string {
  try {
    const plans = planDiffsOf(join(artifactsRoot, runId));
    return plans.length === 0 ? '' : `${renderPlans(plans, colour)}\n`;
  } catch {
    // A view, never a reason to stop: the approval itself is what matters here.
    return '';
  }
}

/** Colour only on a terminal, and never with NO_COLOR set (https://no-color.org). */
export function wantsColour(io: Pick<Io, 'env' | 'outIsTerminal'>): boolean {
  return io.outIsTerminal === true && (io.env.NO_COLOR ?? '') === '';
}

/**
 * What `show` prints of a run, locally and for a stack alike: its plans' diffs (those of the
 * --project names), then each policy set's verdict on them; --json gives both.
 */
export function renderShow(
  runId: string,
  allPlans: readonly ShownPlan[],
  allPolicy: readonly PolicyResult[],
  values: CliValues,
  io: Io,
): void {
  const wanted = values.project === undefined ? undefined : projectNames(values);
  const plans = allPlans.filter(
    (plan) => wanted === undefined || (plan.project !== null && wanted.includes(plan.project)),
  );
  if (wanted !== undefined) {
    const missing = wanted.filter((name) => !plans.some((plan) => plan.project === name));
    if (missing.length > 0)
      throw new InvalidInput('--project', `run ${runId} has no plan of ${missing.join(', ')}`);
  }
  const policy = allPolicy.filter(
    (result) => wanted === undefined || wanted.includes(result.project),
  );
  if (values.json === true) {
    io.out(
      `${JSON.stringify({ runId, plans, ...(policy.length > 0 ? { policy } : {}) }, null, 2)}\n`,
    );
    return;
  }
  if (plans.length === 0) {
    io.out(`run ${runId} has no plan to show (a destroy, a command, or a plan that failed)\n`);
  } else {
    io.out(renderPlans(plans, wantsColour(io)));
  }
  const lines = policyLines(policy);
  if (lines.length > 0) io.out(`\npolicy checks:\n${lines.join('\n')}\n`);
}

export async function showVerb(
  positionals: readonly string[],
  values: CliValues,
  io: Io,
): Promise<number> {
  if (positionals.length !== 1) throw new InvalidInput('RUN_ID', 'show takes exactly one run id');
  const runId = parseInput(RUN_ID, positionals[0], 'RUN_ID');
  const repository = await resolveRepository(values.repo, io.cwd);
  const engine = await openEngine(repository, io);
  try {
    const run = engine.stores.runs.get(runId);
    if (run === undefined) throw new NotFound(`no run ${runId}`);
    renderShow(
      runId,
      runPlanDiffs(run, engine.home.artifacts),
      runPolicyResults(join(engine.home.artifacts, runId)),
      values,
      io,
    );
    return 0;
  } finally {
    engine.close();
  }
}
