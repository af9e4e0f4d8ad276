// 6. AWS cost model per run: each workflow's happy path runs on the local engine, and its
// event log gives what AWS would bill: state transitions (StateEntered events), Lambda
// invocations (Task states that are not Batch jobs) and their durations, executor seconds
// (Batch states). Priced with the published rates in lib/cost-model.ts, against an always-on
// Atlantis server on the smallest Fargate task that runs it.
import type { RunContext } from '../core/contracts/workflow-input.ts';
import { LocalEngine } from '../local/engine/local-engine.ts';
import { HELLO_EXAMPLE } from '../local/scratch-repo.ts';
import {
  ASSUMPTIONS,
  type Cost,
  DAYS_PER_MONTH,
  HOURS_PER_MONTH,
  RATES_US_EAST_1,
  RATE_SOURCES,
  type Usage,
  addUsage,
  alwaysOnMonthly,
  monthlyCost,
  priceUsage,
  usageFromEvents,
} from './lib/cost-model.ts';
import { benchTemp, engineEnv } from './lib/fixtures.ts';
import { type Benchmark, type Cell, table } from './lib/report.ts';
import { dollars } from './lib/stats.ts';
import { workflowKinds } from './lib/runs.ts';

const PROJECT = 'hello';
/** A repository's several projects, one layer: what a multi-project run is priced on. */
const MANY = Array.from({ length: 4 }, (_, i) => ({
  name: `p${i + 1}`,
  dir: `many/p${i + 1}`,
  layer: 0,
  varFiles: [],
}));
const VOLUME = { plansPerDay: 100, appliesPerDay: 20 };
/** The smallest Fargate size, which is what the comparison gives Atlantis (favouring it). */
const ATLANTIS_SMALLEST = { vcpu: 0.25, memoryGb: 0.5 };
/** Atlantis runs Terraform inside its own task: the size Stepform gives its executor. */
const ATLANTIS_EXECUTOR_SIZED = { vcpu: 1, memoryGb: 2 };

/** One invocation whose local duration is unknown or ~0: it is billed at the assumed minimum. */
const ONE_LAMBDA: Usage = {
  transitions: 0,
  lambdaMs: [0],
  executorSeconds: [],
  schedulerInvocations: 0,
};
const ONE_SCHEDULE: Usage = {
  transitions: 0,
  lambdaMs: [],
  executorSeconds: [],
  schedulerInvocations: 1,
};

