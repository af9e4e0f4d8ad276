// 8. CLI start (issue 17): how long `stepform --help` and `stepform runs` take from spawn to
// exit, the time every command pays before it does anything. `runs` reads a store that holds
// runs (made by a real plan first), in a repository, as a user's would be.
import { join } from 'node:path';
import { buildPackage } from '../toolchain/build-package.ts';
import { HELLO_EXAMPLE } from '../local/scratch-repo.ts';
import { benchTemp, cliEnv, runStepform } from './lib/fixtures.ts';
import { type Benchmark, type Target, table } from './lib/report.ts';
import { millis, spread, summarize } from './lib/stats.ts';

/** Issue 17's target for a read-only verb's start. */
const TARGET_MS = 150;

/** The commands timed, with the clone's bin and the package's. */
const COMMANDS: readonly (readonly string[])[] = [['--help'], ['runs']];

export const cliStart: Benchmark = {
  id: 'cli-start',
  title: 'CLI start: --help and runs',
  async run(ctx) {
    const repetitions = ctx.reps(20, 3);
    const repo = await ctx.scratchRepo();
    await repo.commitDir(HELLO_EXAMPLE, 'hello', 'hello');
    const home = ctx.temp(await benchTemp('cli-start-home'));
    const env = cliEnv(home);
    // A store with runs in it: `runs` lists something.
    for (let i = 0; i < 3; i += 1) {
      const planned = await runStepform(['plan', '--dir', 'hello', '--env', 'dev'], {
        cwd: repo.dir,
        env,
      });
      if (planned.exitCode !== 0) throw new Error(`stepform plan failed:\n${planned.stderr}`);
    }
    // The package as `npm run build:package` builds it, what users install.
    const packaged = ctx.temp(await benchTemp('cli-start-package'));
    await buildPackage(packaged);
    const bins = [
      { label: 'package (bin/stepform.js)', path: join(packaged, 'bin', 'stepform.js') },
      { label: 'clone (bin/stepform.js, TypeScript sources)', path: undefined },
    ];
    const rows: (string | number)[][] = [];
    const targets: Target[] = [];
    const figures: Record<string, unknown>[] = [];
    for (const bin of bins) {
      for (const args of COMMANDS) {
        const samples: number[] = [];
        // One untimed start first: the OS's file cache, not Stepform, is what it warms.
        for (let i = 0; i <= repetitions; i += 1) {
          const timed = await runStepform(args, {
            cwd: repo.dir,
            env,
            ...(bin.path === undefined ? {} : { bin: bin.path }),
          });
          if (timed.exitCode !== 0)
            throw new Error(`stepform ${args.join(' ')} exited ${timed.exitCode}`);
          if (i > 0) samples.push(timed.ms);
        }
        const summary = summarize(samples);
        const command = `stepform ${args.join(' ')}`;
        rows.push([bin.label, command, repetitions, spread(summary, 3)]);
        figures.push({ bin: bin.label, command, summary });
        // The target is what users run; the clone's start is shown for comparison.
        if (bin.path !== undefined) {
          targets.push({
            name: `${command} starts in ≤ ${TARGET_MS} ms (${bin.label})`,
            met: summary.median <= TARGET_MS,
            detail: millis(summary.median),
          });
        }
        ctx.log(`  ${bin.label} ${command}: ${millis(summary.median)}`);
      }
    }
    return {
      tables: [table(['bin', 'command', 'runs', 'wall time, median (min–max)'], rows, [2, 3])],
      notes: [
        `Each command is spawned ${repetitions} times after one untimed start, with this machine's Node, in a repository whose Stepform home holds 3 runs; timed from spawn to exit. The package's bin (\`npm run build:package\`, what users install) loads bundled JavaScript, each verb its own chunks; the clone's loads the TypeScript sources (type stripping at run time). The target is the package's.`,
      ],
      targets,
      data: { repetitions, figures },
    };
  },
};
