// run(deps) with a fake @actions/core, an in-memory event payload, a fake clock and the SDK
// client mocked by aws-sdk-client-mock: the exact calls to Step Functions, and what the step
// reports (outputs, state, the job summary, setFailed).
import { afterAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { RUN_INPUT } from '../../core/contracts/workflow-input.ts';
import { type FakeCore, fakeCore } from '../test/fake-core.ts';
import type { Deps } from './deps.ts';
import { STATE, run } from './index.ts';

const SFN = mockClient(SFNClient);
const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:stepform-plan';
const HEAD = 'b'.repeat(40);
const NAME = /^gh-777-3-plan-dev-[0-9a-f]{10}$/;

const ENV = {
  GITHUB_EVENT_NAME: 'pull_request',
  GITHUB_EVENT_PATH: '/runner/event.json',
  GITHUB_REPOSITORY: 'acme/infra',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_SHA: 'c'.repeat(40),
  GITHUB_RUN_ID: '777',
  GITHUB_RUN_ATTEMPT: '3',
};
const PAYLOAD = {
  pull_request: { number: 12, head: { sha: HEAD }, base: { sha: 'a'.repeat(40) } },
};
const INPUTS = {
  workflow: 'plan',
  environment: 'dev',
  project: 'infra',
  'state-machine-arn': MACHINE,
};

interface Harness {
  core: FakeCore;
  deps: Partial<Deps>;
  slept: number[];
  regions: string[];
  cancel: () => void;
}

function harness(
  inputs: Record<string, string> = INPUTS,
  state: Record<string, string> = {},
): Harness {
  const core = fakeCore(inputs, state);
  const slept: number[] = [];
  const regions: string[] = [];
  let clock = 0;
  let onCancel: () => void = () => {
    throw new Error('no cancel handler registered');
  };
  return {
    core,
    slept,
    regions,
    cancel: () => {
      onCancel();
    },
    deps: {
      core,
      sfn: (region) => {
        regions.push(region);
        return new SFNClient({ region, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
      },
      env: ENV,
      readFile: async (path) => {
        if (path !== ENV.GITHUB_EVENT_PATH) throw new Error(`unexpected read of ${path}`);
        return JSON.stringify(PAYLOAD);
      },
      sleep: async (ms) => {
        slept.push(ms);
        clock += ms;
      },
      now: () => clock,
      onCancel: (handler) => {
        onCancel = handler;
      },
    },
  };
}

/** The execution ARN for a name, as Step Functions makes it. */
const executionArn = (name: string) =>
  `${MACHINE.replace(':stateMachine:', ':execution:')}:${name}`;

beforeEach(() => {
  SFN.reset();
  SFN.on(StartExecutionCommand).callsFake((input: { name: string }) => ({
    executionArn: executionArn(input.name),
    startDate: new Date(0),
  }));
  SFN.on(GetExecutionHistoryCommand).resolves({ events: [] });
});

afterAll(() => {
  SFN.restore();
});

function startInput() {
  const calls = SFN.commandCalls(StartExecutionCommand);
  expect(calls).toHaveLength(1);
  return calls[0]!.args[0].input;
}

describe('run: main step', () => {
  it('starts the execution with the deterministic name and exactly the RUN_INPUT input', async () => {
    const h = harness({ ...INPUTS, wait: 'false' });
    await run(h.deps);
    expect(h.core.failures).toEqual([]);
    const input = startInput();
    expect(input.stateMachineArn).toBe(MACHINE);
    expect(input.name).toMatch(NAME);
    const expected = {
      runId: input.name,
      workflow: 'plan',
      repository: 'https://github.com/acme/infra',
      commit: HEAD,
      projectDir: 'infra',
      environment: 'dev',
      autoApprove: false,
      approvalTimeoutSeconds: 3600,
      pullRequest: 12,
    };
    expect(JSON.parse(input.input!)).toEqual(expected);
    expect(RUN_INPUT.parse(JSON.parse(input.input!))).toEqual(expected);
    expect(h.regions).toEqual(['eu-west-1']);
    // wait: false ends once started.
    expect(SFN.commandCalls(DescribeExecutionCommand)).toHaveLength(0);
    expect(h.core.outputs['execution-arn']).toBe(executionArn(input.name!));
    expect(h.core.outputs.status).toBe('RUNNING');
    // No checkout here (no GITHUB_WORKSPACE): the one folder, as before stepform.yaml.
    expect(h.core.outputs.projects).toBe('["infra"]');
    expect(JSON.parse(h.core.outputs.summary as string)).toMatchObject({
      status: 'RUNNING',
      pullRequest: 12,
      hasChanges: null,
    });
    // Unknown until the execution ends: empty, never a guess.
    expect(h.core.outputs).toMatchObject({ 'run-id': input.name, 'has-changes': '', add: '' });
    expect(h.core.state).toEqual({
      [STATE.isPost]: 'true',
      [STATE.executionArn]: executionArn(input.name!),
    });
    expect(h.core.summaries).toHaveLength(1);
  });

  it('gives the same name to a second start of the same attempt', async () => {
    await run(harness({ ...INPUTS, wait: 'false' }).deps);
    await run(harness({ ...INPUTS, wait: 'false' }).deps);
    const [first, second] = SFN.commandCalls(StartExecutionCommand).map((c) => c.args[0].input);
    expect(first!.name).toBe(second!.name);
    expect(first!.input).toBe(second!.input);
  });

  it('follows the existing execution on ExecutionAlreadyExists instead of starting another', async () => {
    const h = harness();
    let name = '';
    SFN.on(StartExecutionCommand).callsFake((input: { name: string; input: string }) => {
      name = input.name;
      SFN.on(DescribeExecutionCommand, { executionArn: executionArn(name) }).resolves({
        executionArn: executionArn(name),
        status: 'SUCCEEDED',
        input: input.input,
        output: JSON.stringify({ plan: { hasChanges: false } }),
      });
      throw new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} });
    });
    await run(h.deps);
    expect(h.core.failures).toEqual([]);
    expect(SFN.commandCalls(StartExecutionCommand)).toHaveLength(1);
    const described = SFN.commandCalls(DescribeExecutionCommand).map((c) => c.args[0].input);
    expect(described).toEqual([
      { executionArn: executionArn(name) },
      { executionArn: executionArn(name) },
    ]);
    expect(h.core.lines.some((line) => line.includes('already exists (SUCCEEDED)'))).toBe(true);
    expect(h.core.outputs['execution-arn']).toBe(executionArn(name));
    expect(h.core.outputs.status).toBe('SUCCEEDED');
  });

  it('refuses to follow an execution of that name that serves another commit', async () => {
    const h = harness();
    SFN.on(StartExecutionCommand).rejects(
      new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }),
    );
    SFN.on(DescribeExecutionCommand).resolves({
      status: 'RUNNING',
      input: JSON.stringify({ commit: 'd'.repeat(40) }),
    });
    await run(h.deps);
    expect(h.core.failures).toHaveLength(1);
    expect(h.core.failures[0]).toMatch(
      /already exists with another runId, workflow, repository, commit/,
    );
    expect(h.core.outputs['execution-arn']).toBeUndefined();
  });

  it('starts a command run with its words and reports its masked output', async () => {
    const h = harness({ ...INPUTS, workflow: 'command', command: 'output db_password' });
    SFN.on(DescribeExecutionCommand).resolves({
      status: 'SUCCEEDED',
      output: JSON.stringify({
        command: {
          command: { name: 'output', args: ['db_password'], output: '"(sensitive value)"\n' },
        },
      }),
    });
    await run(h.deps);
    expect(h.core.failures).toEqual([]);
    const input = JSON.parse(startInput().input!) as Record<string, unknown>;
    expect(input).toMatchObject({ workflow: 'command', args: ['output', 'db_password'] });
    expect(RUN_INPUT.parse(input)).toMatchObject({ args: ['output', 'db_password'] });
    expect(h.core.outputs['command-output']).toBe('"(sensitive value)"\n');
    expect(h.core.summaries[0]).toContain('`terraform output db_password`');
    expect(h.core.summaries[0]).toContain('<pre>"(sensitive value)"');
  });

  it('starts a destroy unattended (auto-approved; PrepareRun still waits in a protected environment)', async () => {
    const h = harness({ ...INPUTS, workflow: 'destroy', wait: 'false', 'approval-timeout': '30m' });
    await run(h.deps);
    expect(h.core.failures).toEqual([]);
    const input = JSON.parse(startInput().input!) as Record<string, unknown>;
    expect(input).toMatchObject({
      workflow: 'destroy',
      autoApprove: true,
      approvalTimeoutSeconds: 1800,
    });
    expect(RUN_INPUT.parse(input)).toMatchObject({ autoApprove: true });
  });

  it('starts a ttl run and reports when the destroy now fires', async () => {
    const h = harness({ ...INPUTS, workflow: 'ttl', ttl: '8h' });
    SFN.on(DescribeExecutionCommand).resolves({
      status: 'SUCCEEDED',
      output: JSON.stringify({ ttl: { schedule: { fireAt: '2026-12-03T08:00:00.000Z' } } }),
    });
    await run(h.deps);
    expect(h.core.failures).toEqual([]);
    expect(JSON.parse(startInput().input!)).toMatchObject({ workflow: 'ttl', ttlSeconds: 28_800 });
    expect(h.core.outputs['destroy-at']).toBe('2026-12-03T08:00:00.000Z');
    expect(h.core.summaries[0]).toContain(
      'The scheduled destroy fires at 2026-12-03T08:00:00.000Z.',
    );
  });

  it('polls with backoff until SUCCEEDED, prints each state entered, and sets the outputs', async () => {
    const h = harness();
    const running = { status: 'RUNNING' as const, startDate: new Date(0) };
    SFN.on(DescribeExecutionCommand)
      .resolvesOnce(running)
      .resolvesOnce(running)
      .resolvesOnce(running)
      .resolves({
        status: 'SUCCEEDED',
        // As the plan workflow ends: the outcome with its projects' report.
        output: JSON.stringify({
          run: {},
          outcome: {
            outcome: 'planned',
            phase: 'planned',
            projects: {
              failed: false,
              hasChanges: true,
              summary: { add: 2, change: 1, destroy: 0, replace: 0, import: 0 },
              projects: [
                { name: 'network', dir: 'infra/network', status: 'planned' },
                { name: 'app', dir: 'infra/app', status: 'planned' },
              ],
            },
          },
        }),
      });
    const entered = (id: number, name: string) => ({
      id,
      type: 'TaskStateEntered' as const,
      timestamp: new Date(0),
      stateEnteredEventDetails: { name },
    });
    SFN.on(GetExecutionHistoryCommand)
      .resolvesOnce({ events: [entered(2, 'PrepareRun')] })
      .resolvesOnce({ events: [entered(5, 'RunPlanJob'), entered(2, 'PrepareRun')] })
      .resolvesOnce({ events: [entered(5, 'RunPlanJob')] })
      .resolves({ events: [entered(9, 'NotifyPlanned'), entered(5, 'RunPlanJob')] });

    await run(h.deps);

    expect(h.core.failures).toEqual([]);
    expect(SFN.commandCalls(DescribeExecutionCommand)).toHaveLength(4);
    expect(h.slept).toEqual([2000, 3000, 4500]);
    expect(h.core.lines.filter((line) => line.startsWith('→'))).toEqual([
      '→ PrepareRun (Task)',
      '→ RunPlanJob (Task)',
      '→ NotifyPlanned (Task)',
    ]);
    const arn = executionArn(startInput().name!);
    expect(h.core.outputs['execution-arn']).toBe(arn);
    expect(h.core.outputs.status).toBe('SUCCEEDED');
    expect(JSON.parse(h.core.outputs.summary as string)).toEqual({
      status: 'SUCCEEDED',
      workflow: 'plan',
      environment: 'dev',
      project: 'infra',
      commit: HEAD,
      pullRequest: 12,
      executionArn: arn,
      executionUrl: `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${encodeURIComponent(arn)}`,
      hasChanges: true,
      changes: { add: 2, change: 1, destroy: 0, replace: 0, import: 0 },
      applied: false,
      projects: [
        { name: 'network', status: 'planned' },
        { name: 'app', status: 'planned' },
      ],
      destroyAt: null,
      command: null,
      error: null,
      cause: null,
    });
    // The same facts as separate outputs, for `if:` and `env:` without fromJSON.
    expect(h.core.outputs).toMatchObject({
      'run-id': startInput().name,
      'has-changes': 'true',
      add: '2',
      change: '1',
      destroy: '0',
      replace: '0',
      import: '0',
    });
    expect(h.core.state[STATE.outcome]).toBe('SUCCEEDED');
    expect(h.core.state[STATE.follow]).toBe('true');
    const [summary] = h.core.summaries;
    expect(summary).toContain('Stepform plan: SUCCEEDED');
    expect(summary).toContain('| 2 | 1 | 0 | 0 | 0 |');
    expect(summary).toContain(
      `[Execution in the AWS console](https://eu-west-1.console.aws.amazon.com/`,
    );
    expect(summary).toContain('[Pull request #12](https://github.com/acme/infra/pull/12)');
  });

  it.each(['FAILED', 'TIMED_OUT', 'ABORTED'] as const)(
    'fails the step when the execution ends %s, with its error and cause',
    async (status) => {
      const h = harness();
      SFN.on(DescribeExecutionCommand).resolves({
        status,
        error: 'JobFailed',
        cause: 'plan failed: TerraformFailed',
      });
      await run(h.deps);
      expect(h.core.failures).toEqual([
        `the plan execution ended ${status} (JobFailed: plan failed: TerraformFailed)`,
      ]);
      expect(h.core.outputs.status).toBe(status);
      expect(JSON.parse(h.core.outputs.summary as string)).toMatchObject({
        status,
        error: 'JobFailed',
        cause: 'plan failed: TerraformFailed',
      });
      expect(h.core.summaries[0]).toContain('<pre>plan failed: TerraformFailed</pre>');
    },
  );

  it('fails the step, leaving the execution running, when the timeout runs out', async () => {
    const h = harness({ ...INPUTS, timeout: '1m' });
    SFN.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
    await run(h.deps);
    expect(h.core.failures).toHaveLength(1);
    expect(h.core.failures[0]).toMatch(/^the execution is still RUNNING after the timeout/);
    expect(h.slept.reduce((a, b) => a + b, 0)).toBe(60_000);
    expect(h.core.outputs.status).toBe('RUNNING');
    expect(h.core.state[STATE.outcome]).toBe('WAIT_TIMED_OUT');
    expect(SFN.commandCalls(StopExecutionCommand)).toHaveLength(0);
  });

  it('goes on without the phases when the history cannot be read', async () => {
    const h = harness();
    SFN.on(GetExecutionHistoryCommand).rejects(
      Object.assign(new Error('denied'), { name: 'AccessDeniedException' }),
    );
    SFN.on(DescribeExecutionCommand).resolvesOnce({ status: 'RUNNING' }).resolves({
      status: 'SUCCEEDED',
    });
    await run(h.deps);
    expect(h.core.failures).toEqual([]);
    expect(h.core.warnings).toEqual([
      'cannot read the execution history (AccessDeniedException): only the final status will be shown',
    ]);
    expect(SFN.commandCalls(GetExecutionHistoryCommand)).toHaveLength(1);
  });

  it('names the bad input and calls nothing', async () => {
    const h = harness({ ...INPUTS, workflow: 'apply' });
    await run(h.deps);
    expect(h.core.failures).toEqual([
      'invalid input workflow: must be one of plan, plan-apply, ephemeral, destroy, ttl, command, drift',
    ]);
    expect(SFN.calls()).toHaveLength(0);
  });

  it('records a cancellation in the step state for the post step', async () => {
    const h = harness();
    SFN.on(DescribeExecutionCommand).callsFake(() => {
      h.cancel();
      return { status: 'SUCCEEDED' };
    });
    await run(h.deps);
    expect(h.core.state[STATE.cancelled]).toBe('true');
  });
});

