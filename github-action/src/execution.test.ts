import { describe, expect, it } from '@jest/globals';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import {
  EXECUTION_NAME_PATTERN,
  decideStop,
  describeEvent,
  executionArnOf,
  executionName,
  newEvents,
} from './execution.ts';

const KEY = {
  runId: '9876543210',
  runAttempt: '1',
  workflow: 'plan',
  environment: 'dev',
  projectDir: 'terraform/live',
};

describe('executionName', () => {
  it('is the same for the same run, attempt, workflow, environment and project', () => {
    expect(executionName(KEY)).toBe(executionName({ ...KEY }));
    expect(executionName(KEY)).toMatch(/^gh-9876543210-1-plan-dev-[0-9a-f]{10}$/);
  });

  it('differs for another attempt, workflow, environment or project', () => {
    const names = new Set([
      executionName(KEY),
      executionName({ ...KEY, runAttempt: '2' }),
      executionName({ ...KEY, workflow: 'plan-apply' }),
      executionName({ ...KEY, environment: 'prod' }),
      executionName({ ...KEY, projectDir: '.' }),
      executionName({ ...KEY, runId: '9876543211' }),
    ]);
    expect(names.size).toBe(6);
  });

  it('stays within 80 allowed characters for the longest inputs, and still tells them apart', () => {
    const long = {
      runId: '9'.repeat(20),
      runAttempt: '9'.repeat(20),
      workflow: 'plan-apply',
      environment: 'e'.repeat(63),
      projectDir: 'p/'.repeat(100) + 'x',
    };
    const a = executionName(long);
    const b = executionName({ ...long, environment: `${'e'.repeat(62)}f` });
    expect(a.length).toBeLessThanOrEqual(80);
    expect(a).toMatch(EXECUTION_NAME_PATTERN);
    expect(b).toMatch(EXECUTION_NAME_PATTERN);
    expect(a).not.toBe(b);
  });
});

describe('executionArnOf', () => {
  it('turns the state machine ARN into the execution ARN', () => {
    expect(
      executionArnOf('arn:aws:states:us-east-1:123456789012:stateMachine:stepform-plan', 'gh-1'),
    ).toBe('arn:aws:states:us-east-1:123456789012:execution:stepform-plan:gh-1');
  });
});

describe('describeEvent', () => {
  it('tells the states entered and the failures, nothing else', () => {
    expect(
      describeEvent({
        id: 2,
        type: 'TaskStateEntered',
        timestamp: new Date(0),
        stateEnteredEventDetails: { name: 'RunPlanJob' },
      }),
    ).toBe('→ RunPlanJob (Task)');
    expect(
      describeEvent({
        id: 3,
        type: 'TaskFailed',
        timestamp: new Date(0),
        taskFailedEventDetails: {
          resource: 'x',
          resourceType: 'lambda',
          error: 'JobFailed',
          cause: 'plan failed',
        },
      }),
    ).toBe('  ✗ JobFailed: plan failed');
    expect(describeEvent({ id: 4, type: 'TaskStateExited', timestamp: new Date(0) })).toBe(
      undefined,
    );
  });
});

describe('newEvents', () => {
  const event = (id: number): HistoryEvent => ({
    id,
    type: 'PassStateEntered',
    timestamp: new Date(0),
  });

  it('reads newest first until it reaches a seen event, and returns the new ones oldest first', async () => {
    const sfn = mockClient(SFNClient);
    sfn
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({ events: [event(9), event(8)], nextToken: 't1' })
      .resolvesOnce({ events: [event(7), event(6)], nextToken: 't2' })
      .resolves({ events: [event(5)] });
    const events = await newEvents(new SFNClient({ region: 'us-east-1' }), 'arn:x', 6);
    expect(events.map((e) => e.id)).toEqual([7, 8, 9]);
    const calls = sfn.commandCalls(GetExecutionHistoryCommand);
    expect(calls.map((c) => c.args[0].input)).toEqual([
      { executionArn: 'arn:x', reverseOrder: true, maxResults: 200, includeExecutionData: false },
      {
        executionArn: 'arn:x',
        reverseOrder: true,
        maxResults: 200,
        includeExecutionData: false,
        nextToken: 't1',
      },
    ]);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(0);
    sfn.restore();
  });
});

describe('decideStop', () => {
  const saved = {
    executionArn: 'arn:e',
    follow: 'true',
    outcome: '',
    cancelled: 'true',
  };

  it('stops only what a cancelled main step was still following', () => {
    expect(decideStop(saved)).toEqual({ stop: true, executionArn: 'arn:e' });
    expect(decideStop({ ...saved, executionArn: '' }).stop).toBe(false);
    expect(decideStop({ ...saved, follow: '' }).stop).toBe(false);
    expect(decideStop({ ...saved, outcome: 'SUCCEEDED' }).stop).toBe(false);
    expect(decideStop({ ...saved, cancelled: '' })).toEqual({
      stop: false,
      reason: 'the job was not cancelled',
    });
  });
});
