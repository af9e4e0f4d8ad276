// 7. Projects of one repository (issue 17): eight projects applied by one plan-apply run (its
// Map states plan them, then apply the one layer, up to max_parallel at once) against the same
// eight applied by eight runs one after another. Both go through the local engine as the CLI
// runs them; each round follows a commit that changes every project, so each plans and
// applies a change.
import { availableParallelism } from 'node:os';
import type { RunContext, RunProject } from '../core/contracts/workflow-input.ts';
import { DEFAULT_MAX_PARALLEL } from '../core/contracts/workflow-input.ts';
import type { RunOutcome } from '../local/engine/engine.ts';
import { LocalEngine } from '../local/engine/local-engine.ts';
import { HELLO_EXAMPLE } from '../local/scratch-repo.ts';
import { benchTemp, cpuSeconds, engineEnv } from './lib/fixtures.ts';
import { type Benchmark, table } from './lib/report.ts';
import { median, ratio, seconds, spread, summarize, times } from './lib/stats.ts';

const PROJECTS: readonly RunProject[] = Array.from({ length: 8 }, (_, i) => ({
  name: `p${i + 1}`,
  dir: `projects/p${i + 1}`,
  layer: 0,
  varFiles: [],
}));
/** The target: eight projects in one run at least this much faster than one by one. */
const TARGET_SPEEDUP = 1.7;

interface Round {
  readonly mode: 'one run' | 'one after another';
  readonly round: number;
  readonly wallMs: number;
  readonly cpuSeconds: number;
}

export const projects: Benchmark = {
  id: 'projects',
  title: 'Projects: eight in one run against eight runs one after another',
  async run(ctx) {
    const rounds = ctx.reps(3, 1);
    const repo = await ctx.scratchRepo();
    for (const project of PROJECTS) await repo.commitDir(HELLO_EXAMPLE, project.dir, project.name);
    const home = ctx.temp(await benchTemp('projects-home'));
    const engine = new LocalEngine({ home, env: engineEnv() });
    let commit = '';
    const newCommit = async (label: string) => {
      commit = await repo.commitFiles(
        Object.fromEntries(
          PROJECTS.map((p) => [`${p.dir}/round.auto.tfvars`, `greeting = "${label}"\n`]),
        ),
        label,
      );
    };
    const context = (environment: string, covered: readonly RunProject[]): RunContext =>
      LocalEngine.newRun({
        workflow: 'plan-apply',
        repository: repo.dir,
        commit,
        projectDir: covered[0]?.dir ?? '.',
        environment,
        autoApprove: true,
        approvalTimeoutSeconds: 600,
        ...(covered.length > 1 ? { projects: [...covered] } : {}),
      });
    const apply = async (covered: readonly RunProject[]): Promise<RunOutcome> => {
      // One environment per mode, so both apply the same change to states of their own.
      const environment = covered.length > 1 ? 'together' : 'apart';
      const outcome = await engine.run(context(environment, covered));
      if (outcome.status !== 'succeeded' || outcome.run.phase !== 'applied') {
        throw new Error(
          `apply of ${covered.map((p) => p.name).join(', ')} ${outcome.status} (${outcome.run.phase ?? '-'}): ${outcome.error?.message ?? ''}`,
        );
      }
      return outcome;
    };
    const oneByOne = async () => {
      for (const project of PROJECTS) await apply([project]);
    };

    try {
      ctx.log('  warm-up: 8 projects created both ways');
      await newCommit('warm-up');
      await apply(PROJECTS);
      await oneByOne();

      const measured: Round[] = [];
      for (let round = 1; round <= rounds; round += 1) {
        const modes: Round['mode'][] =
          round % 2 === 1 ? ['one after another', 'one run'] : ['one run', 'one after another'];
        for (const mode of modes) {
          await newCommit(`${mode.replaceAll(' ', '-')}-${round}`);
          const cpuBefore = await cpuSeconds();
          const started = performance.now();
          if (mode === 'one run') await apply(PROJECTS);
          else await oneByOne();
          const wallMs = performance.now() - started;
          const cpu = (await cpuSeconds()) - cpuBefore;
          measured.push({ mode, round, wallMs, cpuSeconds: cpu });
          ctx.log(
            `  round ${round}/${rounds} ${mode}: 8 projects in ${seconds(wallMs)}, ${cpu.toFixed(1)} CPU s`,
          );
        }
      }

      const apart = summarize(
        measured.filter((r) => r.mode === 'one after another').map((r) => r.wallMs),
      );
      const together = summarize(measured.filter((r) => r.mode === 'one run').map((r) => r.wallMs));
      const speedup = ratio(apart.median, together.median);
      const cpuOf = (mode: Round['mode']) =>
        median(measured.filter((r) => r.mode === mode).map((r) => r.cpuSeconds));
      const cpus = availableParallelism();
      return {
        tables: [
          table(
            ['mode', 'rounds', 'wall time for 8 projects, median (min–max)', 'CPU time, median'],
            [
              [
                '8 runs, one after another',
                rounds,
                spread(apart),
                `${cpuOf('one after another').toFixed(1)} s`,
              ],
              [
                `1 run of 8 projects (max_parallel ${DEFAULT_MAX_PARALLEL})`,
                rounds,
                spread(together),
                `${cpuOf('one run').toFixed(1)} s`,
              ],
              ['**speedup**', '', `**${times(speedup)}**`, ''],
            ],
            [1, 2, 3],
          ),
        ],
        notes: [
          `Eight copies of terraform/examples/hello in one repository (projects/p1 … p8, one layer), auto-approved plan-applies through one LocalEngine. One run covers all eight (its plan Map and its layer's apply Map run up to max_parallel = ${DEFAULT_MAX_PARALLEL} iterations at once, each an executor process); the other mode runs eight one-project runs in turn. ${rounds} round(s) of each, interleaved, each after a commit that changes every project; a warm-up round creates the states first.`,
          `CPU time is user + system seconds of this process and every process it started. On ${cpus} CPUs the one-run wall time cannot fall below CPU time / ${cpus}: ${(cpuOf('one run') / cpus).toFixed(1)} s here.`,
        ],
        targets: [
          {
            name: `8 projects in one run ≥ ${TARGET_SPEEDUP}× faster than one after another`,
            met: speedup >= TARGET_SPEEDUP,
            detail: `${times(speedup)} (${seconds(apart.median)} → ${seconds(together.median)})`,
          },
        ],
        data: {
          rounds: measured,
          speedup,
          apart,
          together,
          cpus,
          maxParallel: DEFAULT_MAX_PARALLEL,
        },
      };
    } finally {
      engine.close();
    }
  },
};
