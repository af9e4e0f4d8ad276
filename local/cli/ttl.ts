// ttl ENV DURATION | ttl ENV --cancel: starts the ttl workflow, which moves (to now +
// DURATION) or cancels the scheduled destroy of a live ephemeral environment. What can be
// checked before a run exists is checked here, so that bad input records no run (exit 2).
import { DEFAULT_TTL_BOUNDS, parseTtl } from '../../core/duration.ts';
import { InvalidInput, NotFound } from '../../core/errors.ts';
import type { DestroySchedule } from '../../core/ports.ts';
import { assertLiveEphemeral, scheduledDirs } from '../../core/ttl.ts';
import { withoutStatus } from '../engine/store/sqlite-schedules.ts';
import { ENVIRONMENT_NAME } from '../../core/contracts/job-input.ts';
import { RUN_INPUT, type RunContext } from '../../core/contracts/workflow-input.ts';
import { parseInput } from '../../core/validation.ts';
import { LocalEngine } from '../engine/local-engine.ts';
import type { LocalStores } from '../engine/store/local-stores.ts';
import { openEngine, resolveProjectDir, resolveRepository } from './context.ts';
import type { Io } from './io.ts';
import type { CliValues } from './main.ts';
import { executeRun } from './run-verbs.ts';

/**
 * The live ephemeral environment whose TTL changes: its one pending schedule (a run of several
 * projects has one for all of them, under the folder they share) with a project still active.
 * --dir picks one when there are several: the schedule's own folder or one of its projects'.
 */
function liveEphemeralProject(
  stores: LocalStores,
  environment: string,
  projectDir: string | undefined,
): DestroySchedule {
  const active = (dir: string) =>
    stores.records.getEnvironment(environment, dir)?.status === 'active';
  const live = stores.schedules
    .list(environment)
    .filter((schedule) => schedule.status === 'pending')
    .filter((schedule) => scheduledDirs(schedule, schedule.projectDir).some(active))
    .filter(
      (schedule) =>
        projectDir === undefined ||
        scheduledDirs(schedule, schedule.projectDir).includes(projectDir) ||
        schedule.projectDir === projectDir,
    );
  const [only, ...others] = live;
  if (others.length > 0) {
    throw new InvalidInput(
      '--dir',
      `${environment} has several live ephemeral projects (${live.map((s) => s.projectDir).join(', ')}): say which with --dir`,
    );
  }
  if (only) return withoutStatus(only);
  const dir =
    projectDir ??
    stores.records
      .listEnvironments()
      .find((e) => e.environment === environment && e.status === 'active')?.projectDir;
  if (dir === undefined)
    throw new InvalidInput('ENV', `no live ephemeral environment named ${environment}`);
  try {
    // Throws, saying why (not live, or not ephemeral): there is no pending schedule.
    return assertLiveEphemeral(
      environment,
      dir,
      [stores.records.getEnvironment(environment, dir)],
      undefined,
      'ENV',
    ).schedule;
  } catch (error) {
    if (error instanceof NotFound) throw new InvalidInput('ENV', error.message);
    throw error;
  }
}

/** ENV and DURATION, or ENV and --cancel: checked before anything is opened. */
export function ttlArguments(
  positionals: readonly string[],
  values: CliValues,
): { environment: string; change: { ttlSeconds: number } | { cancelTtl: true } } {
  const cancel = values.cancel === true;
  if (positionals.length !== (cancel ? 1 : 2)) {
    throw new InvalidInput(
      'arguments',
      cancel ? 'ttl --cancel takes ENV only' : 'ttl takes ENV and DURATION (or ENV --cancel)',
    );
  }
  const environment = parseInput(ENVIRONMENT_NAME, positionals[0], 'ENV');
  if (cancel) return { environment, change: { cancelTtl: true } };
  const ttlMs = parseTtl(positionals[1] ?? '', DEFAULT_TTL_BOUNDS, 'DURATION');
  return { environment, change: { ttlSeconds: Math.round(ttlMs / 1000) } };
}

export async function ttlVerb(
  positionals: readonly string[],
  values: CliValues,
  io: Io,
): Promise<number> {
  const { environment, change } = ttlArguments(positionals, values);
  const repository = await resolveRepository(values.repo, io.cwd);
  const projectDir =
    values.dir === undefined ? undefined : await resolveProjectDir(repository, values.dir, io.cwd);
  const engine = await openEngine(repository, io);
  let run: RunContext;
  try {
    const schedule = liveEphemeralProject(engine.stores, environment, projectDir);
    run = parseInput(
      RUN_INPUT,
      {
        runId: LocalEngine.newRunId(),
        workflow: 'ttl',
        repository: schedule.repository,
        commit: schedule.commit,
        projectDir: schedule.projectDir,
        environment,
        ...change,
      },
      'input',
    );
  } finally {
    engine.close();
  }
  return executeRun(run, values, io);
}
