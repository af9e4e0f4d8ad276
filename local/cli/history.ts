// runs and logs: what happened, from the store.
import { InvalidInput, NotFound } from '../../core/errors.ts';
import { RUN_ID } from '../../core/contracts/job-input.ts';
import { parseInput } from '../../core/validation.ts';
import type { LocalStores } from '../engine/store/local-stores.ts';
import { openEngine, resolveRepository } from './context.ts';
import type { Io } from './io.ts';
import type { CliValues } from './main.ts';
import { commandOf, runJson } from './run-verbs.ts';

/** The store, after closing the runs whose process died: what is listed is what is true. */
async function openStores(values: CliValues, io: Io): Promise<LocalStores> {
  const repository = await resolveRepository(values.repo, io.cwd);
  const engine = await openEngine(repository, io);
  try {
    await engine.reap();
  } catch (error) {
    engine.close();
    throw error;
  }
  return engine.stores;
}

export async function runsVerb(values: CliValues, io: Io): Promise<number> {
  const stores = await openStores(values, io);
  try {
    const runs = stores.runs.list(200);
    if (values.json === true) {
      io.out(`${JSON.stringify({ runs: runs.map((r) => runJson(r)) }, null, 2)}\n`);
      return 0;
    }
    if (runs.length === 0) io.out('no runs yet\n');
    for (const r of runs) {
      io.out(
        `${r.runId}  ${r.workflow.padEnd(10)} ${r.environment.padEnd(12)} ${r.commit.slice(0, 12)}  ` +
          `${r.status.padEnd(9)} ${(r.phase ?? '').padEnd(16)} ${r.projectDir}\n`,
      );
    }
    return 0;
  } finally {
    stores.close();
  }
}

export async function logsVerb(
  positionals: readonly string[],
  values: CliValues,
  io: Io,
): Promise<number> {
  if (positionals.length !== 1) throw new InvalidInput('RUN_ID', 'logs takes exactly one run id');
  const runId = parseInput(RUN_ID, positionals[0], 'RUN_ID');
  const stores = await openStores(values, io);
  try {
    const run = stores.runs.get(runId);
    if (!run) throw new NotFound(`no run ${runId}`);
    const events = stores.runs.listEvents(runId);
    const outbox = stores.outbox.list(runId);
    if (values.json === true) {
      io.out(
        `${JSON.stringify({ ...runJson(run), events, outbox: outbox.map((o) => o.body) }, null, 2)}\n`,
      );
      return 0;
    }
    io.out(
      `run ${run.runId}: ${run.workflow} ${run.projectDir} in ${run.environment} at ${run.commit}\n`,
    );
    io.out(
      `status ${run.status} (${run.phase ?? 'no phase'}), started ${run.startedAt}, finished ${run.finishedAt ?? '-'}\n`,
    );
    if (run.error) io.out(`error: ${run.error}\n`);
    io.out('\nstates:\n');
    for (const e of events) {
      if (e.type === 'entered') continue;
      const duration = e.durationMs === null ? '' : ` ${e.durationMs} ms`;
      io.out(
        `  ${e.at}  ${e.type.padEnd(7)} ${e.state ?? ''}${duration}${e.detail ? `  ${e.detail}` : ''}\n`,
      );
    }
    io.out('\nstatus events:\n');
    for (const o of outbox) io.out(`  ${o.at}  ${o.phase}\n`);
    // A command run (issue 13): the command and its masked output.
    const command = commandOf(run);
    if (command) {
      io.out(`\nterraform ${[command.name, ...command.args].join(' ')}:\n${command.output}\n`);
    }
    return 0;
  } finally {
    stores.close();
  }
}
