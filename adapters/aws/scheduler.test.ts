import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import { InvalidInput } from '../../core/errors.ts';
import type { DestroySchedule } from '../../core/ports.ts';
import { RUN_INPUT } from '../../core/contracts/workflow-input.ts';
import {
  EventBridgeSchedulePort,
  START_EXECUTION_TARGET,
  atExpression,
  scheduleName,
  scheduledExecution,
} from './scheduler.ts';

const scheduler = mockClient(SchedulerClient);
const client = new SchedulerClient({ region: 'us-east-1' });
const TARGET = {
  groupName: 'stepform',
  stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:stepform-destroy',
  roleArn: 'arn:aws:iam::123456789012:role/stepform-scheduler',
};
const COMMIT = 'b'.repeat(40);
const SCHEDULE: DestroySchedule = {
  environment: 'pr-42',
  projectDir: 'app',
  repository: 'https://github.com/acme/infra',
  commit: COMMIT,
  fireAt: '2026-03-01T14:00:00.000Z',
  createdBy: 'run-1',
};
const INPUT = {
  runId: 'ttl-pr-42-20260301T140000Z-',
  workflow: 'destroy',
  repository: 'https://github.com/acme/infra',
  commit: COMMIT,
  projectDir: 'app',
  environment: 'pr-42',
  autoApprove: true,
  approvalTimeoutSeconds: 3600,
};

beforeEach(() => {
  scheduler.reset();
});

function expectedInput(fireAt: string) {
  return {
    Name: 'ttl-pr-42.app',
    GroupName: 'stepform',
    Description: 'Stepform TTL: destroy pr-42 (app), set by run run-1',
    ScheduleExpression: atExpression(fireAt),
    ScheduleExpressionTimezone: 'UTC',
    FlexibleTimeWindow: { Mode: 'OFF' },
    ActionAfterCompletion: 'DELETE',
    State: 'ENABLED',
    // Scheduler's universal target: StartExecution, the execution named by the run id.
    Target: {
      Arn: START_EXECUTION_TARGET,
      RoleArn: TARGET.roleArn,
      Input: expect.any(String) as unknown,
    },
  };
}

describe('EventBridgeSchedulePort.upsert', () => {
  const schedules = new EventBridgeSchedulePort(client, TARGET);

  it('creates a one-time at() schedule that starts the destroy workflow', async () => {
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:s' });
    await schedules.upsert(SCHEDULE);
    expect(scheduler.commandCalls(CreateScheduleCommand)).toHaveLength(1);
    expect(scheduler.commandCalls(UpdateScheduleCommand)).toHaveLength(0);
    const input = scheduler.commandCalls(CreateScheduleCommand)[0]!.args[0].input;
    expect(input).toEqual(expectedInput(SCHEDULE.fireAt));
    expect(input.ScheduleExpression).toBe('at(2026-03-01T14:00:00)');
    const started = scheduledExecution(input.Target);
    expect(started).toEqual({
      stateMachineArn: TARGET.stateMachineArn,
      name: expect.stringMatching(/^ttl-pr-42-20260301T140000Z-[0-9a-f]{8}$/),
      input: { ...INPUT, runId: expect.any(String) },
    });
    expect(RUN_INPUT.parse(started.input).runId).toBe(started.name);
  });

  it("marks a protected environment's destroy protected, and reads it back as pending", async () => {
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:s' });
    const guarded: DestroySchedule = { ...SCHEDULE, protectedEnvironment: true };
    await schedules.upsert(guarded);
    const input = scheduler.commandCalls(CreateScheduleCommand)[0]!.args[0].input;
    expect(scheduledExecution(input.Target).input).toMatchObject({
      autoApprove: true,
      protectedEnvironment: true,
    });
    scheduler.on(GetScheduleCommand).resolves({
      State: 'ENABLED',
      ScheduleExpression: input.ScheduleExpression,
      Description: input.Description,
      Target: input.Target,
    });
    expect(await schedules.pending('pr-42', 'app')).toEqual(guarded);
  });

  it('reads back a schedule written before the universal target (the state machine as target)', async () => {
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:s' });
    await schedules.upsert(SCHEDULE);
    const input = scheduler.commandCalls(CreateScheduleCommand)[0]!.args[0].input;
    const started = scheduledExecution(input.Target);
    // As the adapter wrote them until now: the run as the state machine's input, no name.
    scheduler.on(GetScheduleCommand).resolves({
      State: 'ENABLED',
      ScheduleExpression: input.ScheduleExpression,
      Description: input.Description,
      Target: {
        Arn: TARGET.stateMachineArn,
        RoleArn: TARGET.roleArn,
        Input: JSON.stringify(started.input),
      },
    });
    expect(await schedules.pending('pr-42', 'app')).toEqual(SCHEDULE);
  });

  it('updates the schedule on ConflictException', async () => {
    scheduler
      .on(CreateScheduleCommand)
      .rejects(new ConflictException({ message: 'exists', Message: 'exists', $metadata: {} }));
    scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: 'arn:s' });
    const later = { ...SCHEDULE, fireAt: '2026-03-01T18:30:00.000Z' };
    await schedules.upsert(later);
    expect(scheduler.commandCalls(CreateScheduleCommand)).toHaveLength(1);
    expect(scheduler.commandCalls(UpdateScheduleCommand)).toHaveLength(1);
    expect(scheduler.commandCalls(UpdateScheduleCommand)[0]!.args[0].input).toEqual(
      scheduler.commandCalls(CreateScheduleCommand)[0]!.args[0].input,
    );
    expect(scheduler.commandCalls(UpdateScheduleCommand)[0]!.args[0].input.ScheduleExpression).toBe(
      'at(2026-03-01T18:30:00)',
    );
  });

  it('passes other errors through without updating', async () => {
    scheduler.on(CreateScheduleCommand).rejects(new Error('ValidationException'));
    await expect(schedules.upsert(SCHEDULE)).rejects.toThrow('ValidationException');
    expect(scheduler.commandCalls(UpdateScheduleCommand)).toHaveLength(0);
  });

  it('refuses a schedule whose destroy input is not a valid run', async () => {
    await expect(schedules.upsert({ ...SCHEDULE, commit: 'main' })).rejects.toThrow(InvalidInput);
    await expect(schedules.upsert({ ...SCHEDULE, fireAt: 'soon' })).rejects.toThrow(InvalidInput);
    expect(scheduler.calls()).toHaveLength(0);
  });
});

