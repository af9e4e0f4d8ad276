// 5. Memory: the engine's own peak resident memory during a plan-apply (the engine runs in a
// child Node process that reports its getrusage maxRSS; Terraform and the executor are other
// processes), and the peak of `stepform serve` holding a history of 500 runs (VmHWM from
// /proc while it answers requests).
import { appliedPlanApplyStates } from '../test/support/workflow-paths.ts';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunContext } from '../core/contracts/workflow-input.ts';
import { LocalEngine } from '../local/engine/local-engine.ts';
import { openLocalStores } from '../local/engine/store/local-stores.ts';
import { statusEvent } from '../core/contracts/status-event.ts';
import { HELLO_EXAMPLE } from '../local/scratch-repo.ts';
import { run } from '../toolchain/process.ts';
import {
  BENCH_DIR,
  STEPFORM_BIN,
  benchTemp,
  cliEnv,
  engineEnv,
  generatedConfig,
  procMemory,
  startProcess,
} from './lib/fixtures.ts';
import { type Benchmark, type Cell, table } from './lib/report.ts';
import { mebibytes, median } from './lib/stats.ts';

const CHILD = join(BENCH_DIR, 'engine-child.ts');
const HISTORY = 500;
const REQUESTS = 5;

interface ChildReport {
  status: string;
  phase?: string;
  maxRssBytes: number;
  heapUsedBytes: number;
}

async function engineChild(arg: string): Promise<ChildReport> {
  const result = await run(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', CHILD, arg],
    { env: engineEnv() },
  );
  if (result.exitCode !== 0)
    throw new Error(`engine child exited ${result.exitCode}: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as ChildReport;
}

/** A store holding `count` finished plan-apply runs, each with its events and status events. */
async function fillStore(path: string, repository: string, count: number): Promise<void> {
  const store = openLocalStores(path);
  const states = appliedPlanApplyStates(true);
  const base = Date.parse('2026-10-01T00:00:00Z');
  try {
    for (let i = 0; i < count; i += 1) {
      const start = new Date(base + i * 600_000);
      const runId = LocalEngine.newRunId(start);
      const environment = `env-${i % 12}`;
      store.runs.create({
        runId,
        workflow: 'plan-apply',
        environment,
        projectDir: 'terraform/platform',
        repository,
        commit: i.toString(16).padStart(40, 'a'),
        startedAt: start.toISOString(),
      });
      let at = start.getTime();
      for (const state of states) {
        store.runs.addEvent({
          runId,
          at: new Date(at).toISOString(),
          type: 'entered',
          state,
          durationMs: null,
          detail: null,
        });
        const duration = state.startsWith('Run') ? 4000 : 15;
        at += duration;
        store.runs.addEvent({
          runId,
          at: new Date(at).toISOString(),
          type: 'exited',
          state,
          durationMs: duration,
          detail: null,
        });
      }
      const resources = Array.from({ length: 20 }, (_, r) => ({
        address: `module.app.aws_instance.web[${r}]`,
        action: r % 5 === 0 ? 'replace' : 'update',
        importing: false,
      }));
      await store.runs.addRunDetails(runId, {
        summary: {
          add: 4,
          change: 16,
          destroy: 4,
          replace: 4,
          import: 0,
          forget: 0,
          resources,
          outputs: [],
        },
        outputs: { url: { sensitive: false, value: `https://env-${i % 12}.example.internal` } },
      });
      for (const phase of ['planned', 'awaiting_approval', 'applying', 'applied'] as const) {
        store.runs.setPhase(runId, phase);
        await store.outbox.publish(
          statusEvent(
            {
              runId,
              workflow: 'plan-apply',
              environment,
              projects: [{ name: 'platform', dir: 'terraform/platform' }],
              commit: i.toString(16).padStart(40, 'a'),
              phase,
            },
            new Date(at),
          ),
        );
      }
      store.runs.finish(runId, 'succeeded', new Date(at).toISOString(), null);
    }
  } finally {
    store.close();
  }
}

interface ServeFigures {
  runs: number;
  peakBytes: number;
  rssBytes: number;
  requestMs: number[];
  rowsShown: number;
  exitCode: number | null;
}

async function measureServe(home: string, repository: string, runs: number): Promise<ServeFigures> {
  const serve = startProcess(
    process.execPath,
    [STEPFORM_BIN, 'serve', '--port', '0', '--repo', repository],
    { cwd: repository, env: cliEnv(home) },
  );
  try {
    let port: number | undefined;
    const deadline = performance.now() + 30_000;
    while (port === undefined) {
      const found = /approvals on http:\/\/127\.0\.0\.1:(\d+)/.exec(serve.stdout())?.[1];
      if (found) port = Number(found);
      else if (performance.now() > deadline)
        throw new Error(`serve did not start: ${serve.stdout()}${serve.stderr()}`);
      else await sleep(50);
    }
    const requestMs: number[] = [];
    let rowsShown = 0;
    for (let i = 0; i < REQUESTS; i += 1) {
      const started = performance.now();
      const response = await fetch(`http://127.0.0.1:${port}/`);
      const body = await response.text();
      requestMs.push(performance.now() - started);
      if (response.status !== 200) throw new Error(`GET / answered ${response.status}`);
      // One row per run (pages.ts: `<tr data-run="…">`).
      rowsShown = (body.match(/<tr data-run=/g) ?? []).length;
    }
    const memory = await procMemory(serve.pid);
    if (!memory) throw new Error(`no /proc/${serve.pid}/status`);
    serve.stop('SIGTERM');
    const exitCode = await serve.exited;
    return { runs, peakBytes: memory.hwm, rssBytes: memory.rss, requestMs, rowsShown, exitCode };
  } catch (error) {
    serve.stop('SIGKILL');
    throw error;
  }
}

