import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ListSchedulesCommand,
  SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import { RUN_INPUT, type RunContext } from '../../core/contracts/workflow-input.ts';
import { scheduledDriftRunId } from '../../core/drift-schedule.ts';
import { EventBridgeDriftSchedules, driftScheduleName } from './drift-schedules.ts';
import { START_EXECUTION_TARGET, scheduledExecution } from './scheduler.ts';

const scheduler = mockClient(SchedulerClient);
const client = new SchedulerClient({ region: 'us-east-1' });
const TARGET = {
  groupName: 'stepform-drift',
  stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:stepform-drift',
  roleArn: 'arn:aws:iam::123456789012:role/stepform-drift-scheduler',
};
const COMMIT = 'c'.repeat(40);

function driftRun(environment: string): RunContext {
  return RUN_INPUT.parse({
    runId: scheduledDriftRunId(environment, 80),
    workflow: 'drift',
    repository: 'https://github.com/acme/infra',
    commit: COMMIT,
    projectDir: 'infra',
    environment,
  });
}

beforeEach(() => {
  scheduler.reset();
});

describe('driftScheduleName', () => {
  it('is drift-<env>, or a prefix and a hash when that is longer than Scheduler allows', () => {
    // Act
    const short = driftScheduleName('prod');
    const long = driftScheduleName(`${'a'.repeat(62)}1`);
    const other = driftScheduleName(`${'a'.repeat(62)}2`);

    // Assess
    expect(short).toBe('drift-prod');
    expect(long).toHaveLength(64);
    expect(long).not.toBe(other);
  });
});

describe('EventBridgeDriftSchedules.reconcile', () => {
  it('writes one recurring UTC schedule per environment and deletes the ones not written', async () => {
    // Prepare
    scheduler
      .on(CreateScheduleCommand, { Name: 'drift-prod' })
      .rejects(new ConflictException({ message: 'exists', Message: 'exists', $metadata: {} }));
    scheduler.on(CreateScheduleCommand, { Name: 'drift-dev' }).resolves({ ScheduleArn: 'arn:d' });
    scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: 'arn:p' });
    scheduler.on(ListSchedulesCommand).resolves({
      Schedules: [{ Name: 'drift-prod' }, { Name: 'drift-dev' }, { Name: 'drift-old' }],
    });
    scheduler.on(DeleteScheduleCommand).resolves({});
    const schedules = new EventBridgeDriftSchedules(client, TARGET);

    // Act
    const result = await schedules.reconcile('rate(6 hours)', [driftRun('prod'), driftRun('dev')]);

    // Assess
    expect(result).toEqual({
      written: [
        { name: 'drift-prod', expression: 'rate(6 hours)', environment: 'prod' },
        { name: 'drift-dev', expression: 'rate(6 hours)', environment: 'dev' },
      ],
      removed: ['drift-old'],
    });
    const updated = scheduler.commandCalls(UpdateScheduleCommand)[0]?.args[0].input;
    expect(updated).toMatchObject({
      Name: 'drift-prod',
      GroupName: 'stepform-drift',
      ScheduleExpression: 'rate(6 hours)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Target: { Arn: START_EXECUTION_TARGET, RoleArn: TARGET.roleArn },
    });
    // A recurring schedule stays: no ActionAfterCompletion DELETE as the TTL ones have.
    expect(updated?.ActionAfterCompletion).toBeUndefined();
    // Each fire is an execution named by its own run id, Scheduler's invocation id in it.
    expect(scheduledExecution(updated?.Target)).toEqual({
      stateMachineArn: TARGET.stateMachineArn,
      name: 'drift-prod-<aws.scheduler.execution-id>',
      input: expect.objectContaining({
        runId: 'drift-prod-<aws.scheduler.execution-id>',
        workflow: 'drift',
        environment: 'prod',
        commit: COMMIT,
      }),
    });
    expect(scheduler.commandCalls(DeleteScheduleCommand).map((c) => c.args[0].input)).toEqual([
      { Name: 'drift-old', GroupName: 'stepform-drift' },
    ]);
  });

  it('deletes every drift schedule when stepform.yaml has no drift.schedule', async () => {
    // Prepare
    scheduler.on(ListSchedulesCommand).resolves({ Schedules: [{ Name: 'drift-prod' }] });
    scheduler.on(DeleteScheduleCommand).resolves({});
    const schedules = new EventBridgeDriftSchedules(client, TARGET);

    // Act
    const result = await schedules.reconcile(undefined, []);

    // Assess
    expect(result).toEqual({ written: [], removed: ['drift-prod'] });
    expect(scheduler.commandCalls(CreateScheduleCommand)).toEqual([]);
  });
});
