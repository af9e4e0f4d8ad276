// runs and logs: what happened, from the store.
import { InvalidInput, NotFound } from '../../core/errors.ts';
import { RUN_ID } from '../../core/contracts/job-input.ts';
import { parseInput } from '../../core/validation.ts';
import type { LocalStores } from '../engine/store/local-stores.ts';
import type { RunEventRow, RunRow } from '../engine/store/sqlite-runs.ts';
import { openEngine, resolveRepository } from './context.ts';
import type { Io } from './io.ts';
import type { CliValues } from './main.ts';
import type { PolicyResult } from '../../core/policy.ts';
import { policyLines } from './policy-lines.ts';
import { commandOf, runJson } from './run-verbs.ts';
import { type DecidedFields, actorText, decisionActor } from '../../core/decision-actor.ts';
import { errorText, parseErrorString } from './error-text.ts';

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
    renderRuns(stores.runs.list(200), values, io);
    return 0;
  } finally {
    stores.close();
  }
}

/** `runs`, newest first: one line each, or one JSON object (locally and on a stack alike). */
export function renderRuns(runs: readonly RunRow[], values: CliValues, io: Io): void {
  if (values.json === true) {
    io.out(`${JSON.stringify({ runs: runs.map((r) => runJson(r)) }, null, 2)}\n`);
    return;
  }
  if (runs.length === 0) io.out('no runs yet\n');
  for (const r of runs) {
    io.out(
      `${r.runId}  ${r.workflow.padEnd(10)} ${r.environment.padEnd(12)} ${r.commit.slice(0, 12)}  ` +
        `${r.status.padEnd(9)} ${(r.phase ?? '').padEnd(16)} ${r.projectDir}\n`,
    );
  }
}

/** What `logs RUN_ID` shows of a run, wherever it ran. */
export interface RunLog {
  readonly run: RunRow;
  /** Its states, as recorded (locally) or read from the execution's history (a stack). */
  readonly events: readonly Omit<RunEventRow, 'runId' | 'seq'>[];
  /** Its status events (the local outbox); undefined where they are not kept (a stack). */
  readonly statusEvents?: readonly { at: string; phase: string; body: unknown }[];
  /** The executor's log of each job (a stack: from the artifacts bucket). */
  readonly jobLogs?: readonly { name: string; text: string }[];
  /** Its approval, when it asked for one: who decided it, when and where. */
  readonly approval?: DecidedFields | undefined;
  /** Its plans' policy checks (a stack: from the plan jobs' result.json in the bucket). */
  readonly policy?: readonly PolicyResult[];
}

export function renderLog(log: RunLog, values: CliValues, io: Io): void {
  const { run, events, statusEvents, jobLogs } = log;
  const actor = decisionActor(log.approval);
  const decided =
    actor && log.approval?.status === 'approved'
      ? { decision: 'approved', actor }
      : actor
        ? { decision: 'rejected', actor }
        : undefined;
  if (values.json === true) {
    io.out(
      `${JSON.stringify(
        {
          ...runJson(run),
          ...decided,
          events,
          ...(statusEvents ? { outbox: statusEvents.map((o) => o.body) } : {}),
          ...(jobLogs ? { jobLogs } : {}),
          ...(log.policy ? { policy: log.policy } : {}),
        },
        null,
        2,
      )}\n`,
    );
    return;
  }
  io.out(
    `run ${run.runId}: ${run.workflow} ${run.projectDir} in ${run.environment} at ${run.commit}\n`,
  );
  io.out(
    `status ${run.status} (${run.phase ?? 'no phase'}), started ${run.startedAt}, finished ${run.finishedAt ?? '-'}\n`,
  );
  if (decided) io.out(`${decided.decision} by ${actorText(decided.actor)}\n`);
  if (run.error) io.out(errorText(parseErrorString(run.error), { prefix: 'error: ' }));
  for (const line of policyLines(log.policy ?? [])) io.out(`${line}\n`);
  io.out('\nstates:\n');
  for (const e of events) {
    if (e.type === 'entered') continue;
    const duration = e.durationMs === null ? '' : ` ${e.durationMs} ms`;
    io.out(
      `  ${e.at}  ${e.type.padEnd(7)} ${e.state ?? ''}${duration}${e.detail ? `  ${e.detail}` : ''}\n`,
    );
  }
  if (statusEvents) {
    io.out('\nstatus events:\n');
    for (const o of statusEvents) io.out(`  ${o.at}  ${o.phase}\n`);
  }
  // A command run: the command and its masked output.
  const command = commandOf(run);
  if (command) {
    io.out(`\nterraform ${[command.name, ...command.args].join(' ')}:\n${command.output}\n`);
  }
  for (const job of jobLogs ?? []) {
    io.out(`\njob log ${job.name}:\n`);
    io.out(job.text.endsWith('\n') ? job.text : `${job.text}\n`);
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
    const outbox = stores.outbox.list(runId);
    renderLog(
      {
        run,
        events: stores.runs.listEvents(runId),
        statusEvents: outbox.map((o) => ({ at: o.at, phase: o.phase, body: o.body })),
        approval: stores.approvals.forRun(runId),
      },
      values,
      io,
    );
    return 0;
  } finally {
    stores.close();
  }
}