export const memory: Benchmark = {
  id: 'memory',
  title: 'Memory: engine and serve',
  async run(ctx) {
    const repo = await ctx.scratchRepo();
    await repo.commitFiles({ 'generated/main.tf': generatedConfig(200) }, 'generated');
    await repo.commitDir(HELLO_EXAMPLE, 'hello', 'hello');

    const engineRows: Cell[][] = [];
    const engineRuns: Record<string, unknown>[] = [];
    const baselines: number[] = [];
    for (let i = 0; i < ctx.reps(3, 1); i += 1) {
      baselines.push((await engineChild('baseline')).maxRssBytes);
    }
    engineRows.push([
      'Node with the engine’s modules loaded, no run',
      '–',
      mebibytes(median(baselines)),
    ]);
    const home = ctx.temp(await benchTemp('memory-home'));
    for (const [project, label] of [
      ['generated', '200 × terraform_data'],
      ['hello', 'terraform/examples/hello'],
    ] as const) {
      for (const [round, what] of [
        [1, 'creates everything'],
        [2, 'changes everything'],
      ] as const) {
        const commit = await repo.commitFiles(
          {
            [`${project}/round.auto.tfvars`]: `${project === 'hello' ? 'greeting' : 'revision'} = "round-${round}"\n`,
          },
          `round ${round}`,
        );
        const runContext: RunContext = {
          runId: LocalEngine.newRunId(),
          workflow: 'plan-apply',
          repository: repo.dir,
          commit,
          projectDir: project,
          environment: 'memory',
          autoApprove: true,
          approvalTimeoutSeconds: 600,
        };
        const report = await engineChild(JSON.stringify({ home, run: runContext }));
        if (report.status !== 'succeeded')
          throw new Error(`plan-apply of ${project} ${report.status}`);
        engineRows.push([
          `plan-apply of ${label} (${what})`,
          report.phase ?? '-',
          mebibytes(report.maxRssBytes),
        ]);
        engineRuns.push({ project, round, ...report });
        ctx.log(`  engine, ${project} round ${round}: peak ${mebibytes(report.maxRssBytes)}`);
      }
    }

    // serve, with an empty history and with 500 runs.
    const serveRows: Cell[][] = [];
    const serveFigures: ServeFigures[] = [];
    for (const runs of [0, HISTORY]) {
      const serveHome = ctx.temp(await benchTemp(`memory-serve-${runs}`));
      const database = join(serveHome, 'stepform.db');
      await fillStore(database, repo.dir, runs);
      const figures = await measureServe(serveHome, repo.dir, runs);
      const size = runs === 0 ? 0 : (await stat(database)).size;
      serveFigures.push(figures);
      serveRows.push([
        runs,
        runs === 0 ? '–' : mebibytes(size),
        mebibytes(figures.peakBytes),
        mebibytes(figures.rssBytes),
        `${median(figures.requestMs).toFixed(1)} ms`,
        figures.rowsShown,
      ]);
      ctx.log(`  serve with ${runs} runs: peak ${mebibytes(figures.peakBytes)}`);
    }
    const enginePeak = Math.max(...engineRuns.map((r) => Number(r.maxRssBytes)));
    const servePeak = serveFigures.find((f) => f.runs === HISTORY)?.peakBytes ?? 0;
    return {
      tables: [
        table(
          ['engine process (Terraform and the executor not counted)', 'phase', 'peak RSS'],
          engineRows,
          [2],
        ),
        table(
          [
            '`stepform serve` with a history of',
            'store size',
            'peak RSS (VmHWM)',
            'RSS after the requests',
            `GET /, median of ${REQUESTS}`,
            'runs listed on /',
          ],
          serveRows,
          [0, 1, 2, 3, 4, 5],
        ),
      ],
      notes: [
        `Highest engine peak: ${mebibytes(enginePeak)}; serve with ${HISTORY} runs: ${mebibytes(servePeak)}, and it stopped on SIGTERM with exit code ${serveFigures.map((f) => String(f.exitCode)).join(' and ')}.`,
        'Engine: bench/engine-child.ts runs one plan-apply on a LocalEngine in its own Node process and prints `process.resourceUsage().maxRSS` (getrusage of that process only: the executor and Terraform are its children, not counted). The first row loads the same modules and runs nothing.',
        `serve: a store filled directly through \`Store\` with ${HISTORY} finished plan-apply runs (34 state events, a 20-resource summary and 4 status events each), then \`node bin/stepform.js serve --port 0\`, ${REQUESTS} requests to \`/\` (which lists the newest 50), VmHWM read from /proc/PID/status, and SIGTERM.`,
      ],
      targets: [],
      data: { baselineBytes: baselines, engineRuns, serve: serveFigures },
    };
  },
};
