// envs, locks, unlock ENV [--project NAME] [--force], cancel RUN_ID: each environment's
// state, what holds each lock (one per environment and project), clearing a lock whose run is
// gone, and stopping a run from another terminal as Ctrl-C would.
import { scheduledDirs } from '../../core/ttl.ts';
import { userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { ENVIRONMENT_NAME, RUN_ID } from '../../core/contracts/job-input.ts';
import { InvalidInput, LockHeld, NotFound, RunNotWaiting } from '../../core/errors.ts';
import { WHOLE_ENVIRONMENT_PROJECT } from '../../core/locks.ts';
import { parseInput } from '../../core/validation.ts';
import type { EnvironmentRecord, LastGoodCommit } from '../../core/ports.ts';
import type { LocalEngine } from '../engine/local-engine.ts';
import { isRunHolderGone, thisProcess } from '../engine/processes.ts';
import { configAtCommit } from '../../adapters/git/repository-at-commit.ts';
import { openEngine, resolveCommit, resolveRepository } from './context.ts';
import { projectNames } from './selection.ts';
import type { Io } from './io.ts';
import type { CliValues } from './main.ts';

export interface LockView {
  readonly environment: string;
  /** The project (stepform.yaml's name, or the folder of a repository without one). */
  readonly project: string;
  /** The project's folder, when known (what `envs` matches its records by). */
  readonly dir: string | null;
  readonly owner: string;
  readonly acquiredAt: string;
  readonly expiresAt: string;
  /**
   * What runs the run that holds it: its process (locally, if it is running and recorded
   * one), or its execution (a stack).
   */
  readonly holder: { pid: number; host: string } | { executionArn: string } | null;
  /** `held`: its run runs; `stale`: its run ended or its process is gone. */
  readonly state: 'held' | 'stale';
}

/**
 * Every lock with who holds it and whether that holder is still there. `dirs` maps a project's
 * name to its folder (stepform.yaml's); a name it lacks is a folder itself.
 */
export function lockViews(
  engine: LocalEngine,
  now = new Date(),
  dirs: ReadonlyMap<string, string> = new Map(),
): LockView[] {
  const running = new Map(engine.stores.runs.running().map((held) => [held.run.runId, held]));
  return engine.stores.locks.list().map((lock) => {
    const held = running.get(lock.owner);
    const alive = held !== undefined && !isRunHolderGone(held.run, held.holder, now);
    return {
      ...lock,
      dir: dirs.get(lock.project) ?? lock.project,
      holder: held?.holder ? { pid: held.holder.pid, host: held.holder.host } : null,
      state: alive ? 'held' : 'stale',
    };
  });
}

/** stepform.yaml's projects at HEAD, name to folder (empty without the file or a commit). */
async function projectDirs(repository: string): Promise<Map<string, string>> {
  try {
    const config = await configAtCommit(repository, await resolveCommit(repository, undefined));
    return new Map((config?.projects ?? []).map((project) => [project.name, project.dir]));
  } catch {
    return new Map();
  }
}

async function withEngine<T>(
  values: CliValues,
  io: Io,
  work: (engine: LocalEngine, repository: string) => Promise<T>,
): Promise<T> {
  const repository = await resolveRepository(values.repo, io.cwd);
  const engine = await openEngine(repository, io);
  try {
    return await work(engine, repository);
  } finally {
    engine.close();
  }
}

export async function locksVerb(values: CliValues, io: Io): Promise<number> {
  return withEngine(values, io, async (engine) => {
    renderLocks(lockViews(engine), values, io);
    return Promise.resolve(0);
  });
}

function holderText(lock: Pick<LockView, 'holder'>): string {
  if (lock.holder === null) return '';
  return 'pid' in lock.holder
    ? ` (pid ${lock.holder.pid} on ${lock.holder.host})`
    : ` (execution ${lock.holder.executionArn})`;
}

/**
 * `locks`: what holds each project of each environment, until when, and if it still runs
 * (locally and on a stack).
 */
export function renderLocks(locks: readonly LockView[], values: CliValues, io: Io): void {
  if (values.json === true) {
    io.out(`${JSON.stringify({ locks }, null, 2)}\n`);
    return;
  }
  if (locks.length === 0) io.out('no environment is locked\n');
  for (const lock of locks) {
    io.out(
      `${lock.environment.padEnd(14)} ${lock.project.padEnd(20)} ${lock.state.padEnd(6)} run ${lock.owner}${holderText(lock)} since ${lock.acquiredAt} until ${lock.expiresAt}\n`,
    );
  }
}

export interface EnvironmentView {
  readonly environment: string;
  readonly projectDir: string;
  /** As the last run recorded it: active, destroyed, failed, rolled_back, rollback_failed… */
  readonly status: string;
  readonly lastRunId: string;
  readonly updatedAt: string;
  readonly lastGood: { commit: string; runId: string; at: string } | null;
  /** When its scheduled destroy fires (ephemeral environments), if one is pending. */
  readonly destroyAt: string | null;
  /** The lock of this project in the environment (an older environment-wide one too). */
  readonly lock: Pick<LockView, 'project' | 'owner' | 'state'> | null;
}

export async function envsVerb(values: CliValues, io: Io): Promise<number> {
  return withEngine(values, io, async (engine, repository) => {
    const { records, schedules } = engine.stores;
    const locks = lockViews(engine, new Date(), await projectDirs(repository));
    const envs: EnvironmentView[] = [];
    for (const record of records.listEnvironments()) {
      const lastGood = await records.getLastGood(record.environment, record.projectDir);
      // Its own schedule, or the one of the ephemeral run of several projects it was part of.
      const schedule = schedules
        .list(record.environment)
        .find(
          (s) =>
            s.status === 'pending' && scheduledDirs(s, s.projectDir).includes(record.projectDir),
        );
      envs.push(environmentView(record, lastGood, schedule?.fireAt ?? null, locks));
    }
    renderEnvironments(envs, values, io);
    return 0;
  });
}

/** One environment and project as `envs` shows it, with its lock among `locks`. */
export function environmentView(
  record: EnvironmentRecord,
  lastGood: LastGoodCommit | undefined,
  destroyAt: string | null,
  locks: readonly LockView[],
): EnvironmentView {
  const lock = locks.find(
    (l) =>
      l.environment === record.environment &&
      ((l.dir ?? l.project) === record.projectDir || l.project === WHOLE_ENVIRONMENT_PROJECT),
  );
  return {
    environment: record.environment,
    projectDir: record.projectDir,
    status: record.status,
    lastRunId: record.lastRunId,
    updatedAt: record.updatedAt,
    lastGood: lastGood ?? null,
    destroyAt,
    lock: lock ? { project: lock.project, owner: lock.owner, state: lock.state } : null,
  };
}

/** `envs`: each environment's state, last good commit, TTL and lock. */
export function renderEnvironments(
  envs: readonly EnvironmentView[],
  values: CliValues,
  io: Io,
): void {
  if (values.json === true) {
    io.out(`${JSON.stringify({ environments: envs }, null, 2)}\n`);
    return;
  }
  if (envs.length === 0) io.out('no environment has had a run yet\n');
  for (const env of envs) {
    const good = env.lastGood ? ` last good ${env.lastGood.commit.slice(0, 12)}` : '';
    const ttl = env.destroyAt ? ` destroy at ${env.destroyAt}` : '';
    const lock = env.lock
      ? ` locked (${env.lock.project}) by ${env.lock.owner} (${env.lock.state})`
      : '';
    io.out(
      `${env.environment.padEnd(14)} ${env.projectDir.padEnd(24)} ${env.status}${good}${ttl}${lock}\n`,
    );
  }
}

/**
 * Clears locks whose run is gone (ended, or its process died): with --project, the named
 * projects' locks in ENV; without, every lock of ENV. A lock whose run is alive is refused
 * (LockHeld, exit 1) unless --force; without --project, live ones are kept and the stale ones
 * cleared. Who cleared each is recorded on the lock's run.
 */
export async function unlockVerb(
  positionals: readonly string[],
  values: CliValues,
  io: Io,
): Promise<number> {
  const { environment, projects, by } = unlockArguments(positionals, values, io);
  return withEngine(values, io, async (engine) => {
    const chosen = locksToClear(lockViews(engine), environment, projects, values);
    const now = new Date();
    const cleared: Cleared[] = [];
    for (const lock of chosen) {
      const released = await engine.stores.locks.release(
        environment,
        lock.project,
        lock.owner,
        now,
      );
      engine.stores.runs.addEvent({
        runId: lock.owner,
        at: now.toISOString(),
        type: 'unlocked',
        state: 'Unlock',
        durationMs: null,
        detail: unlockDetail(lock, by),
      });
      cleared.push({ lock, released });
    }
    renderUnlock(cleared, by, values, io);
    return 0;
  });
}

/** A lock `unlock` cleared, and whether the store still had it. */
export interface Cleared {
  readonly lock: LockView;
  readonly released: boolean;
}

/**
 * The locks `unlock ENV [--project NAME…]` clears: the named ones (NotFound for one that is
 * not locked; LockHeld for a live one, unless --force), or every stale lock of ENV (every
 * one with --force; LockHeld when all are live).
 */
export function locksToClear(
  all: readonly LockView[],
  environment: string,
  projects: readonly string[],
  values: CliValues,
): LockView[] {
  const inEnvironment = all.filter((lock) => lock.environment === environment);
  if (projects.length > 0) {
    return projects.map((project) => {
      const lock = inEnvironment.find((view) => view.project === project);
      if (!lock) throw new NotFound(`project ${project} is not locked in ${environment}`);
      refuseLiveLock(lock, values);
      return lock;
    });
  }
  if (inEnvironment.length === 0) throw new NotFound(`${environment} is not locked`);
  const chosen = inEnvironment.filter((lock) => lock.state === 'stale' || values.force === true);
  const live = inEnvironment.find((lock) => lock.state === 'held');
  if (chosen.length === 0 && live !== undefined) refuseLiveLock(live, values);
  return chosen;
}

/** Who acts from this terminal: `$USER@cli`. */
export function cliIdentity(io: Pick<Io, 'env'>): string {
  return `${io.env.USER ?? userInfo().username}@cli`;
}

/** unlock's one argument, ENV, checked; its --project names; and who clears the locks. */
export function unlockArguments(
  positionals: readonly string[],
  values: Pick<CliValues, 'project'>,
  io: Pick<Io, 'env'>,
): { environment: string; projects: string[]; by: string } {
  if (positionals.length !== 1) throw new InvalidInput('ENV', 'unlock takes exactly one ENV');
  return {
    environment: parseInput(ENVIRONMENT_NAME, positionals[0], 'ENV'),
    projects: projectNames(values),
    by: cliIdentity(io),
  };
}

/** A lock whose run is alive is refused (LockHeld, exit 1) unless --force. */
export function refuseLiveLock(lock: LockView, values: CliValues): void {
  if (lock.state === 'held' && values.force !== true) {
    throw new LockHeld(
      `run ${lock.owner}${holderText(lock)} is alive and holds ${lock.project} in ${lock.environment}; stop it (stepform cancel ${lock.owner}) or pass --force`,
    );
  }
}

function how(lock: LockView): string {
  return lock.state === 'held' ? 'forced, its run still alive' : 'its run is gone';
}

/** What is recorded on the lock's run: who cleared it, and whether its run was alive. */
export function unlockDetail(lock: LockView, by: string): string {
  return `lock on ${lock.project} in ${lock.environment} cleared by ${by} (${how(lock)})`;
}

export function renderUnlock(
  cleared: readonly Cleared[],
  by: string,
  values: CliValues,
  io: Io,
): void {
  if (values.json === true) {
    const unlocked = cleared.map(({ lock, released }) => ({
      environment: lock.environment,
      project: lock.project,
      owner: lock.owner,
      released,
      forced: lock.state === 'held',
      by,
    }));
    io.out(`${JSON.stringify({ unlocked })}\n`);
    return;
  }
  if (cleared.length === 0) io.out('no lock was cleared\n');
  for (const { lock } of cleared) {
    io.out(
      `released the lock on ${lock.project} in ${lock.environment} held by run ${lock.owner} (${how(lock)}), recorded as cleared by ${by}\n`,
    );
  }
}

/** How long `cancel` waits for the run to end before it says it is still stopping. */
const CANCEL_WAIT_MS = 120_000;

/**
 * Stops a run from another terminal, as Ctrl-C in its own would: SIGINT to the process that
 * runs it (on this machine), then waits for the run to end cancelled. A run whose process is
 * already gone is closed as interrupted.
 */
export async function cancelVerb(
  positionals: readonly string[],
  values: CliValues,
  io: Io,
): Promise<number> {
  if (positionals.length !== 1) throw new InvalidInput('RUN_ID', 'cancel takes exactly one run id');
  const runId = parseInput(RUN_ID, positionals[0], 'RUN_ID');
  return withEngine(values, io, async (engine) => {
    const { runs } = engine.stores;
    const run = runs.get(runId);
    if (!run) throw new NotFound(`no run ${runId}`);
    if (run.status !== 'running')
      throw new RunNotWaiting(`run ${runId} already ended ${run.status}`);
    const held = runs.held(runId);
    const here = thisProcess(new Date()).host;
    if (isRunHolderGone(run, held?.holder)) {
      await engine.reap();
    } else if (held?.holder && held.holder.host === here) {
      process.kill(held.holder.pid, 'SIGINT');
      const deadline = performance.now() + CANCEL_WAIT_MS;
      while (runs.get(runId)?.status === 'running' && performance.now() < deadline) {
        await sleep(250);
      }
    } else {
      throw new InvalidInput(
        'RUN_ID',
        `run ${runId} runs on ${held?.holder?.host ?? 'another machine'}: cancel it there`,
      );
    }
    const ended = runs.get(runId);
    const result = { runId, status: ended?.status ?? 'unknown', phase: ended?.phase ?? null };
    renderCancelled(result, values, io);
    return result.status === 'running' ? 1 : 0;
  });
}

/** `cancel`'s answer: how the run ended (or that it is still stopping: exit 1). */
export function renderCancelled(
  result: { runId: string; status: string; phase: string | null },
  values: CliValues,
  io: Io,
): void {
  io.out(
    values.json === true
      ? `${JSON.stringify(result)}\n`
      : `run ${result.runId}: ${result.status}${result.phase ? ` (${result.phase})` : ''}\n`,
  );
}
