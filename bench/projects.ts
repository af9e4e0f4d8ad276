// 7. Projects of one repository (issue 17): eight projects applied by one plan-apply run (its
// Map states plan them, then apply the one layer, up to max_parallel at once) against the same
// eight applied by eight runs one after another. Both run the installable package's CLI as
// users do (`stepform apply --all`, and `stepform apply --project pN` eight times), from a
// stepform.yaml naming the eight; each round follows a commit that changes every project, so
// each plans and applies a change.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MAX_PARALLEL } from '../core/contracts/workflow-input.ts';
import { HELLO_EXAMPLE } from '../local/scratch-repo.ts';
import { buildPackage } from '../toolchain/build-package.ts';
import { benchTemp, cliEnv, cpuSeconds, runStepform } from './lib/fixtures.ts';
import { type Benchmark, table } from './lib/report.ts';
import { median, ratio, seconds, spread, summarize, times } from './lib/stats.ts';

const PROJECTS = Array.from({ length: 8 }, (_, i) => ({
  name: `p${i + 1}`,
  dir: `projects/p${i + 1}`,
}));
/** The target: eight projects in one run at least this much faster than one by one. */
const TARGET_SPEEDUP = 1.7;

/** One environment per mode, so both apply the same change to states of their own. */
const STEPFORM_YAML = [
  'version: 1',
  'environments:',
  '  together: {}',
  '  apart: {}',
  'projects:',
  ...PROJECTS.flatMap((p) => [`  - name: ${p.name}`, `    dir: ${p.dir}`]),
  '',
].join('\n');

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
    await repo.commitFiles({ 'stepform.yaml': STEPFORM_YAML }, 'stepform.yaml');
    const env = cliEnv(ctx.temp(await benchTemp('projects-home')));
    const packaged = ctx.temp(await benchTemp('projects-package'));
    await buildPackage(packaged);
    const bin = join(packaged, 'bin', 'stepform.js');
    const newCommit = (label: string) =>
      repo.commitFiles(
        Object.fromEntries(
          PROJECTS.map((p) => [`${p.dir}/round.auto.tfvars`, `greeting = "${label}"\n`]),
        ),
        label,
      );
    const apply = async (selection: readonly string[], environment: string) => {
      const args = ['apply', ...selection, '--env', environment, '--auto-approve', '--json'];
      const ran = await runStepform(args, { cwd: repo.dir, env, bin });
      const outcome = JSON.parse(ran.stdout || '{}') as { status?: string; phase?: string };
      if (ran.exitCode !== 0 || outcome.status !== 'succeeded' || outcome.phase !== 'applied') {
        throw new Error(`stepform ${args.join(' ')} exited ${ran.exitCode}:\n${ran.stderr}`);
      }
    };
    const together = () => apply(['--all'], 'together');
    const oneByOne = async () => {
      for (const project of PROJECTS) await apply(['--project', project.name], 'apart');
    };

    ctx.log('  warm-up: 8 projects created both ways');
    await newCommit('warm-up');
    await together();
    await oneByOne();

    const measured: Round[] = [];
    for (let round = 1; round <= rounds; round += 1) {
      const modes: Round['mode'][] =
        round % 2 === 1 ? ['one after another', 'one run'] : ['one run', 'one after another'];
      for (const mode of modes) {
        await newCommit(`${mode.replaceAll(' ', '-')}-${round}`);
        const cpuBefore = await cpuSeconds();
        const started = performance.now();
        if (mode === 'one run') await together();
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
    const oneRun = summarize(measured.filter((r) => r.mode === 'one run').map((r) => r.wallMs));
    const speedup = ratio(apart.median, oneRun.median);
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
              spread(oneRun),
              `${cpuOf('one run').toFixed(1)} s`,
            ],
            ['**speedup**', '', `**${times(speedup)}**`, ''],
          ],
          [1, 2, 3],
        ),
      ],
      notes: [
        `Eight copies of terraform/examples/hello in one repository (projects/p1 … p8 in its stepform.yaml, one layer), auto-approved plan-applies by the installable package's CLI (\`npm run build:package\`), each a child process, as users run it. One run covers all eight (\`stepform apply --all\`: its plan Map and its layer's apply Map run up to max_parallel = ${DEFAULT_MAX_PARALLEL} iterations at once, each an executor process); the other mode runs \`stepform apply --project pN\` eight times in turn. ${rounds} round(s) of each, interleaved, each after a commit that changes every project; a warm-up round creates the states first.`,
        `CPU time is user + system seconds of this process and every process it started. On ${cpus} CPUs the one-run wall time cannot fall below CPU time / ${cpus}: ${(cpuOf('one run') / cpus).toFixed(1)} s here.`,
      ],
      targets: [
        {
          name: `8 projects in one run ≥ ${TARGET_SPEEDUP}× faster than one after another`,
          met: speedup >= TARGET_SPEEDUP,
          detail: `${times(speedup)} (${seconds(apart.median)} → ${seconds(oneRun.median)})`,
        },
      ],
      data: {
        rounds: measured,
        speedup,
        apart,
        together: oneRun,
        cpus,
        maxParallel: DEFAULT_MAX_PARALLEL,
      },
    };
  },
};
