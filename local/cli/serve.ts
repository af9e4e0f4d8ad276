// serve: the run console and the approval endpoint on loopback, and the TTL scheduler, until
// Ctrl-C.
import { once } from 'node:events';
import { InvalidInput } from '../../core/errors.ts';
import { createApprovalServer } from '../engine/approval-server.ts';
import { DEFAULT_APPROVAL_PORT } from '../engine/local-engine.ts';
import { startScheduler } from '../engine/scheduler.ts';
import { openEngine, resolveRepository } from './context.ts';
import type { Io } from './io.ts';
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

export async function serveVerb(values: CliValues, io: Io): Promise<number> {
  const port = values.port === undefined ? DEFAULT_APPROVAL_PORT : parsePort(values.port);
  const repository = await resolveRepository(values.repo, io.cwd);
  const engine = await openEngine(repository, io, (line) => io.out(`${line}\n`));
  // The same list the runs made their per-approver links for.
  const { approvers } = engine;
  const server = createApprovalServer(engine, approvers ? { approvers } : {});
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
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
  startScheduler(engine, {
    intervalMs: 5000,
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
    runOptions: {
      cancel: cancel.signal,
      onProgress: (progress) => {
        const line = progressLine(progress);
        if (line) io.out(`[${progress.runId}] ${line.trim()}\n`);
      },
    },
  });
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  controller.abort();
  clearInterval(reaper);
  server.close();
  // The console's event streams stay open until closed.
  server.closeAllConnections();
  if (started.size > 0) {
    io.out(`stopping ${started.size} destroy run(s) gracefully\n`);
    cancel.abort('cancelled: stepform serve stopped');
    await Promise.all(started);
  }
  await reaping;
  engine.close();
  return 0;
}
