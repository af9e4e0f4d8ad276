// The recurring drift schedules on EventBridge Scheduler: one per environment of
// stepform.yaml's drift.schedule, in the deployment's drift group, each starting the drift
// workflow with that environment's drift run (its run id filled by Scheduler per fire, see
// core/drift-schedule.ts). `stepform drift --stack … --schedule` makes the group hold exactly
// what the file says: it writes each schedule and removes the ones the file no longer has.
import { createHash } from 'node:crypto';
import {
  CreateScheduleCommand,
  type CreateScheduleInput,
  DeleteScheduleCommand,
  GetScheduleCommand,
  ListSchedulesCommand,
  type SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import type { RunContext } from '../../core/contracts/workflow-input.ts';
import { scheduledRunId, scheduledRunInput } from '../../core/drift-schedule.ts';
import { InvalidInput } from '../../core/errors.ts';
import { isAwsError } from './aws-errors.ts';
import { type SchedulerTarget, startExecutionTarget } from './scheduler.ts';

const NAME_LIMIT = 64;

/**
 * `drift-<env>`, or for an environment name too long for Scheduler's 64 characters a prefix of
 * it and 12 hex digits of its SHA-256, so that two long names do not collide.
 */
export function driftScheduleName(environment: string): string {
  const raw = `drift-${environment}`;
  if (raw.length <= NAME_LIMIT) return raw;
  const hash = createHash('sha256').update(environment, 'utf8').digest('hex').slice(0, 12);
  return `${raw.slice(0, NAME_LIMIT - hash.length - 1)}-${hash}`;
}

/** A drift schedule as the group holds it. */
export interface DriftScheduleView {
  readonly name: string;
  readonly expression: string;
  readonly environment: string;
}

export class EventBridgeDriftSchedules {
  readonly #scheduler: SchedulerClient;
  readonly #target: SchedulerTarget;

  constructor(client: SchedulerClient, target: SchedulerTarget) {
    if (target.groupName === '') throw new InvalidInput('groupName', 'must not be empty');
    if (!target.stateMachineArn.startsWith('arn:'))
      throw new InvalidInput('stateMachineArn', 'must be a state machine ARN');
    if (!target.roleArn.startsWith('arn:')) throw new InvalidInput('roleArn', 'must be a role ARN');
    this.#scheduler = client;
    this.#target = target;
  }

  /** What CreateSchedule and UpdateSchedule are given (an update replaces the whole schedule). */
  scheduleInput(expression: string, run: RunContext): CreateScheduleInput {
    return {
      Name: driftScheduleName(run.environment),
      GroupName: this.#target.groupName,
      Description: `Stepform drift check of ${run.environment}, set from commit ${run.commit}`,
      ScheduleExpression: expression,
      // stepform.yaml's expression is read as UTC, by `stepform serve` too.
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Target: startExecutionTarget(this.#target, scheduledRunId(run), scheduledRunInput(run)),
    };
  }

  /**
   * Makes the group hold one schedule per run (one run per environment) and nothing else:
   * each written (created, or replaced when it exists), then every other one deleted. No
   * expression: the file has no drift.schedule, and every drift schedule is deleted.
   */
  async reconcile(
    expression: string | undefined,
    runs: readonly RunContext[],
  ): Promise<{ written: DriftScheduleView[]; removed: string[] }> {
    const written: DriftScheduleView[] = [];
    if (expression !== undefined) {
      for (const run of runs) {
        const input = this.scheduleInput(expression, run);
        try {
          await this.#scheduler.send(new CreateScheduleCommand(input));
        } catch (error) {
          if (!isAwsError(error, 'ConflictException')) throw error;
          await this.#scheduler.send(new UpdateScheduleCommand(input));
        }
        written.push({ name: input.Name ?? '', expression, environment: run.environment });
      }
    }
    const keep = new Set(written.map((schedule) => schedule.name));
    const removed: string[] = [];
    for (const name of await this.#names()) {
      if (keep.has(name)) continue;
      try {
        await this.#scheduler.send(
          new DeleteScheduleCommand({ Name: name, GroupName: this.#target.groupName }),
        );
      } catch (error) {
        if (!isAwsError(error, 'ResourceNotFoundException')) throw error;
      }
      removed.push(name);
    }
    return { written, removed };
  }

  /** The schedule of one environment as Scheduler holds it, or undefined. */
  async get(environment: string) {
    try {
      return await this.#scheduler.send(
        new GetScheduleCommand({
          Name: driftScheduleName(environment),
          GroupName: this.#target.groupName,
        }),
      );
    } catch (error) {
      if (isAwsError(error, 'ResourceNotFoundException')) return undefined;
      throw error;
    }
  }

  /** Every schedule's name in the group, page by page. */
  async #names(): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.#scheduler.send(
        new ListSchedulesCommand({
          GroupName: this.#target.groupName,
          ...(token === undefined ? {} : { NextToken: token }),
        }),
      );
      for (const schedule of page.Schedules ?? [])
        if (schedule.Name !== undefined) names.push(schedule.Name);
      token = page.NextToken;
    } while (token !== undefined);
    return names;
  }
}
