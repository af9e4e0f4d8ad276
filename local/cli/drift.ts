// stepform drift [--env ENV] [--all | --project NAME… | --dir DIR]: one drift run per
// environment (the one named, else every environment the records say was applied), each
// planning its projects' last applied commits. Exit 0 no drift, 3 drift found, 1 a check
// failed, 2 usage.
import { z } from 'zod';
import { formatCounts } from '../../core/contracts/job-result.ts';
import { RUN_INPUT, type RunContext } from '../../core/contracts/workflow-input.ts';
import { DRIFT_REPORT } from '../../core/drift.ts';
import { InvalidInput } from '../../core/errors.ts';
import { parseInput } from '../../core/validation.ts';
import { configAtCommit } from '../../adapters/git/repository-at-commit.ts';
import { LocalEngine } from '../engine/local-engine.ts';
import type { RunRow } from '../engine/store/sqlite-runs.ts';
import { flagFor, openEngine, resolveCommit, resolveRepository } from './context.ts';
import type { Io } from './io.ts';
import type { CliValues } from './main.ts';
import { CANCEL_SIGNALS, progressLine, runHeader } from './run-verbs.ts';
import { selectRun } from './selection.ts';
import { errorText, parseErrorString } from './error-text.ts';

/** DESIGN.md: 3 is `drift` only, for drift found. */
export const DRIFT_EXIT_CODES = { no_drift: 0, failed: 1, drifted: 3 } as const;

const ISSUE_ACTION = z.looseObject({
  project: z.string(),
  issue: z.number(),
  action: z.enum(['opened', 'updated', 'closed']),
});

/** One project of one environment, as the verb prints it. */
export interface DriftProjectView {
  readonly environment: string;
  readonly name: string;
  readonly dir: string;
  readonly status: z.output<typeof DRIFT_REPORT>['status'];
  readonly commit: string | null;
  readonly cleared: boolean;
  readonly summary: { add: number; change: number; destroy: number };
  readonly note?: string;
  readonly error?: { name: string; message: string };
  readonly issue?: z.output<typeof ISSUE_ACTION>;
}

/** What a finished drift run's Record and Notify kept: its projects and their issues. */
export function driftProjectsOf(row: RunRow): DriftProjectView[] {
  const reports = z.array(DRIFT_REPORT).safeParse(row.details.projects);
  const issues = z.array(ISSUE_ACTION).safeParse(row.details.issues);
  if (!reports.success) return [];
  return reports.data.map((report) => {
    const issue = issues.data?.find((action) => action.project === report.name);
    return {
      environment: row.environment,
      name: report.name,
      dir: report.dir,
      status: report.status,
      commit: report.commit,
      cleared: report.cleared,
      summary: {
        add: report.summary.add,
        change: report.summary.change,
        destroy: report.summary.destroy,
      },
      ...(report.note === undefined ? {} : { note: report.note }),
      ...(report.error === undefined ? {} : { error: report.error }),
      ...(issue === undefined ? {} : { issue }),
    };
  });
}

/** The environments a drift check covers: the one named, else those with an applied commit. */
function environmentsOf(values: CliValues, engine: LocalEngine): string[] {
  if (values.env !== undefined) return [values.env];
  return [...new Set(engine.stores.records.listLastGood().map((good) => good.environment))];
}

/**
 * The drift run of one environment, its input checked; a bad value names its flag. `run`
 * gives the run id and the repository the run is of (a stack's GitHub URL) when they are not
 * the local engine's.
 */
export async function driftInput(
  values: CliValues,
  io: Io,
  repository: string,
  commit: string,
  environment: string,
  run: { readonly runId?: string; readonly repository?: string } = {},
): Promise<RunContext | undefined> {
  // Every project by default, where stepform.yaml lists them; else the folder --dir names.
  const everything =
    values.project === undefined &&
    values.dir === undefined &&
    (await configAtCommit(repository, commit)) !== undefined;
  const selection = await selectRun(
    { ...values, ...(everything ? { all: true } : {}) },
    repository,
    commit,
    environment,
    io.cwd,
  );
  if (selection.nothing !== undefined) return undefined;
  const { projectDir, projects, maxParallel } = selection;
  try {
    return parseInput(
      RUN_INPUT,
      {
        runId: run.runId ?? LocalEngine.newRunId(),
        workflow: 'drift',
        repository: run.repository ?? repository,
        commit,
        projectDir,
        environment,
        ...(projects === undefined ? {} : { projects }),
        ...(maxParallel === undefined ? {} : { maxParallel }),
      },
      'input',
    );
  } catch (error) {
    if (error instanceof InvalidInput)
      throw new InvalidInput(flagFor(error.field), error.message.slice(error.field.length + 2));
    throw error;
  }
}

/**
 * The drift run of one environment that `stepform serve` starts when drift.schedule comes
 * due: every project of stepform.yaml at the commit, as `stepform drift --env ENV` checks.
 */
