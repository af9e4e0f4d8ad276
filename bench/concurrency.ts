// 2. Concurrency: eight environments applied at once through the local engine (eight
// engine.run calls in one process, each with its executor and engine child processes)
// against the same eight one after another; then the store's lock history, which must show
// that no two runs ever held one environment's lock at the same time.
import { availableParallelism } from 'node:os';
import type { RunContext } from '../core/contracts/workflow-input.ts';
import type { RunOutcome } from '../local/engine/engine.ts';
import { LocalEngine } from '../local/engine/local-engine.ts';
import { HELLO_EXAMPLE } from '../local/scratch-repo.ts';
import { benchTemp, cpuSeconds, engineEnv } from './lib/fixtures.ts';
import { type Hold, maxConcurrent, overlappingPairs } from './lib/intervals.ts';
import { type Benchmark, type Cell, table } from './lib/report.ts';
import { median, ratio, seconds, spread, summarize, times } from './lib/stats.ts';

const ENVIRONMENTS = Array.from({ length: 8 }, (_, i) => `env-${i + 1}`);
const PROJECT = 'hello';
const CONTENDED = 'contended';
const CONTENDERS = 3;

interface Round {
  readonly mode: 'sequential' | 'parallel';
  readonly round: number;
  readonly wallMs: number;
  /** CPU seconds of this process (the engine) and every process the round started. */
  readonly cpuSeconds: number;
  readonly runMs: readonly number[];
  readonly runIds: readonly string[];
}

const runMs = (outcome: RunOutcome): number =>
  Date.parse(outcome.run.finishedAt ?? outcome.run.startedAt) - Date.parse(outcome.run.startedAt);

