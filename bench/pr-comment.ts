// 4. PR comment: renderPrComment for a plan of 5,000 resources with mixed actions. Its time
// (median of many renders), its length against GitHub's limit, and whether every destroy and
// replace is still listed once the comment has to be cut.
import { type PlanSummary, type ResourceChange, summaryOf } from '../core/plan-summary.ts';
import { GITHUB_COMMENT_LIMIT, renderPrComment } from '../core/pr-comment.ts';
import { type Benchmark, table } from './lib/report.ts';
import { millis, percentile, summarize } from './lib/stats.ts';

const RESOURCES = 5000;
const WARM_UP = 20;

/** Share of each kind of change, out of 100; the rest are creates. */
const MIX = [
  { kind: 'update', share: 30 },
  { kind: 'delete', share: 10 },
  { kind: 'replace', share: 6 },
  { kind: 'import', share: 4 },
  { kind: 'update+import', share: 2 },
] as const;

const TYPES = [
  'aws_instance',
  'aws_security_group_rule',
  'aws_iam_role_policy_attachment',
  'aws_route53_record',
  'aws_s3_bucket_object',
  'aws_cloudwatch_metric_alarm',
];

/** A deterministic plan: realistic module addresses, the mix above spread evenly. */
export function syntheticPlan(count: number): PlanSummary {
  const resources: ResourceChange[] = [];
  for (let i = 0; i < count; i += 1) {
    const slot = (i * 37) % 100;
    let cursor = 0;
    let kind: string = 'create';
    for (const m of MIX) {
      if (slot >= cursor && slot < cursor + m.share) kind = m.kind;
      cursor += m.share;
    }
    const type = TYPES[i % TYPES.length] ?? 'aws_instance';
    const address = `module.service_${String(i % 40).padStart(2, '0')}.${type}.this["item-${String(i).padStart(4, '0')}"]`;
    if (kind === 'import') resources.push({ address, action: 'no-op', importing: true });
    else if (kind === 'update+import')
      resources.push({ address, action: 'update', importing: true });
    else {
      resources.push({
        address,
        action: kind as ResourceChange['action'],
        importing: false,
      });
    }
  }
  return summaryOf(
    resources,
    Array.from({ length: 12 }, (_, i) => ({
      name: `endpoint_${i}`,
      action: 'update' as const,
      sensitive: i % 4 === 0,
      value: `https://service-${i}.example.internal/`,
    })),
  );
}

/** The run a benchmarked comment is of: a plan in production, its artifacts on S3. */
export const COMMENT_RUN = {
  workflow: 'plan',
  environment: 'production',
  projectDir: 'terraform/platform',
  commit: '0123456789abcdef0123456789abcdef01234567',
  runId: '20261101T120000Z-abcdef',
  status: 'planned',
  artifactLocation: 's3://stepform-artifacts/artifacts/20261101T120000Z-abcdef/plan/plan.txt',
  url: 'https://console.aws.amazon.com/states/home#/executions/details/example',
} as const;

export const prComment: Benchmark = {
  id: 'pr-comment',
  title: 'PR comment for a 5,000-resource plan',
  run(ctx) {
    const iterations = ctx.reps(300, 30);
    const summary = syntheticPlan(RESOURCES);
    const input = { ...COMMENT_RUN, summary };
    // Warm-up (JIT), then the measured renders.
    for (let i = 0; i < WARM_UP; i += 1) renderPrComment(input);
    const samples: number[] = [];
    let comment = '';
    for (let i = 0; i < iterations; i += 1) {
      const started = performance.now();
      comment = renderPrComment(input);
      samples.push(performance.now() - started);
    }
    const s = summarize(samples);
    const p95 = percentile(samples, 95);

    const destroyTotal = summary.resources.filter((r) => r.action === 'delete').length;
    const replaceTotal = summary.resources.filter((r) => r.action === 'replace').length;
    const listed = (label: string) =>
      comment.split('\n').filter((line) => line.startsWith(`- **${label}** `)).length;
    const otherListed = comment
      .split('\n')
      .filter((line) => /^- \*\*(create|update|import|update, import)\*\* /.test(line)).length;
    const omitted = /\*\*(\d+) more resources not shown\*\*/.exec(comment)?.[1];
    const byAction = (action: string) =>
      summary.resources.filter((r) => r.action === action).length;
    const allDestroysListed =
      listed('delete') === destroyTotal && listed('replace') === replaceTotal;
    ctx.log(
      `  ${iterations} renders: median ${s.median.toFixed(2)} ms, ${comment.length} characters`,
    );
    return Promise.resolve({
      tables: [
        table(
          ['measure', 'value'],
          [
            [
              'plan',
              `${RESOURCES} resources: ${byAction('create')} create, ${byAction('update')} update (${summary.resources.filter((r) => r.action === 'update' && r.importing).length} of them imported), ${destroyTotal} delete, ${replaceTotal} replace, ${byAction('no-op')} import; 12 outputs`,
            ],
            [
              `render time, median of ${iterations} (min–max, p95)`,
              `${s.median.toFixed(2)} ms (${s.min.toFixed(2)}–${s.max.toFixed(2)}, p95 ${p95.toFixed(2)})`,
            ],
            [
              'comment length',
              `${comment.length.toLocaleString('en-US')} characters (limit ${GITHUB_COMMENT_LIMIT.toLocaleString('en-US')})`,
            ],
            ['deletes listed', `${listed('delete')} of ${destroyTotal}`],
            ['replaces listed', `${listed('replace')} of ${replaceTotal}`],
            [
              'other changes listed (folded)',
              `${otherListed} of ${RESOURCES - destroyTotal - replaceTotal}`,
            ],
            [
              '"more resources not shown" note',
              omitted === undefined ? 'none' : `${omitted} not shown, with the plan’s location`,
            ],
          ],
        ),
      ],
      notes: [
        `The summary is synthetic and deterministic (bench/pr-comment.ts): module addresses of 60–80 characters, the actions spread evenly. Each render is timed with performance.now() in this process, after ${WARM_UP} warm-up renders; ${millis(s.median)} is the median.`,
        'Lines counted in the text: `- **delete** …` and `- **replace** …` for destroys, the other actions for the folded list.',
      ],
      targets: [
        {
          name: `comment ≤ ${GITHUB_COMMENT_LIMIT.toLocaleString('en-US')} characters`,
          met: comment.length <= GITHUB_COMMENT_LIMIT,
          detail: `${comment.length.toLocaleString('en-US')} characters`,
        },
        {
          name: 'every destroy and replace still listed',
          met: allDestroysListed,
          detail: `${listed('delete')}/${destroyTotal} deletes, ${listed('replace')}/${replaceTotal} replaces`,
        },
      ],
      data: {
        iterations,
        renderMs: s,
        p95Ms: p95,
        length: comment.length,
        limit: GITHUB_COMMENT_LIMIT,
        deletes: { total: destroyTotal, listed: listed('delete') },
        replaces: { total: replaceTotal, listed: listed('replace') },
        othersListed: otherListed,
        omitted: omitted === undefined ? 0 : Number(omitted),
      },
    });
  },
};
