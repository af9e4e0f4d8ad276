// 1. Overhead over the bare engine: `stepform plan` and `stepform apply --auto-approve` (the
// real CLI, a child process per run) against `init` + `plan -out` (+ `apply`) of the same
// config in a fresh folder with the executor's CLI configuration. Runs are interleaved, and
// each round commits a new variable value first, so that every plan has changes.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openLocalStores } from '../local/engine/store/local-stores.ts';
import { HELLO_EXAMPLE } from '../local/scratch-repo.ts';
import {
  type BareEngine,
  bareEngine,
  bareJob,
  benchTemp,
  cliEnv,
  cpuSeconds,
  generatedConfig,
  runStepform,
} from './lib/fixtures.ts';
import { type Benchmark, type Cell, type Target, table } from './lib/report.ts';
import { buildPackage } from '../toolchain/build-package.ts';
import { PART_LABELS, attributeRun, jobResults, workflowKinds } from './lib/runs.ts';
import { medianByKey, ratio, seconds, spread, summarize, times } from './lib/stats.ts';

const ENVIRONMENT = 'bench';
/** Issue 17's target for the added time of an apply, per executor job. */
const MAX_ADDED_PER_JOB_MS = 250;

type Verb = 'plan' | 'apply';

interface Config {
  readonly id: string;
  readonly label: string;
  /** Folder in the benchmark repository. */
  readonly project: string;
  /** Generated terraform_data resources (none: the files of an example). */
  readonly resources?: number;
  /** The variable each round changes, through an auto.tfvars file. */
  readonly variable: string;
  /** What is measured: a large config is only planned (its targets are the plan's). */
  readonly verbs: readonly Verb[];
  /** Issue 17's target for `stepform plan` over bare init + plan, if it has one. */
  readonly planRatioTarget?: number;
}

const CONFIGS: readonly Config[] = [
  {
    id: 'generated',
    label: '200 × terraform_data',
    project: 'generated',
    resources: 200,
    variable: 'revision',
    verbs: ['plan', 'apply'],
    planRatioTarget: 1.5,
  },
  {
    id: 'generated-2000',
    label: '2,000 × terraform_data',
    project: 'generated-2000',
    resources: 2000,
    variable: 'revision',
    verbs: ['plan'],
    planRatioTarget: 1.15,
  },
  {
    id: 'hello',
    label: 'terraform/examples/hello',
    project: 'hello',
    variable: 'greeting',
    verbs: ['plan', 'apply'],
  },
];

interface Sample {
  readonly config: string;
  readonly verb: Verb;
  readonly round: number;
  readonly bareMs: number;
  readonly bareSteps: Record<string, number>;
  /** CPU seconds of every process the job ran. */
  readonly bareCpu: number;
  readonly stepformMs: number;
  readonly stepformCpu: number;
  readonly runId: string;
  readonly parts: Record<string, number>;
  readonly summary: unknown;
}

