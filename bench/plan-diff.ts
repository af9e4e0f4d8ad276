// 4b. The plan diff for a plan of 5,000 resources: building it from `show -json` (what each plan
// job does once) and rendering it where people read it: the PR comment with its per-resource
// diffs, the approval page, and `stepform show`. The plan is made of the golden plans' resource
// changes (test/fixtures/plans: real Terraform `show -json` of creates, updates of nested
// blocks, replaces, deletes, imports, moves, sensitive and unknown values), copied into
// modules until it has 5,000, so every kind of change and value is in it.
import { PAGE_DIFF_BUDGET } from '../core/approval-endpoint.ts';
import { planDiff, renderPlanHtml, renderPlanText } from '../core/plan-diff.ts';
import { PLAN_JSON, summarizePlan } from '../core/plan-summary.ts';
import { GITHUB_COMMENT_LIMIT, renderPrComment } from '../core/pr-comment.ts';
import { fixturePlan, PLAN_FIXTURE_CASES } from '../test/support/plan-fixtures.ts';
import { type Benchmark, table } from './lib/report.ts';
import { COMMENT_RUN } from './pr-comment.ts';
import { type Summary, percentile, summarize } from './lib/stats.ts';

const RESOURCES = 5000;
/** What a rendering may take (the target for the comment and the diff's renderings). */
const TARGET_MS = 100;

interface ResourceChangeJson {
  readonly address: string;
  readonly module_address?: string;
  readonly previous_address?: string;
  readonly [key: string]: unknown;
}

/** The golden plans' resource changes, copied into module.group_N until there are `count`. */
export function largePlan(count: number): Record<string, unknown> {
  const plans = PLAN_FIXTURE_CASES.map((name) => fixturePlan(name) as Record<string, unknown>);
  const changes = plans.flatMap(
    (plan) => (plan.resource_changes as ResourceChangeJson[] | undefined) ?? [],
  );
  const inModule = (address: string | undefined, module: string) =>
    address === undefined ? undefined : `${module}.${address}`;
  const rounds = Math.ceil(count / changes.length);
  const resource_changes = Array.from({ length: rounds }, (_, round) => {
    const module = `module.group_${round}`;
    return changes.map((change) => ({
      ...change,
      address: inModule(change.address, module),
      module_address: module,
      ...(change.previous_address === undefined
        ? {}
        : { previous_address: inModule(change.previous_address, module) }),
    }));
  })
    .flat()
    .slice(0, count);
  // The outputs and variables of the first plan that has them (each golden plan is one root).
  const withOutputs = plans.find((plan) => plan.output_changes !== undefined) ?? {};
  return { ...plans[0], ...withOutputs, resource_changes };
}

/** Median-of-n timing of `work` after warm-up runs; returns its last result too. */
function timed<T>(n: number, warmUp: number, work: () => T): { ms: Summary; p95: number; last: T } {
  let last = work();
  for (let i = 1; i < warmUp; i += 1) last = work();
  const samples: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const started = performance.now();
    last = work();
    samples.push(performance.now() - started);
  }
  return { ms: summarize(samples), p95: percentile(samples, 95), last };
}

const shown = (t: { ms: Summary; p95: number }) =>
  `${t.ms.median.toFixed(1)} ms (${t.ms.min.toFixed(1)}–${t.ms.max.toFixed(1)}, p95 ${t.p95.toFixed(1)})`;

export const planDiffRendering: Benchmark = {
  id: 'plan-diff',
  title: 'Plan diff for a 5,000-resource plan: built and rendered',
  run(ctx) {
    const n = ctx.reps(30, 5);
    const warmUp = ctx.reps(5, 2);
    const planJson = largePlan(RESOURCES);
    const build = timed(n, warmUp, () => planDiff(planJson));
    const diff = build.last;
    const summary = summarizePlan(PLAN_JSON.parse(planJson));
    const comment = timed(n, warmUp, () => renderPrComment({ ...COMMENT_RUN, summary, diff }));
    const page = timed(n, warmUp, () => renderPlanHtml(diff, { maxChars: PAGE_DIFF_BUDGET }));
    const text = timed(n, warmUp, () => renderPlanText(diff, { color: false }));
    const kinds = new Map<string, number>();
    for (const resource of summary.resources)
      kinds.set(resource.action, (kinds.get(resource.action) ?? 0) + 1);
    const mix = [...kinds].map(([action, k]) => `${k} ${action}`).join(', ');
    const renderings = [
      ['PR comment with the diffs (renderPrComment)', comment, comment.last.length],
      [
        'approval page’s diff (renderPlanHtml, its 1,000,000-character budget)',
        page,
        page.last.length,
      ],
      ['`stepform show` (renderPlanText, whole)', text, text.last.length],
    ] as const;
    ctx.log(
      `  built in ${build.ms.median.toFixed(1)} ms; ` +
        renderings
          .map(([name, t]) => `${name.split(' (')[0]} ${t.ms.median.toFixed(1)} ms`)
          .join(', '),
    );
    return Promise.resolve({
      tables: [
        table(
          ['step', `time, median of ${n} (min–max, p95)`, 'output'],
          [
            [
              'diff built from `show -json` (planDiff, in each plan job)',
              shown(build),
              `${diff.resources.length} resources`,
            ],
            ...renderings.map(([name, t, length]) => [
              name,
              shown(t),
              `${length.toLocaleString('en-US')} characters`,
            ]),
          ],
          [2],
        ),
      ],
      notes: [
        `The plan: ${RESOURCES} resource changes (${mix}), made of the ${PLAN_FIXTURE_CASES.length} golden plans' changes copied into modules, with their outputs; every kind of value (nested blocks, sensitive, unknown, replace paths) is in it.`,
        `Each step is timed with performance.now() in this process after ${warmUp} warm-up runs. The comment stays within GitHub's ${GITHUB_COMMENT_LIMIT.toLocaleString('en-US')} characters (${comment.last.length <= GITHUB_COMMENT_LIMIT ? 'it does' : 'it does not'}): destroys and replaces first, then as many diffs as fit, with a note naming where the full plan is.`,
      ],
      targets: renderings.map(([name, t]) => ({
        name: `${name.split(' (')[0]} renders in < ${TARGET_MS} ms`,
        met: t.ms.median < TARGET_MS,
        detail: `${t.ms.median.toFixed(1)} ms`,
      })),
      data: {
        resources: RESOURCES,
        buildMs: build.ms,
        comment: { ms: comment.ms, p95: comment.p95, length: comment.last.length },
        page: { ms: page.ms, p95: page.p95, length: page.last.length },
        text: { ms: text.ms, p95: text.p95, length: text.last.length },
      },
    });
  },
};
