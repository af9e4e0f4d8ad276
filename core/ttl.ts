// Time to live of ephemeral environments: the destroy run a schedule starts when the TTL runs
// out, and moving the TTL of a live environment. Both engines use these: the EventBridge
// Scheduler adapter and the local scheduler build the same destroy run, and the TTL change is
// one step over ports, whichever store and scheduler sit behind them.
import { createHash } from 'node:crypto';
import { RUN_ID_LIMIT } from './contracts/job-input.ts';
import { RUN_INPUT, type RunContext } from './contracts/workflow-input.ts';
import { InvalidInput, NotFound } from './errors.ts';
import type { NotifyInput } from './notify.ts';
import type { DestroySchedule, EnvironmentRecord, SchedulePort } from './ports.ts';
import { parseInput } from './validation.ts';

/** A SHA-256 (hex) of an environment and project: what tells schedules apart in names and ids. */
export function scheduleHash(environment: string, projectDir: string): string {
  return createHash('sha256').update(`${environment}\0${projectDir}`, 'utf8').digest('hex');
}

/** The fire time rounded up to the second (never before it), as `yyyy-mm-ddThh:mm:ss`. */
export function fireSecond(fireAt: string): string {
  const ms = Date.parse(fireAt);
  if (Number.isNaN(ms)) throw new InvalidInput('schedule.fireAt', 'is not an ISO date');
  return new Date(Math.ceil(ms / 1000) * 1000).toISOString().slice(0, 19);
}

/**
 * The destroy run a schedule starts: the schedule's repository, commit, project and
 * environment, and a run id made from them and the fire time (`ttl-<env>-<stamp>Z-<hash>`),
 * so a retried delivery of the same schedule carries the same run id. A TTL destroy has
 * nobody to ask: it is auto-approved.
 */
export function scheduledDestroyRun(schedule: DestroySchedule): RunContext {
  const stamp = fireSecond(schedule.fireAt).replace(/[-:]/g, '');
  const hash = scheduleHash(schedule.environment, schedule.projectDir).slice(0, 8);
  // A long environment name is shortened so the id fits; the hash still tells them apart.
  const room = RUN_ID_LIMIT - `ttl--${stamp}Z-${hash}`.length;
  const environment = schedule.environment.slice(0, room).replace(/[-_]+$/, '');
  return parseInput(
    RUN_INPUT,
    {
      runId: `ttl-${environment}-${stamp}Z-${hash}`,
      workflow: 'destroy',
      repository: schedule.repository,
      commit: schedule.commit,
      projectDir: schedule.projectDir,
      environment: schedule.environment,
      autoApprove: true,
    },
    'schedule',
  );
}

/** What the TTL change step reads and writes. */
export interface TtlPorts {
  /** The destroy schedules of `environment` that have not fired yet. */
  pendingSchedules(environment: string): Promise<readonly DestroySchedule[]>;
  readonly schedules: SchedulePort;
  getEnvironment(environment: string, projectDir: string): Promise<EnvironmentRecord | undefined>;
  setEnvironment(record: EnvironmentRecord): Promise<void>;
}

export interface TtlChangeRequest {
  readonly environment: string;
  /** Which project, when the environment has several scheduled; named `projectField` in errors. */
  readonly projectDir?: string;
  readonly ttlMs: number;
  /** The input field that names the project, for the error when one must be chosen. */
  readonly projectField?: string;
}

export interface TtlChange {
  readonly environment: string;
  readonly projectDir: string;
  readonly fireAt: string;
  readonly previousFireAt: string;
  /** The ttl_changed notice for the Notify step. */
  readonly notice: NotifyInput;
}

/** The one pending schedule a TTL change is about; NotFound or InvalidInput otherwise. */
export function scheduleToChange(
  pending: readonly DestroySchedule[],
  request: TtlChangeRequest,
): DestroySchedule {
  const matching = pending.filter(
    (s) => request.projectDir === undefined || s.projectDir === request.projectDir,
  );
  const [schedule, ...others] = matching;
  if (schedule === undefined) throw new NotFound(`no scheduled destroy for ${request.environment}`);
  if (others.length > 0) {
    throw new InvalidInput(
      request.projectField ?? 'projectDir',
      `${request.environment} has several scheduled projects: say which with ${request.projectField ?? 'projectDir'}`,
    );
  }
  return schedule;
}

/**
 * Moves the destroy of a live ephemeral environment to now + ttl: the schedule is replaced,
 * the environment's record says the new expiry, and the returned notice tells everyone.
 */
export async function changeTtlStep(
  request: TtlChangeRequest,
  ports: TtlPorts,
  now: Date,
): Promise<TtlChange> {
  const schedule = scheduleToChange(await ports.pendingSchedules(request.environment), request);
  const fireAt = new Date(now.getTime() + request.ttlMs).toISOString();
  await ports.schedules.upsert({ ...schedule, fireAt });
  const environment = await ports.getEnvironment(schedule.environment, schedule.projectDir);
  if (environment) {
    await ports.setEnvironment({
      ...environment,
      ttlExpiresAt: fireAt,
      updatedAt: now.toISOString(),
    });
  }
  return {
    environment: schedule.environment,
    projectDir: schedule.projectDir,
    fireAt,
    previousFireAt: schedule.fireAt,
    notice: {
      run: {
        runId: schedule.createdBy,
        workflow: 'ephemeral',
        repository: schedule.repository,
        commit: schedule.commit,
        projectDir: schedule.projectDir,
        environment: schedule.environment,
        ttlSeconds: Math.round(request.ttlMs / 1000),
      },
      phase: 'ttl_changed',
      schedule: { fireAt },
    },
  };
}