export const concurrency: Benchmark = {
  id: 'concurrency',
  title: 'Concurrency: eight environments at once',
  async run(ctx) {
    const rounds = ctx.reps(2, 1);
    const repo = await ctx.scratchRepo();
    await repo.commitDir(HELLO_EXAMPLE, PROJECT, 'hello');
    const home = ctx.temp(await benchTemp('concurrency-home'));
    const engine = new LocalEngine({ home, env: engineEnv() });
    let commit = '';
    const newCommit = async (label: string) => {
      commit = await repo.commitFiles(
        { [`${PROJECT}/round.auto.tfvars`]: `greeting = "${label}"\n` },
        label,
      );
    };
    const context = (environment: string): RunContext =>
      LocalEngine.newRun({
        workflow: 'plan-apply',
        repository: repo.dir,
        commit,
        projectDir: PROJECT,
        environment,
        autoApprove: true,
        approvalTimeoutSeconds: 600,
      });
    const apply = async (environment: string, extra: Parameters<LocalEngine['run']>[1] = {}) => {
      const outcome = await engine.run(context(environment), extra);
      if (outcome.status !== 'succeeded') {
        throw new Error(
          `apply to ${environment} ${outcome.status}: ${outcome.error?.message ?? outcome.run.error ?? ''}`,
        );
      }
      return outcome;
    };
    const checkApplied = (outcomes: readonly RunOutcome[]) => {
      for (const o of outcomes) {
        if (o.run.phase !== 'applied')
          throw new Error(`run ${o.run.runId}: phase ${o.run.phase ?? '-'}, expected applied`);
      }
    };

    try {
      // Warm-up: creates every environment (a first apply does more than the later ones).
      ctx.log('  warm-up: 8 environments created');
      await newCommit('warm-up');
      checkApplied(await Promise.all(ENVIRONMENTS.map((e) => apply(e))));

      const measured: Round[] = [];
      for (let round = 1; round <= rounds; round += 1) {
        const modes: Round['mode'][] =
          round % 2 === 1 ? ['sequential', 'parallel'] : ['parallel', 'sequential'];
        for (const mode of modes) {
          await newCommit(`${mode}-${round}`);
          const cpuBefore = await cpuSeconds();
          const started = performance.now();
          let outcomes: RunOutcome[];
          if (mode === 'parallel') {
            outcomes = await Promise.all(ENVIRONMENTS.map((e) => apply(e)));
          } else {
            outcomes = [];
            for (const e of ENVIRONMENTS) outcomes.push(await apply(e));
          }
          const wallMs = performance.now() - started;
          const cpu = (await cpuSeconds()) - cpuBefore;
          checkApplied(outcomes);
          measured.push({
            mode,
            round,
            wallMs,
            cpuSeconds: cpu,
            runMs: outcomes.map(runMs),
            runIds: outcomes.map((o) => o.run.runId),
          });
          ctx.log(
            `  round ${round}/${rounds} ${mode}: 8 applies in ${seconds(wallMs)}, ${cpu.toFixed(1)} CPU s`,
          );
        }
      }

      // Contention: several applies to one environment at once. The lock must serialize
      // them (short lock retries, so the probe stays short).
      ctx.log(`  contention: ${CONTENDERS} applies to one environment at once`);
      await newCommit('contention');
      const contended = await Promise.all(
        Array.from({ length: CONTENDERS }, () =>
          apply(CONTENDED, { retryIntervalOverrides: { LockEnvironment: 250 } }),
        ),
      );
      const lockRetries = contended.map(
        (o) =>
          engine.stores.runs
            .listEvents(o.run.runId)
            .filter((e) => e.type === 'retried' && e.state === 'LockEnvironment').length,
      );

      // The proof, from the store.
      const histories: Record<string, Hold[]> = {};
      for (const e of [...ENVIRONMENTS, CONTENDED])
        histories[e] = engine.stores.locks.lockHistory(e);
      const overlaps = Object.fromEntries(
        Object.entries(histories).map(([e, holds]) => [e, overlappingPairs(holds).length]),
      );
      const allHolds = ENVIRONMENTS.flatMap((e) => histories[e] ?? []);
      const stillLocked = [...ENVIRONMENTS, CONTENDED].filter(
        (e) => engine.stores.locks.locksOf(e).length > 0,
      );
      const peakAcross = (ids: readonly string[]) =>
        maxConcurrent(allHolds.filter((h) => ids.includes(h.owner)));

      const seq = measured.filter((r) => r.mode === 'sequential');
      const par = measured.filter((r) => r.mode === 'parallel');
      const seqWall = summarize(seq.map((r) => r.wallMs));
      const parWall = summarize(par.map((r) => r.wallMs));
      const speedup = ratio(seqWall.median, parWall.median);
      const timingTable = table(
        [
          'mode',
          'rounds',
          'wall time for 8 applies, median (min–max)',
          'one apply, median',
          'CPU time for 8 applies, median',
          'lock holds at once, across the 8 (max)',
        ],
        [
          [
            'one after another',
            seq.length,
            spread(seqWall),
            seconds(median(seq.flatMap((r) => r.runMs))),
            `${median(seq.map((r) => r.cpuSeconds)).toFixed(1)} s`,
            Math.max(...seq.map((r) => peakAcross(r.runIds))),
          ],
          [
            '8 at once',
            par.length,
            spread(parWall),
            seconds(median(par.flatMap((r) => r.runMs))),
            `${median(par.map((r) => r.cpuSeconds)).toFixed(1)} s`,
            Math.max(...par.map((r) => peakAcross(r.runIds))),
          ],
          ['**speedup**', '', `**${times(speedup)}**`, '', '', ''],
        ],
        [1, 2, 3, 4, 5],
      );
      const proofRows: Cell[][] = Object.entries(histories).map(([e, holds]) => [
        e,
        holds.length,
        overlaps[e] ?? 0,
        stillLocked.includes(e) ? 'yes' : 'no',
      ]);
      const proofTable = table(
        ['environment', 'lock holds recorded', 'overlapping holds', 'lock left held'],
        proofRows,
        [1, 2],
      );
      const totalOverlaps = Object.values(overlaps).reduce((sum, n) => sum + n, 0);
      const contendedPhases = contended.map((o) => o.run.phase ?? '-').sort();
      return {
        tables: [timingTable, proofTable],
        notes: [
          `Each of the 8 environments is a plan-apply of terraform/examples/hello (auto-approved) with its own state; one warm-up round creates them, then ${rounds} round(s) of each mode, each after a commit that changes a variable, so every run plans and applies a change. The runs are \`engine.run\` calls on one LocalEngine (one SQLite store); each run starts its own executor and engine processes, as the CLI does, the executor from the clone's TypeScript sources (slower to start than the package's bundle).`,
          `Speedup = median sequential wall time / median parallel wall time on ${String(ENVIRONMENTS.length)} environments. CPU time is user + system seconds of this process (the engine) and of every process the round started (executors, engines, git), from /proc/self/stat. The 8 applies need about ${median(measured.map((r) => r.cpuSeconds)).toFixed(1)} CPU seconds whichever way they run, which on ${String(availableParallelism())} CPUs puts a floor of about ${(median(measured.map((r) => r.cpuSeconds)) / availableParallelism()).toFixed(1)} s under the parallel wall time, before counting the other work sharing the machine.`,
          `Proof from the store: \`lockHistory(env)\` lists every hold of each environment's lock (acquired, released); no two holds of one environment overlap (${totalOverlaps} overlapping pairs in all). Across the 8 environments, up to ${Math.max(...par.map((r) => peakAcross(r.runIds)))} locks were held at the same instant in a parallel round, so the runs did overlap where they were allowed to.`,
          `Contention probe: ${CONTENDERS} applies to "${CONTENDED}" started at once (LockEnvironment retries shortened to 250 ms): phases ${contendedPhases.join(', ')}; LockEnvironment was retried ${lockRetries.join(', ')} times; ${histories[CONTENDED]?.length ?? 0} holds recorded, ${overlaps[CONTENDED] ?? 0} overlapping.`,
        ],
        targets: [
          {
            name: 'no two runs held one environment’s lock at once',
            met: totalOverlaps === 0 && stillLocked.length === 0,
            detail: `${totalOverlaps} overlapping holds over ${Object.values(histories).reduce((sum, h) => sum + h.length, 0)} holds; ${stillLocked.length} locks left held`,
          },
        ],
        data: {
          rounds: measured,
          speedup,
          sequential: seqWall,
          parallel: parWall,
          lockHistory: histories,
          overlaps,
          contention: {
            phases: contendedPhases,
            lockRetries,
            runIds: contended.map((o) => o.run.runId),
          },
        },
      };
    } finally {
      engine.close();
    }
  },
};