export const overhead: Benchmark = {
  id: 'overhead',
  title: 'Overhead over the bare engine',
  async run(ctx) {
    const rounds = ctx.reps(6, 1);
    const repo = await ctx.scratchRepo();
    const home = ctx.temp(await benchTemp('overhead-home'));
    const bareDir = ctx.temp(await benchTemp('overhead-bare'));
    const bare: BareEngine = await bareEngine(bareDir);
    await mkdir(join(bareDir, 'state'), { recursive: true });
    const env = cliEnv(home);
    // What users install and run: the package's bundled CLI and executor.
    const packaged = ctx.temp(await benchTemp('overhead-package'));
    await buildPackage(packaged);
    const bin = join(packaged, 'bin', 'stepform.js');
    for (const config of CONFIGS) {
      if (config.resources === undefined) continue;
      await repo.commitFiles(
        { [`${config.project}/main.tf`]: generatedConfig(config.resources) },
        config.label,
      );
    }
    await repo.commitDir(HELLO_EXAMPLE, 'hello', 'hello');
    const commitRound = (round: number) =>
      repo.commitFiles(
        Object.fromEntries(
          CONFIGS.map((c) => [
            `${c.project}/round.auto.tfvars`,
            `${c.variable} = "round-${round}"\n`,
          ]),
        ),
        `round ${round}`,
      );
    const kinds = {
      plan: await workflowKinds('plan'),
      apply: await workflowKinds('plan-apply'),
    };

    const stepform = async (config: Config, verb: Verb) => {
      const args = [verb, '--dir', config.project, '--env', ENVIRONMENT, '--json'];
      if (verb === 'apply') args.push('--auto-approve');
      const cpuBefore = await cpuSeconds();
      const timed = await runStepform(args, { cwd: repo.dir, env, bin });
      const cpu = (await cpuSeconds()) - cpuBefore;
      if (timed.exitCode !== 0) {
        throw new Error(`stepform ${args.join(' ')} exited ${timed.exitCode}:\n${timed.stderr}`);
      }
      const { runId } = JSON.parse(timed.stdout) as { runId: string };
      const store = openLocalStores(join(home, 'stepform.db'));
      try {
        const row = store.runs.get(runId);
        if (row?.status !== 'succeeded') throw new Error(`run ${runId} did not succeed`);
        const results = await jobResults(join(home, 'artifacts'), runId);
        const parts = attributeRun(timed, row, store.runs.listEvents(runId), kinds[verb], results);
        const summary = row.details.summary as { add: number; change: number; destroy: number };
        return { ms: timed.ms, cpu, runId, parts, summary };
      } finally {
        store.close();
      }
    };
    const bareRun = async (config: Config, verb: Verb) => {
      const cpuBefore = await cpuSeconds();
      const job = await bareJob(
        bare,
        join(repo.dir, config.project),
        join(bareDir, 'state', `${config.project}.tfstate`),
        verb,
      );
      return { ...job, cpu: (await cpuSeconds()) - cpuBefore };
    };

    // Round 0 creates every resource on both sides; it is not measured.
    await commitRound(0);
    for (const config of CONFIGS) {
      ctx.log(`  warm-up: ${config.label}`);
      await stepform(config, 'apply');
      await bareRun(config, 'apply');
    }

    const samples: Sample[] = [];
    for (let round = 1; round <= rounds; round += 1) {
      await commitRound(round);
      for (const config of CONFIGS) {
        for (const verb of config.verbs) {
          // Alternate who goes first, so that drift in the machine's load hits both sides.
          let s: Awaited<ReturnType<typeof stepform>>;
          let b: Awaited<ReturnType<typeof bareRun>>;
          if (round % 2 === 1) {
            s = await stepform(config, verb);
            b = await bareRun(config, verb);
          } else {
            b = await bareRun(config, verb);
            s = await stepform(config, verb);
          }
          // Both sides must have had changes to plan (and apply).
          const changes = s.summary.add + s.summary.change + s.summary.destroy;
          if (!b.hasChanges || changes === 0) {
            throw new Error(`round ${round} ${config.id} ${verb}: a plan without changes`);
          }
          samples.push({
            config: config.id,
            verb,
            round,
            bareMs: b.ms,
            bareSteps: b.steps,
            bareCpu: b.cpu,
            stepformMs: s.ms,
            stepformCpu: s.cpu,
            runId: s.runId,
            parts: s.parts,
            summary: s.summary,
          });
          ctx.log(
            `  round ${round}/${rounds} ${config.id} ${verb}: stepform ${seconds(s.ms)}, bare ${seconds(b.ms)}`,
          );
        }
      }
    }

    const rows: Cell[][] = [];
    const targets: Target[] = [];
    const groups: { config: Config; verb: Verb; picked: Sample[] }[] = [];
    const figures: Record<string, unknown>[] = [];
    for (const config of CONFIGS) {
      for (const verb of config.verbs) {
        const picked = samples.filter((s) => s.config === config.id && s.verb === verb);
        groups.push({ config, verb, picked });
        const b = summarize(picked.map((s) => s.bareMs));
        const s = summarize(picked.map((p) => p.stepformMs));
        const r = ratio(s.median, b.median);
        const added = s.median - b.median;
        const jobs = verb === 'apply' ? 2 : 1;
        const cpu = {
          bare: summarize(picked.map((p) => p.bareCpu)).median,
          stepform: summarize(picked.map((p) => p.stepformCpu)).median,
        };
        rows.push([
          config.label,
          `stepform ${verb === 'apply' ? 'apply --auto-approve' : 'plan'}`,
          picked.length,
          spread(b),
          spread(s),
          times(r),
          seconds(added),
          seconds(added / jobs),
          `${cpu.bare.toFixed(2)} s → ${cpu.stepform.toFixed(2)} s`,
        ]);
        figures.push({
          config: config.id,
          verb,
          bare: b,
          stepform: s,
          ratio: r,
          addedMs: added,
          cpuSeconds: cpu,
        });
        if (verb === 'plan' && config.planRatioTarget !== undefined) {
          targets.push({
            name: `stepform plan ≤ ${config.planRatioTarget}× bare init + plan (${config.label})`,
            met: r <= config.planRatioTarget,
            detail: `${times(r)} (${seconds(s.median)} against ${seconds(b.median)})`,
          });
        }
        if (verb === 'apply') {
          targets.push({
            name: `apply: ≤ ${MAX_ADDED_PER_JOB_MS / 1000} s added per executor job (${config.label})`,
            met: added / jobs <= MAX_ADDED_PER_JOB_MS,
            detail: `${seconds(added / jobs)} per job (${seconds(added)} over ${jobs} jobs)`,
          });
        }
      }
    }

    const timingTable = table(
      [
        'config',
        'command',
        'runs',
        'bare: init + plan -out (+ apply), median (min–max)',
        'Stepform, median (min–max)',
        'ratio',
        'added',
        'added per executor job',
        'CPU time, bare → Stepform (median)',
      ],
      rows,
      [2, 3, 4, 5, 6, 7, 8],
    );

    const partMedians = groups.map((g) => medianByKey(g.picked.map((s) => s.parts)));
    const bareMedians = groups.map((g) => medianByKey(g.picked.map((s) => s.bareSteps)));
    const partRows: Cell[][] = Object.entries(PART_LABELS).map(([key, label]) => [
      label,
      ...partMedians.map((m) => Math.round(m[key] ?? 0)),
    ]);
    partRows.push([
      '**Stepform, median wall time**',
      ...groups.map(
        (g) => `**${Math.round(summarize(g.picked.map((s) => s.stepformMs)).median)}**`,
      ),
    ]);
    for (const step of ['init', 'plan', 'apply']) {
      partRows.push([
        `bare: ${step}`,
        ...bareMedians.map((m) => (m[step] === undefined ? '–' : Math.round(m[step]))),
      ]);
    }
    partRows.push([
      '**bare, median wall time**',
      ...groups.map((g) => `**${Math.round(summarize(g.picked.map((s) => s.bareMs)).median)}**`),
    ]);
    const breakdownTable = table(
      ['where the time goes (median ms)', ...groups.map((g) => `${g.config.id} ${g.verb}`)],
      partRows,
      groups.map((_, index) => index + 1),
    );

    return {
      tables: [timingTable, breakdownTable],
      notes: [
        `${rounds} measured rounds after one warm-up round that creates everything; each round commits a new value of one variable, so every plan has changes (every generated resource updated in place; in hello one updated and one replaced), and each apply applies them. The 2,000-resource config is only planned (its target is the plan's). Within a round Stepform and the bare engine alternate who runs first.`,
        'Stepform: the installable package as users run it (built by `npm run build:package`: bundled JavaScript, its executor bundled too), `node <package>/bin/stepform.js plan|apply --auto-approve --json` as a child process in the repository, with STEPFORM_HOME in a temporary folder; timed from spawn to exit. `apply` is the plan-apply workflow: a plan job (a fresh git checkout and `init`) and an apply job, which takes the plan job’s checkout, initialised (a local run; on AWS each job is a fresh container).',
        'Bare: the same files copied (untimed) into a fresh folder, then `init -input=false`, `plan -input=false -out=…` and, for apply, `apply` of that plan, with the executor’s CLI configuration (filesystem mirror and plugin cache, from renderCliConfig) and a local state file outside the folder.',
        'CPU time: user + system seconds of every process the job started (the CLI, its executor processes, git and the engine, or the bare engine), from /proc/self/stat of this process around each job.',
        'Breakdown: the parts add up to the wall time. CLI start/end and the engine come from the run’s row and state events in the store, the Lambda-side states from their event durations, the executor steps from each job’s result.json `timings`, summed over the run’s jobs. A step a job takes twice (an apply reads the state before and after) is summed.',
      ],
      targets,
      data: { rounds, figures, samples },
    };
  },
};
