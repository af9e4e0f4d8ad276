// The EventBridge Scheduler adapter of the schedule port: one one-time `at()` schedule per
// environment and project, in the deployment's schedule group, that starts the destroy state
// machine when the TTL runs out (as an execution named by the run id, see
// startExecutionTarget) and then deletes itself (ActionAfterCompletion: DELETE).
// Changing the TTL updates the same schedule; the run it starts is core's (core/ttl.ts).
import {
  CreateScheduleCommand,
  type CreateScheduleInput,
  DeleteScheduleCommand,
  GetScheduleCommand,
  type SchedulerClient,
  type Target,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { z } from 'zod';
import { InvalidInput } from '../../core/errors.ts';
import { RUN_INPUT } from '../../core/contracts/workflow-input.ts';
import { parseInput } from '../../core/validation.ts';
import type { DestroySchedule, SchedulePort } from '../../core/ports.ts';
import { fireSecond, scheduleHash, scheduledDestroyRun } from '../../core/ttl.ts';
import { isAwsError } from './aws-errors.ts';

export interface SchedulerTarget {
  /** The schedule group (created by the deployment). */
  readonly groupName: string;
  /** The destroy workflow's state machine. */
  readonly stateMachineArn: string;
  /** The role Scheduler assumes to call states:StartExecution on it. */
  readonly roleArn: string;
}

/**
 * Scheduler's universal target for Step Functions' StartExecution. Unlike the state machine
 * as a templated target, it names the execution: the run id, so that `logs RUN_ID` and
 * every lookup by run id find a scheduled run, and a retried invocation starts no second run
 * (StartExecution with the same name and input is idempotent).
 */
export const START_EXECUTION_TARGET = 'arn:aws:scheduler:::aws-sdk:sfn:startExecution';

/** A target that starts the state machine as execution `runId` (Scheduler fills its keywords). */
export function startExecutionTarget(
  target: Pick<SchedulerTarget, 'stateMachineArn' | 'roleArn'>,
  runId: string,
  input: string,
): Target {
  return {
    Arn: START_EXECUTION_TARGET,
    RoleArn: target.roleArn,
    Input: JSON.stringify({ StateMachineArn: target.stateMachineArn, Name: runId, Input: input }),
  };
}

const START_EXECUTION = z.strictObject({
  StateMachineArn: z.string().min(1),
  Name: z.string().min(1),
  Input: z.string(),
});

function parsedJson(text: string | undefined, field: string): unknown {
  try {
    return JSON.parse(text ?? 'null');
  } catch {
    throw new InvalidInput(field, 'is not JSON');
  }
}

/**
 * What a schedule's target will start: the state machine, the execution's name and input. A
 * schedule written before the universal target (the state machine itself as the target, its
 * input the run) is read too: it fires as it was written, its execution named by Scheduler.
 */
export function scheduledExecution(target: Target | undefined): {
  stateMachineArn: string;
  name: string | undefined;
  input: unknown;
} {
  if (target?.Arn?.startsWith('arn:aws:states:') === true) {
    return {
      stateMachineArn: target.Arn,
      name: undefined,
      input: parsedJson(target.Input, 'schedule.target.input'),
    };
  }
  if (target?.Arn !== START_EXECUTION_TARGET)
    throw new InvalidInput('schedule.target', `is not ${START_EXECUTION_TARGET}`);
  const started = parseInput(
    START_EXECUTION,
    parsedJson(target.Input, 'schedule.target.input'),
    'schedule.target.input',
  );
  return {
    stateMachineArn: started.StateMachineArn,
    name: started.Name,
    input: parsedJson(started.Input, 'schedule.target.input.Input'),
  };
}

const NAME_LIMIT = 64;
const NAME_ALLOWED = /^[0-9A-Za-z_.-]+$/;

/**
 * The schedule's name, the same for the same environment and project: `ttl-<env>.<project>`
 * (an environment name has no ".", so the first one ends it) when that is at most 64
 * characters of [0-9A-Za-z_.-]; otherwise a readable prefix (other characters as "_") and 16
 * hex digits of a SHA-256 of both, so that names do not collide.
 */
export function scheduleName(environment: string, projectDir: string): string {
  const raw = `ttl-${environment}.${projectDir}`;
  if (raw.length <= NAME_LIMIT && NAME_ALLOWED.test(raw)) return raw;
  const hash = scheduleHash(environment, projectDir).slice(0, 16);
  const readable = raw.replace(/[^0-9A-Za-z_.-]/g, '_').slice(0, NAME_LIMIT - hash.length - 1);
  return `${readable}-${hash}`;
}

/** `at(yyyy-mm-ddThh:mm:ss)` in UTC, rounded up to the second (never before fireAt). */
export function atExpression(fireAt: string): string {
  return `at(${fireSecond(fireAt)})`;
}

export class EventBridgeSchedulePort implements SchedulePort {
  readonly #scheduler: SchedulerClient;
  readonly #target: SchedulerTarget;

  constructor(client: SchedulerClient, target: SchedulerTarget) {
    if (target.groupName === '') throw new InvalidInput('groupName', 'must not be empty');
    if (!target.stateMachineArn.startsWith('arn:')) {
      throw new InvalidInput('stateMachineArn', 'must be a state machine ARN');
    }
    if (!target.roleArn.startsWith('arn:')) throw new InvalidInput('roleArn', 'must be a role ARN');
    this.#scheduler = client;
    this.#target = target;
  }

  /** What CreateSchedule and UpdateSchedule are given (an update replaces the whole schedule). */
  scheduleInput(schedule: DestroySchedule): CreateScheduleInput {
    const input = scheduledDestroyRun(schedule);
    return {
      Name: scheduleName(schedule.environment, schedule.projectDir),
      GroupName: this.#target.groupName,
      Description:
        `Stepform TTL: destroy ${schedule.environment} (${schedule.projectDir}), set by run ${schedule.createdBy}`.slice(
          0,
          512,
        ),
      ScheduleExpression: atExpression(schedule.fireAt),
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      State: 'ENABLED',
      Target: startExecutionTarget(this.#target, input.runId, JSON.stringify(input)),
    };
  }

  async upsert(schedule: DestroySchedule): Promise<void> {
    const input = this.scheduleInput(schedule);
    try {
      await this.#scheduler.send(new CreateScheduleCommand(input));
    } catch (error) {
      if (!isAwsError(error, 'ConflictException')) throw error;
      await this.#scheduler.send(new UpdateScheduleCommand(input));
    }
  }

  /** The schedule that will still fire (see pendingSchedule). */
  async pending(environment: string, projectDir: string): Promise<DestroySchedule | undefined> {
    return pendingSchedule(this.#scheduler, this.#target.groupName, environment, projectDir);
  }

  /** Deletes the schedule; one that is gone (fired, or never made) is fine. */
  async remove(environment: string, projectDir: string): Promise<void> {
    try {
      await this.#scheduler.send(
        new DeleteScheduleCommand({
          Name: scheduleName(environment, projectDir),
          GroupName: this.#target.groupName,
        }),
      );
    } catch (error) {
      if (!isAwsError(error, 'ResourceNotFoundException')) throw error;
    }
  }
}

/**
 * The schedule as it will fire, read back from GetSchedule: the destroy run in its target,
 * the time in its at() expression, who set it from its description. A fired schedule
 * deletes itself, so one that is there is pending; a disabled one never fires. Reading needs
 * only the group (the operator's console has no target role).
 */
export async function pendingSchedule(
  scheduler: SchedulerClient,
  groupName: string,
  environment: string,
  projectDir: string,
): Promise<DestroySchedule | undefined> {
  let found;
  try {
    found = await scheduler.send(
      new GetScheduleCommand({ Name: scheduleName(environment, projectDir), GroupName: groupName }),
    );
  } catch (error) {
    if (isAwsError(error, 'ResourceNotFoundException')) return undefined;
    throw error;
  }
  if (found.State === 'DISABLED') return undefined;
  const run = parseInput(RUN_INPUT, scheduledExecution(found.Target).input, 'schedule.input');
  const at = /^at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$/.exec(found.ScheduleExpression ?? '')?.[1];
  if (at === undefined) throw new InvalidInput('schedule.expression', 'is not an at() expression');
  return {
    environment: run.environment,
    projectDir: run.projectDir,
    repository: run.repository,
    commit: run.commit,
    fireAt: new Date(`${at}Z`).toISOString(),
    createdBy: /set by run (\S+)$/.exec(found.Description ?? '')?.[1] ?? run.runId,
    ...(run.protectedEnvironment === true ? { protectedEnvironment: true as const } : {}),
    ...(run.projects === undefined ? {} : { projects: run.projects }),
  };
}