describe('run: post step', () => {
  const ARN = `${MACHINE.replace(':stateMachine:', ':execution:')}:gh-777-3-plan-dev-0123456789`;
  const saved = {
    [STATE.isPost]: 'true',
    [STATE.executionArn]: ARN,
    [STATE.follow]: 'true',
    [STATE.cancelled]: 'true',
  };

  it('stops the execution when the job was cancelled and it is still RUNNING', async () => {
    const h = harness({}, { ...saved });
    SFN.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
    SFN.on(StopExecutionCommand).resolves({ stopDate: new Date(0) });
    await run(h.deps);
    expect(h.core.failures).toEqual([]);
    expect(SFN.commandCalls(StopExecutionCommand).map((c) => c.args[0].input)).toEqual([
      {
        executionArn: ARN,
        error: 'JobCancelled',
        cause:
          'the GitHub job that started it was cancelled: https://github.com/acme/infra/actions/runs/777',
      },
    ]);
    expect(h.regions).toEqual(['eu-west-1']);
    expect(SFN.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('does not stop an execution that has already ended', async () => {
    const h = harness({}, { ...saved });
    SFN.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' });
    await run(h.deps);
    expect(SFN.commandCalls(DescribeExecutionCommand)).toHaveLength(1);
    expect(SFN.commandCalls(StopExecutionCommand)).toHaveLength(0);
  });

  it.each([
    ['the job was not cancelled', { [STATE.cancelled]: '' }],
    ['the main step saw the end', { [STATE.outcome]: 'FAILED' }],
    ['wait was false', { [STATE.follow]: '' }],
    ['nothing was started', { [STATE.executionArn]: '' }],
  ])('calls nothing when %s', async (_why, change) => {
    const h = harness({}, { ...saved, ...change });
    await run(h.deps);
    expect(h.core.failures).toEqual([]);
    expect(SFN.calls()).toHaveLength(0);
  });
});
