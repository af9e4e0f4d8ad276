// `npm run bench`: runs each benchmark in turn and writes bench/results/results.json and
// bench/results/RESULTS.md, with the machine they ran on and its load while they ran.
//
//   BENCH_QUICK=1           fewer repetitions: a smoke run of every benchmark
//   BENCH_ONLY=init,memory  only these benchmarks (ids: overhead, concurrency, init, pr-comment,
//                           plan-diff, memory, cost, projects, cli-start, image)
//   BENCH_KEEP=1            keep the temporary repositories and Stepform homes
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { cliStart } from './cli-start.ts';
import { concurrency } from './concurrency.ts';
import { cost } from './cost.ts';
import { image } from './image.ts';
import { init } from './init.ts';
import { BENCH_DIR } from './lib/fixtures.ts';
import { type Machine, describeMachine } from './lib/machine.ts';
import {
  type BenchContext,
  type BenchOutcome,
  type Benchmark,
  removeAll,
  table,
  verdict,
} from './lib/report.ts';
import { mebibytes, seconds } from './lib/stats.ts';
import { memory } from './memory.ts';
import { makeRepo } from '../local/scratch-repo.ts';
import { overhead } from './overhead.ts';
import { planDiffRendering } from './plan-diff.ts';
import { prComment } from './pr-comment.ts';
import { projects } from './projects.ts';

const BENCHMARKS: readonly Benchmark[] = [
  overhead,
  concurrency,
  init,
  prComment,
  planDiffRendering,
  memory,
  cost,
  projects,
  cliStart,
  image,
];
const RESULTS_DIR = join(BENCH_DIR, 'results');

interface Load {
  readonly atStart: readonly number[];
  readonly atEnd: readonly number[];
  /** The 1-minute load average sampled every 5 s while the benchmark ran. */
  readonly mean1m: number;
  readonly max1m: number;
}

interface Entry {
  readonly id: string;
  readonly title: string;
  readonly seconds: number;
  readonly load: Load;
  readonly outcome?: BenchOutcome;
  readonly error?: string;
}

const round2 = (value: number) => Math.round(value * 100) / 100;

/** Samples the 1-minute load average until stopped. */
function loadSampler(): () => Load {
  const atStart = os.loadavg().map(round2);
  const samples = [os.loadavg()[0] ?? 0];
  const timer = setInterval(() => samples.push(os.loadavg()[0] ?? 0), 5000);
  timer.unref();
  return () => {
    clearInterval(timer);
    samples.push(os.loadavg()[0] ?? 0);
    return {
      atStart,
      atEnd: os.loadavg().map(round2),
      mean1m: round2(samples.reduce((sum, value) => sum + value, 0) / samples.length),
      max1m: round2(Math.max(...samples)),
    };
  };
}

function machineTable(machine: Machine): string {
  return table(
    ['machine', ''],
    [
      ['date', machine.date],
      ['CPUs (nproc)', machine.nproc],
      ['CPU model', machine.cpuModel],
      ['memory', mebibytes(machine.memoryBytes, 0)],
      ['OS', `${machine.os} (${machine.kernel})`],
      ['Node', machine.node],
      ['engine', machine.engine],
      ['git', machine.git],
      ['Stepform', machine.stepform],
      ['load average at start (1, 5, 15 min)', machine.loadAverageAtStart.join(', ')],
    ],
  );
}

function renderMarkdown(
  machine: Machine,
  entries: readonly Entry[],
  run: { quick: boolean; seconds: number },
): string {
  const lines = [
    '# Stepform benchmarks',
    '',
    `Written by \`npm run bench\` (${run.quick ? 'BENCH_QUICK=1: a smoke run with few repetitions' : 'full run'}) in ${seconds(run.seconds * 1000, 0)}. Other work on the machine shares its CPUs: each benchmark lists the load average while it ran.`,
    '',
    machineTable(machine),
    '',
  ];
  const targets: string[][] = [];
  entries.forEach((entry, index) => {
    lines.push(`## ${index + 1}. ${entry.title}`, '');
    lines.push(
      `Ran ${seconds(entry.seconds * 1000, 0)}; 1-minute load average ${entry.load.mean1m} on average, ${entry.load.max1m} at most (${machine.nproc} CPUs).`,
      '',
    );
    if (entry.error !== undefined) {
      lines.push(`**Failed:** ${entry.error}`, '');
      targets.push([entry.title, 'benchmark failed', 'not measured', '']);
      return;
    }
    const outcome = entry.outcome;
    if (!outcome) return;
    for (const t of outcome.tables) lines.push(t, '');
    for (const note of outcome.notes) lines.push(`- ${note}`);
    if (outcome.notes.length > 0) lines.push('');
    for (const target of outcome.targets) {
      targets.push([entry.title, target.name, target.detail, verdict(target.met)]);
    }
  });
  if (targets.length > 0) {
    lines.push(
      '## Targets',
      '',
      table(['benchmark', 'target', 'measured', 'verdict'], targets),
      '',
    );
  }
  return lines.join('\n');
}