describe('EventBridgeSchedulePort.remove', () => {
  const schedules = new EventBridgeSchedulePort(client, TARGET);

  it('deletes the schedule by name and group', async () => {
    scheduler.on(DeleteScheduleCommand).resolves({});
    await schedules.remove('pr-42', 'app');
    expect(scheduler.commandCalls(DeleteScheduleCommand)[0]!.args[0].input).toEqual({
      Name: 'ttl-pr-42.app',
      GroupName: 'stepform',
    });
  });

  it('ignores ResourceNotFoundException', async () => {
    scheduler
      .on(DeleteScheduleCommand)
      .rejects(new ResourceNotFoundException({ message: 'gone', Message: 'gone', $metadata: {} }));
    await expect(schedules.remove('pr-42', 'app')).resolves.toBeUndefined();
  });

  it('passes other errors through', async () => {
    scheduler.on(DeleteScheduleCommand).rejects(new Error('AccessDenied'));
    await expect(schedules.remove('pr-42', 'app')).rejects.toThrow('AccessDenied');
  });
});

describe('scheduleName', () => {
  it('is readable when it can be, hashed otherwise, and always valid', () => {
    expect(scheduleName('dev', 'app')).toBe('ttl-dev.app');
    expect(scheduleName('dev', 'a-b')).not.toBe(scheduleName('dev-a', 'b'));
    const nested = scheduleName('dev', 'infra/app');
    expect(nested).toMatch(/^ttl-dev\.infra_app-[0-9a-f]{16}$/);
    expect(nested).not.toBe(scheduleName('dev', 'infra_app'));
    const long = scheduleName('e'.repeat(63), 'p'.repeat(200));
    expect(long).toHaveLength(64);
    for (const name of [nested, long, scheduleName('dev', '.')]) {
      expect(name).toMatch(/^[0-9A-Za-z_.-]{1,64}$/);
    }
    expect(scheduleName('dev', 'infra/app')).toBe(nested);
    expect(scheduleName('dev', 'infra/app')).not.toBe(scheduleName('dev', 'infra/api'));
  });
});

describe('atExpression', () => {
  it('rounds up to the second, in UTC', () => {
    expect(atExpression('2026-03-01T14:00:00.000Z')).toBe('at(2026-03-01T14:00:00)');
    expect(atExpression('2026-03-01T14:00:00.001Z')).toBe('at(2026-03-01T14:00:01)');
    expect(atExpression('2026-03-01T16:00:00+02:00')).toBe('at(2026-03-01T14:00:00)');
  });

  it('refuses bad targets', () => {
    expect(() => new EventBridgeSchedulePort(client, { ...TARGET, groupName: '' })).toThrow(
      InvalidInput,
    );
    expect(() => new EventBridgeSchedulePort(client, { ...TARGET, roleArn: 'role' })).toThrow(
      InvalidInput,
    );
  });
});