export function scheduledDriftInput(
  io: Io,
  repository: string,
  commit: string,
  environment: string,
): Promise<RunContext | undefined> {
  return driftInput({}, io, repository, commit, environment);
}

function projectLine(project: DriftProjectView, width: number): string {
  const name = project.name.padEnd(width);
  const issue =
    project.issue === undefined ? '' : `  issue #${project.issue.issue} ${project.issue.action}`;
  switch (project.status) {
    case 'drifted':
      return `  ${name}  drifted   ${formatCounts(project.summary)}${issue}`;
    case 'no_drift':
      return `  ${name}  no drift${project.cleared ? ' (drift cleared)' : ''}${issue}`;
    case 'skipped':
      return `  ${name}  skipped   ${project.note ?? ''}`;
    case 'failed':
      return `  ${name}  failed    ${project.error?.name ?? ''}`;
  }
}

export async function driftVerb(values: CliValues, io: Io): Promise<number> {
  if (values.schedule === true) {
    throw new InvalidInput(
      '--schedule',
      'writes the drift schedule of a deployed stack: give --stack OUTPUTS.json (stepform serve fires it on this machine)',
    );
  }
  const json = values.json === true;
  const say = json ? io.err : io.out;
  const repository = await resolveRepository(values.repo, io.cwd);
  const commit = await resolveCommit(repository, undefined);
  const engine = await openEngine(repository, io, (line) => say(`${line}\n`));
  const cancel = new AbortController();
  const force = new AbortController();
  const onSignal = () => {
    if (!cancel.signal.aborted) cancel.abort('cancelled by a signal');
    else force.abort();
  };
  for (const signal of CANCEL_SIGNALS) process.on(signal, onSignal);
  try {
    const environments = environmentsOf(values, engine);
    const runs: EndedDriftRun[] = [];
    for (const environment of environments) {
      const input = await driftInput(values, io, repository, commit, environment);
      if (input === undefined) continue;
      say(runHeader(input));
      const outcome = await engine.run(input, {
        cancel: cancel.signal,
        force: force.signal,
        onProgress: (progress) => {
          const line = progressLine(progress);
          if (line) say(`${line}\n`);
        },
      });
      runs.push({
        row: outcome.run,
        status: outcome.status,
        ...(outcome.error === undefined ? {} : { error: outcome.error }),
      });
      if (outcome.status === 'cancelled') break;
    }
    return renderDriftRuns(runs, commit, values, io);
  } finally {
    for (const signal of CANCEL_SIGNALS) process.off(signal, onSignal);
    engine.close();
  }
}

/** One environment's drift run as it ended: its row (Record's details) and how it ended. */
export interface EndedDriftRun {
  readonly row: RunRow;
  readonly status: string;
  readonly error?: { name: string; message: string };
}

/**
 * Prints the drift runs' projects (or --json) and gives the exit code: 0 no drift, 3 drift, 1
 * a run failed, 130 one was cancelled. The local verb and the stack's (`--stack`) both.
 */
export function renderDriftRuns(
  runs: readonly EndedDriftRun[],
  commit: string,
  values: CliValues,
  io: Io,
): number {
  const json = values.json === true;
  const projects = runs.flatMap(({ row }) => driftProjectsOf(row));
  const failed = runs.some((run) => run.status !== 'succeeded');
  const drifted = projects.some((project) => project.status === 'drifted');
  const status = failed ? 'failed' : drifted ? 'drifted' : 'no_drift';
  const only = runs.length === 1 ? runs[0] : undefined;
  if (json) {
    io.out(
      `${JSON.stringify(
        {
          runId: only?.row.runId ?? null,
          workflow: 'drift',
          status,
          environment: values.env ?? only?.row.environment ?? null,
          commit,
          projects,
          runs: runs.map(({ row, status: ended, error }) => ({
            runId: row.runId,
            environment: row.environment,
            status: ended,
            phase: row.phase,
            ...(error === undefined ? {} : { error }),
          })),
        },
        null,
        2,
      )}\n`,
    );
  } else if (runs.length === 0) {
    io.out('nothing to check: no environment has an applied commit (name one with --env)\n');
  } else {
    const width = Math.max(...projects.map((project) => project.name.length), 1);
    for (const { row } of runs) {
      io.out(`drift in ${row.environment} (run ${row.runId}): ${row.phase ?? row.status}\n`);
      for (const project of driftProjectsOf(row)) io.out(`${projectLine(project, width)}\n`);
    }
  }
  for (const { row, error } of runs) {
    const shown = error ?? (row.error === null ? undefined : parseErrorString(row.error));
    if (shown !== undefined)
      io.err(errorText(shown, { prefix: 'error: ', repository: row.repository }));
  }
  if (runs.some((run) => run.status === 'cancelled')) return 130;
  return DRIFT_EXIT_CODES[status];
}