async function writeFormatted(path: string, text: string): Promise<void> {
  const options = (await resolveConfig(path)) ?? {};
  await writeFile(path, await format(text, { ...options, filepath: path }));
}

async function main(): Promise<number> {
  const quick = process.env.BENCH_QUICK === '1';
  const only = process.env.BENCH_ONLY?.split(',')
    .map((id) => id.trim())
    .filter(Boolean);
  const unknown = (only ?? []).filter((id) => !BENCHMARKS.some((b) => b.id === id));
  if (unknown.length > 0) {
    process.stderr.write(
      `bench: unknown benchmark ${unknown.join(', ')}; ids: ${BENCHMARKS.map((b) => b.id).join(', ')}\n`,
    );
    return 2;
  }
  const started = performance.now();
  const machine = await describeMachine();
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(
    `bench: ${machine.nproc} × ${machine.cpuModel}, ${machine.engine}, Node ${machine.node}, load ${machine.loadAverageAtStart.join(' ')}${quick ? ' (quick)' : ''}`,
  );
  const temps: string[] = [];
  const ctx: BenchContext = {
    quick,
    reps: (full, few) => (quick ? few : full),
    log: say,
    temp: (dir) => {
      temps.push(dir);
      return dir;
    },
    scratchRepo: async () => {
      const repo = await makeRepo();
      temps.push(repo.dir);
      return repo;
    },
  };
  const entries: Entry[] = [];
  try {
    for (const benchmark of BENCHMARKS) {
      if (only && !only.includes(benchmark.id)) continue;
      say(`\n== ${benchmark.id}: ${benchmark.title}`);
      const benchStarted = performance.now();
      const stopSampling = loadSampler();
      let outcome: BenchOutcome | undefined;
      let error: string | undefined;
      try {
        outcome = await benchmark.run(ctx);
      } catch (caught) {
        error = caught instanceof Error ? (caught.stack ?? caught.message) : String(caught);
        say(`bench ${benchmark.id} failed: ${error}`);
      }
      const entry: Entry = {
        id: benchmark.id,
        title: benchmark.title,
        seconds: Math.round((performance.now() - benchStarted) / 100) / 10,
        load: stopSampling(),
        ...(outcome ? { outcome } : {}),
        ...(error === undefined ? {} : { error: error.split('\n')[0] ?? error }),
      };
      entries.push(entry);
      for (const target of outcome?.targets ?? []) {
        say(`  target ${verdict(target.met).padEnd(7)} ${target.name}: ${target.detail}`);
      }
    }
  } finally {
    if (process.env.BENCH_KEEP !== '1') await removeAll(temps);
  }
  const totalSeconds = Math.round((performance.now() - started) / 1000);
  await mkdir(RESULTS_DIR, { recursive: true });
  const json = JSON.stringify({
    schemaVersion: 1,
    quick,
    only: only ?? null,
    seconds: totalSeconds,
    machine,
    benchmarks: entries,
  });
  await writeFormatted(join(RESULTS_DIR, 'results.json'), json);
  const markdown = renderMarkdown(machine, entries, { quick, seconds: totalSeconds });
  await writeFormatted(join(RESULTS_DIR, 'RESULTS.md'), markdown);
  say(`\nbench: done in ${totalSeconds} s; results in ${RESULTS_DIR}/{results.json,RESULTS.md}`);
  return entries.some((entry) => entry.error !== undefined) ? 1 : 0;
}

process.exitCode = await main();
