// show RUN_ID [--project NAME]: what a run's plans change, attribute by attribute, read from
// the diff each plan job left next to its plan (no secret is in it). Colour on a terminal,
// none when piped or with NO_COLOR.
import { join } from 'node:path';
import { InvalidInput, NotFound } from '../../core/errors.ts';
import { RUN_ID } from '../../core/contracts/job-input.ts';
import { renderPlanText } from '../../core/plan-diff.ts';
import { parseInput } from '../../core/validation.ts';
import { type ShownPlan, planDiffsOf, runPlanDiffs } from '../engine/plan-diffs.ts';
import { openEngine, resolveRepository } from './context.ts';
import type { Io } from './io.ts';
import type { CliValues } from './main.ts';
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
    const wanted = values.project === undefined ? undefined : projectNames(values);
    const plans = runPlanDiffs(run, engine.home.artifacts).filter(
      (plan) => wanted === undefined || (plan.project !== null && wanted.includes(plan.project)),
    );
    if (wanted !== undefined) {
      const missing = wanted.filter((name) => !plans.some((plan) => plan.project === name));
      if (missing.length > 0)
        throw new InvalidInput('--project', `run ${runId} has no plan of ${missing.join(', ')}`);
    }
    if (values.json === true) {
      io.out(`${JSON.stringify({ runId, plans }, null, 2)}\n`);
      return 0;
    }
    if (plans.length === 0) {
      io.out(`run ${runId} has no plan to show (a destroy, a command, or a plan that failed)\n`);
      return 0;
    }
    io.out(renderPlans(plans, wantsColour(io)));
    return 0;
  } finally {
    engine.close();
  }
}
