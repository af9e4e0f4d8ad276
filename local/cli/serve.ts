// serve: the run console and the approval endpoint on loopback, the TTL scheduler and
// stepform.yaml's drift schedule, until Ctrl-C.
import { type StepformConfig, driftEnvironments } from '../../core/config/stepform-config.ts';
import { parseDriftSchedule } from '../../core/drift-schedule.ts';
import { InvalidInput } from '../../core/errors.ts';
import { configAtCommit } from '../../adapters/git/repository-at-commit.ts';
import { createApprovalServer } from '../engine/approval-server.ts';
import { DriftSchedule, startDriftScheduler } from '../engine/drift-scheduler.ts';
import type { StateProgress } from '../engine/engine.ts';
import { DEFAULT_APPROVAL_PORT, type LocalEngine } from '../engine/local-engine.ts';
import { startScheduler } from '../engine/scheduler.ts';
import { openEngine, resolveCommit, resolveRepository } from './context.ts';
import { scheduledDriftInput } from './drift.ts';
import type { Io } from './io.ts';
import { closeServer, listenOnLoopback, untilStopped } from './loopback-server.ts';
import type { CliValues } from './main.ts';
import { progressLine } from './run-verbs.ts';

/**
 * A port as people write it: decimal digits only (no sign, exponent, hex or blank, which
 * Number() would all accept), 0 (any free port) to 65535.
 */
export function parsePort(text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 0 && port <= 65535))
    throw new InvalidInput('--port', `must be a port number from 0 to 65535, not "${text}"`);
  return port;
}

const REAP_INTERVAL_MS = 30_000;
/** How often serve looks whether its schedules (TTL, drift) are due. */
const SCHEDULE_INTERVAL_MS = 5000;

/**
 * stepform.yaml's drift.schedule at HEAD, fired by this serve: each time it comes due, one
 * drift run per environment it names, one after the other, of the commit HEAD is then. A
 * changed schedule is read when serve starts again. Gives the line serve prints about it.
 */
async function startDriftSchedule(
  engine: LocalEngine,
  repository: string,
  io: Io,
  options: { signal: AbortSignal; runOptions: Parameters<LocalEngine['run']>[1] },
  track: (running: Promise<unknown>) => void,
): Promise<string> {
  let config: StepformConfig | undefined;
  try {
    config = await configAtCommit(repository, await resolveCommit(repository, undefined));
  } catch (error) {
    // A bad stepform.yaml (or no commit yet) stops the drift schedule, not the console.
    return `drift schedule not started: ${(error as Error).message}`;
  }
  if (config?.drift === undefined) return 'no drift schedule in stepform.yaml';
  const schedule = new DriftSchedule(parseDriftSchedule(config.drift.schedule), new Date());
  const environments = driftEnvironments(config);
  const fire = async (due: readonly string[]) => {
    const commit = await resolveCommit(repository, undefined);
    for (const environment of due) {
      if (options.signal.aborted) return;
      const input = await scheduledDriftInput(io, repository, commit, environment);
      if (input === undefined) continue;
      io.out(`drift schedule: drift run ${input.runId} of ${environment}\n`);
      const outcome = await engine.run(input, options.runOptions);
      io.out(`drift run ${input.runId}: ${outcome.run.phase ?? outcome.status}\n`);
    }
  };
  startDriftScheduler({
    schedule,
    environments,
    fire: (due) => {
      const running = fire(due).catch((error: unknown) => {
        io.err(`drift schedule: ${String(error)}\n`);
      });
      track(running);
      return running;
    },
    intervalMs: SCHEDULE_INTERVAL_MS,
    signal: options.signal,
    onSkipped: () => io.out('drift schedule: the last drift check still runs; this one skipped\n'),
  });
  const next = schedule.next?.toISOString() ?? 'never';
  return `drift schedule ${config.drift.schedule} (${environments.join(', ')}), next at ${next}`;
}

export async function serveVerb(values: CliValues, io: Io): Promise<number> {
  const port = values.port === undefined ? DEFAULT_APPROVAL_PORT : parsePort(values.port);
  const repository = await resolveRepository(values.repo, io.cwd);
  const engine = await openEngine(repository, io, (line) => io.out(`${line}\n`));
  // The same list the runs made their per-approver links for.
  const { approvers } = engine;
  const server = createApprovalServer(engine, approvers ? { approvers } : {});
  const bound = await listenOnLoopback(server, port);
  io.out(
    `stepform serve: run console and approvals on http://127.0.0.1:${bound}, TTL schedules checked every 5 s (Ctrl-C stops)\n`,
  );
  const controller = new AbortController();
  // Runs whose process died are closed as soon as they are found, not at the next command.
  let reaping: Promise<unknown> = Promise.resolve();
  const reaper = setInterval(() => {
    reaping = reaping
      .then(() => engine.reap())
      .catch((error: unknown) => {
        io.err(`closing interrupted runs failed: ${String(error)}\n`);
      });
  }, REAP_INTERVAL_MS);
  // Ctrl-C stops the destroy runs this server started as it would stop a CLI run.
  const cancel = new AbortController();
  const started = new Set<Promise<unknown>>();
  const runOptions = {
    cancel: cancel.signal,
    onProgress: (progress: StateProgress) => {
      const line = progressLine(progress);
      if (line) io.out(`[${progress.runId}] ${line.trim()}\n`);
    },
  };
  startScheduler(engine, {
    intervalMs: SCHEDULE_INTERVAL_MS,
    signal: controller.signal,
    onFired: (fired) => {
      const ending = fired.outcome.catch(() => undefined);
      started.add(ending);
      void ending.then(() => started.delete(ending));
      io.out(
        `TTL of ${fired.schedule.environment} (${fired.schedule.projectDir}) ran out: destroy run ${fired.run.runId}\n`,
      );
      fired.outcome.then(
        (outcome) => io.out(`destroy run ${fired.run.runId}: ${outcome.status}\n`),
        (error: unknown) =>
          io.err(`destroy run ${fired.run.runId} failed to start: ${String(error)}\n`),
      );
    },
    runOptions,
  });
  const track = (running: Promise<unknown>) => {
    started.add(running);
    void running.then(() => started.delete(running));
  };
  const driftLine = await startDriftSchedule(
    engine,
    repository,
    io,
    { signal: controller.signal, runOptions },
    track,
  );
  io.out(`${driftLine}\n`);
  await untilStopped();
  controller.abort();
  clearInterval(reaper);
  closeServer(server);
  if (started.size > 0) {
    io.out(`stopping ${started.size} scheduled run(s) gracefully\n`);
    cancel.abort('cancelled: stepform serve stopped');
    await Promise.all(started);
  }
  await reaping;
  engine.close();
  return 0;
}
