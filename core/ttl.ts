// Time to live of ephemeral environments: the destroy run a schedule starts when the TTL runs
// out, and moving or cancelling the TTL of a live environment (the ttl workflow's ChangeTtl).
// Both engines use these: the EventBridge Scheduler adapter and the local scheduler build the
// same destroy run, and the TTL change is one step over ports, whichever store and scheduler
// sit behind them.
import { createHash } from 'node:crypto';
import { RUN_ID_LIMIT } from './contracts/job-input.ts';
import { RUN_INPUT, type RunContext } from './contracts/workflow-input.ts';
import { z } from 'zod';
import { DEFAULT_TTL_BOUNDS } from './duration.ts';
import { InvalidInput, NotFound } from './errors.ts';
import type { DestroySchedule, EnvironmentRecord, RecordPort, SchedulePort } from './ports.ts';
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
 * nobody to ask: it is auto-approved, except in a protected environment, where it waits for
 * an approval (Slack, the approval page) as every destroy there does.
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
      ...(schedule.protectedEnvironment === true ? { protectedEnvironment: true } : {}),
      ...(schedule.projects === undefined ? {} : { projects: schedule.projects }),
    },
    'schedule',
  );
}

/** The folders a schedule's destroy covers: its projects', or its own. */
export function scheduledDirs(schedule: DestroySchedule | undefined, projectDir: string): string[] {
  return schedule?.projects?.map((project) => project.dir) ?? [projectDir];
}

/**
 * A TTL change applies only to a live ephemeral environment: one whose records (one per
 * project the schedule covers) say at least one is active (NotFound otherwise: never applied,
 * or destroyed) and whose destroy is still scheduled (InvalidInput naming the environment
 * otherwise: it is not ephemeral, or its TTL was cancelled). The CLI checks the same before it
 * starts a run, the ttl workflow again. Gives the live records, whose expiry the change moves.
 */
export function assertLiveEphemeral(
  environment: string,
  projectDir: string,
  records: readonly (EnvironmentRecord | undefined)[],
  schedule: DestroySchedule | undefined,
  field = 'environment',
): { records: EnvironmentRecord[]; schedule: DestroySchedule } {
  const live = records.filter((record) => record?.status === 'active') as EnvironmentRecord[];
  if (live.length === 0) {
    const [record] = records;
    throw new NotFound(
      `no live environment ${environment} (${projectDir})${record ? `: it is ${record.status}` : ''}`,
    );
  }
  if (schedule === undefined) {
    throw new InvalidInput(
      field,
      `${environment} (${projectDir}) is not ephemeral: it has no scheduled destroy to move or cancel`,
    );
  }
  return { records: live, schedule };
}

/** Whole seconds within DEFAULT_TTL_BOUNDS (1 minute to 30 days), or InvalidInput naming `field`. */
export function assertTtlInBounds(ttlSeconds: number, field: string): number {
  const ms = ttlSeconds * 1000;
  if (ms < DEFAULT_TTL_BOUNDS.minMs || ms > DEFAULT_TTL_BOUNDS.maxMs) {
    throw new InvalidInput(
      field,
      `must be from ${DEFAULT_TTL_BOUNDS.minMs / 1000} s to ${DEFAULT_TTL_BOUNDS.maxMs / 1000} s`,
    );
  }
  return ms;
}

const CHANGE_TTL_INPUT = z.looseObject({ run: RUN_INPUT });

/** What ChangeTtl reads and writes. */
export interface TtlPorts {
  readonly schedules: SchedulePort;
  readonly records: RecordPort;
}

/** ChangeTtl's output: the schedule after the change (fireAt null: cancelled). */
export interface TtlChanged {
  readonly projectDir: string;
  readonly previousFireAt: string;
  readonly schedule: { readonly fireAt: string | null };
}

/**
 * ChangeTtl, the ttl workflow's step: moves the destroy of a live ephemeral environment to
 * now + ttlSeconds, or with cancelTtl removes it (kept until destroyed by hand). The
 * environment's record says the new expiry (null when cancelled); the Notify step after it
 * tells everyone (phase ttl_changed).
 */
export async function changeTtlStep(
  input: unknown,
  ports: TtlPorts,
  now: Date,
): Promise<TtlChanged> {
  const { run } = parseInput(CHANGE_TTL_INPUT, input, 'changeTtl');
  if (run.workflow !== 'ttl') throw new InvalidInput('changeTtl.run.workflow', 'must be ttl');
  const { environment, projectDir } = run;
  const ttlMs =
    run.ttlSeconds === undefined
      ? undefined
      : assertTtlInBounds(run.ttlSeconds, 'changeTtl.run.ttlSeconds');
  const pending = await ports.schedules.pending(environment, projectDir);
  const { records, schedule } = assertLiveEphemeral(
    environment,
    projectDir,
    await Promise.all(
      scheduledDirs(pending, projectDir).map((dir) =>
        ports.records.readEnvironment(environment, dir),
      ),
    ),
    pending,
    'changeTtl.run.environment',
  );
  let fireAt: string | null = null;
  if (ttlMs === undefined) {
    await ports.schedules.remove(environment, projectDir);
  } else {
    fireAt = new Date(now.getTime() + ttlMs).toISOString();
    await ports.schedules.upsert({ ...schedule, fireAt, createdBy: run.runId });
  }
  for (const record of records) {
    await ports.records.setEnvironment({
      ...record,
      ttlExpiresAt: fireAt,
      updatedAt: now.toISOString(),
    });
  }
  return { projectDir, previousFireAt: schedule.fireAt, schedule: { fireAt } };
}