export const cost: Benchmark = {
  id: 'cost',
  title: 'AWS cost model per run',
  async run(ctx) {
    const repo = await ctx.scratchRepo();
    for (const project of MANY) await repo.commitDir(HELLO_EXAMPLE, project.dir, project.name);
    const commit = await repo.commitDir(HELLO_EXAMPLE, PROJECT, 'hello');
    const home = ctx.temp(await benchTemp('cost-home'));
    const engine = new LocalEngine({ home, env: engineEnv() });
    const context = LocalEngine.runsOf({
      repository: repo.dir,
      commit,
      projectDir: PROJECT,
      autoApprove: false,
      approvalTimeoutSeconds: 600,
    });
    const measure = async (run: RunContext, expectedPhase: string) => {
      // Approves the run's approval as soon as it is requested (an approver clicking the link).
      const approver = setInterval(() => {
        const approval = engine.stores.approvals.forRun(run.runId);
        if (approval?.status === 'pending')
          void engine.stores.approvals.decide(
            approval.id,
            'approved',
            'bench',
            new Date().toISOString(),
          );
      }, 100);
      try {
        const outcome = await engine.run(run);
        if (outcome.status !== 'succeeded' || outcome.run.phase !== expectedPhase) {
          throw new Error(
            `${run.workflow} ended ${outcome.status} (${outcome.run.phase ?? '-'}), expected ${expectedPhase}`,
          );
        }
      } finally {
        clearInterval(approver);
      }
      const events = engine.stores.runs.listEvents(run.runId);
      // The callback Lambda's own work ends when it has recorded the approval request; the
      // wait for the decision that follows is not Lambda time.
      const callbackMs: Record<string, number> = {};
      const approval = engine.stores.approvals.forRun(run.runId);
      const entered = events.find((e) => e.type === 'entered' && e.state === 'RequestApproval');
      if (approval && entered) {
        callbackMs.RequestApproval = Math.max(
          0,
          Date.parse(approval.requestedAt) - Date.parse(entered.at),
        );
      }
      const usage = usageFromEvents(events, await workflowKinds(run.workflow), callbackMs);
      ctx.log(
        `  ${run.workflow}: ${usage.transitions} transitions, ${usage.lambdaMs.length} Lambda invocations, ${usage.executorSeconds.length} executor jobs`,
      );
      return { runId: run.runId, usage };
    };

    try {
      const plan = await measure(context('plan', 'cost'), 'planned');
      const apply = await measure(context('plan-apply', 'cost'), 'applied');
      const ephemeral = await measure(
        context('ephemeral', 'cost-preview', { ttlSeconds: 3600 }),
        'applied',
      );
      const destroy = await measure(
        context('destroy', 'cost-preview', { autoApprove: true }),
        'destroyed',
      );
      const several = { projects: MANY, projectDir: 'many' };
      const planMany = await measure(context('plan', 'cost-many', several), 'planned');
      const applyMany = await measure(context('plan-apply', 'cost-many', several), 'applied');

      const price = (usage: Usage): Cost => priceUsage(usage, RATES_US_EAST_1, ASSUMPTIONS);
      const rows: { label: string; usage: Usage; note: string }[] = [
        { label: 'plan (pull request)', usage: plan.usage, note: 'plan workflow' },
        {
          label: 'approved apply (merge)',
          usage: addUsage(apply.usage, ONE_LAMBDA),
          note: 'plan-apply with its approval, plus the approval endpoint’s Lambda for the click',
        },
        {
          label: 'ephemeral: create',
          usage: ephemeral.usage,
          note: 'ephemeral workflow (plan+apply job, schedule)',
        },
        {
          label: 'ephemeral: destroy',
          usage: addUsage(destroy.usage, ONE_SCHEDULE),
          note: 'destroy workflow started by the TTL schedule (one Scheduler invocation)',
        },
        {
          label: '**ephemeral environment (create + destroy)**',
          usage: addUsage(ephemeral.usage, destroy.usage, ONE_SCHEDULE),
          note: 'both of the above',
        },
        {
          label: `plan of ${MANY.length} projects`,
          usage: planMany.usage,
          note: 'plan workflow, one Map iteration (and executor job) per project',
        },
        {
          label: `approved apply of ${MANY.length} projects`,
          usage: addUsage(applyMany.usage, ONE_LAMBDA),
          note: 'plan-apply: a plan and an apply job per project, one approval for all',
        },
      ];
      const priced = rows.map((row) => ({ ...row, cost: price(row.usage) }));
      const perRunRows: Cell[][] = priced.map(({ label, usage, cost: c }) => [
        label,
        usage.transitions,
        `${usage.lambdaMs.length} (${Math.round(usage.lambdaMs.reduce((sum, ms) => sum + ms, 0))} ms)`,
        `${usage.executorSeconds.length} (${usage.executorSeconds.map((s) => s.toFixed(1)).join(' + ')} s → ${c.billedFargateSeconds} s billed)`,
        dollars(c.stepFunctions),
        dollars(c.lambdaRequests + c.lambdaDuration),
        dollars(c.fargate),
        dollars(c.total),
      ]);
      const perPlan = priced[0]?.cost.total ?? 0;
      const perApply = priced[1]?.cost.total ?? 0;
      const month = monthlyCost(perPlan, perApply, VOLUME);
      const atlantisSmall = alwaysOnMonthly(
        ATLANTIS_SMALLEST.vcpu,
        ATLANTIS_SMALLEST.memoryGb,
        RATES_US_EAST_1,
      );
      const atlantisSized = alwaysOnMonthly(
        ATLANTIS_EXECUTOR_SIZED.vcpu,
        ATLANTIS_EXECUTOR_SIZED.memoryGb,
        RATES_US_EAST_1,
      );
      const monthRows: Cell[][] = [
        [
          `Stepform: ${VOLUME.plansPerDay} plans + ${VOLUME.appliesPerDay} approved applies a day`,
          `${dollars(DAYS_PER_MONTH * VOLUME.plansPerDay * perPlan)} plans + ${dollars(DAYS_PER_MONTH * VOLUME.appliesPerDay * perApply)} applies`,
          `**${dollars(month)}**`,
        ],
        [
          `Atlantis, always on: Fargate ARM ${ATLANTIS_SMALLEST.vcpu} vCPU / ${ATLANTIS_SMALLEST.memoryGb} GB (the smallest task)`,
          `${HOURS_PER_MONTH} h`,
          `**${dollars(atlantisSmall)}**`,
        ],
        [
          `Atlantis, always on: Fargate ARM ${ATLANTIS_EXECUTOR_SIZED.vcpu} vCPU / ${ATLANTIS_EXECUTOR_SIZED.memoryGb} GB (Stepform's executor size)`,
          `${HOURS_PER_MONTH} h`,
          dollars(atlantisSized),
        ],
      ];
      const breakEvenPlansPerDay = atlantisSmall / DAYS_PER_MONTH / perPlan;
      return {
        tables: [
          table(
            [
              'per run',
              'state transitions',
              'Lambda invocations (local ms)',
              'executor jobs (local s → billed)',
              'Step Functions',
              'Lambda',
              'Fargate',
              'total',
            ],
            perRunRows,
            [1, 4, 5, 6, 7],
          ),
          table(['per month', 'made of', 'total'], monthRows, [2]),
          table(
            ['rate (us-east-1)', 'as published', 'source', 'as of'],
            RATE_SOURCES.map((r) => [r.rate, r.published, r.source, r.asOf]),
          ),
        ],
        notes: [
          `Usage comes from the local engine's event log of one happy-path run of each workflow on terraform/examples/hello (the multi-project rows: ${MANY.length} copies of it in one repository, one layer): a state transition per StateEntered event, a Lambda invocation per Task state that is not a Batch job, an executor job per Batch state with its local duration. The approved apply waits for a real approval (given through the store 0.1 s after it is asked for); the wait is not billed by Lambda or Step Functions Standard.`,
          `Assumptions: every Lambda on Arm with ${ASSUMPTIONS.lambdaMemoryGb * 1024} MB, each invocation billed at least ${ASSUMPTIONS.lambdaMinBilledMs} ms (locally a Lambda step is a SQLite write of a few ms; on AWS it calls DynamoDB, S3, Slack or GitHub); the executor on Fargate ARM with ${ASSUMPTIONS.executorVcpu} vCPU / ${ASSUMPTIONS.executorMemoryGb} GB, billed for ${ASSUMPTIONS.fargateStartupSeconds} s of image pull and start plus its run time, at least ${ASSUMPTIONS.fargateMinimumSeconds} s (Fargate's one-minute minimum, which decides every job here). AWS Batch adds no charge of its own.`,
          `A month is ${HOURS_PER_MONTH} hours (${DAYS_PER_MONTH.toFixed(2)} days), AWS's convention. Free tiers are left out (Step Functions' 4,000 transitions and Lambda's 1M requests a month would cover much of Stepform's bill). Not priced on either side: DynamoDB, S3, SQS and CloudWatch Logs requests (cents at this volume), Stepform's Secrets Manager secrets ($0.40 per secret-month each), and the load balancer or public endpoint Atlantis needs to receive webhooks.`,
          `At these rates Stepform's plans alone cost as much as the smallest always-on Atlantis task at about ${Math.round(breakEvenPlansPerDay)} plans a day.`,
        ],
        targets: [],
        data: {
          rates: RATES_US_EAST_1,
          rateSources: RATE_SOURCES,
          assumptions: ASSUMPTIONS,
          volume: VOLUME,
          runs: { plan, apply, ephemeral, destroy, planMany, applyMany },
          perRun: priced.map(({ label, usage, cost: c }) => ({ label, usage, cost: c })),
          monthly: {
            stepform: month,
            atlantisSmallest: atlantisSmall,
            atlantisExecutorSized: atlantisSized,
          },
          breakEvenPlansPerDay,
        },
      };
    } finally {
      engine.close();
    }
  },
};
