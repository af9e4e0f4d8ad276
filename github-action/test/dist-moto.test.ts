// The bundled action, run the way the Actions runner runs it (runner.ts), against stand-in
// state machines on moto server's Step Functions API on loopback, reached through
// AWS_ENDPOINT_URL. moto runs the state machines (execute_state_machine), so an execution
// really passes through its states and ends, or waits until it is stopped. The emulated
// stack's workflows test runs the same dist against the real state machines.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { RUN_INPUT } from '../../core/contracts/workflow-input.ts';
import { type MotoServer, startMotoServer } from '../../test/aws/moto-server.ts';
import { REPO_ROOT, makeRepo } from '../../test/support/repo.ts';
import { executionName } from '../src/execution.ts';
import { type ActionStep, fileCommands, startActionStep } from './runner.ts';

const MONOREPO = join(REPO_ROOT, 'test', 'golden', 'monorepo');

const HEAD = 'e'.repeat(40);
const ROLE = 'arn:aws:iam::123456789012:role/stepform-test';

let moto: MotoServer;
let sfn: SFNClient;
let dir: string;
let planArn: string;
let destroyArn: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stepform-action-'));
  moto = await startMotoServer();
  // Run the definitions instead of leaving every execution RUNNING (moto's default).
  const config = await fetch(`${moto.endpoint}/moto-api/config`, {
    method: 'POST',
    body: JSON.stringify({ stepfunctions: { execute_state_machine: true } }),
  });
  expect(config.ok).toBe(true);
  sfn = new SFNClient(moto.clientConfig);
  const plan = await sfn.send(
    new CreateStateMachineCommand({
      name: 'stepform-plan',
      roleArn: ROLE,
      definition: JSON.stringify({
        StartAt: 'CollectPlan',
        States: {
          CollectPlan: {
            Type: 'Pass',
            Result: {
              hasChanges: true,
              summary: { add: 1, change: 2, destroy: 3, replace: 0, import: 0 },
            },
            ResultPath: '$.plan',
            Next: 'NotifyPlanned',
          },
          NotifyPlanned: { Type: 'Wait', Seconds: 1, Next: 'Planned' },
          Planned: { Type: 'Succeed' },
        },
      }),
    }),
  );
  planArn = plan.stateMachineArn!;
  const destroy = await sfn.send(
    new CreateStateMachineCommand({
      name: 'stepform-destroy',
      roleArn: ROLE,
      definition: JSON.stringify({
        StartAt: 'RunDestroyJob',
        States: { RunDestroyJob: { Type: 'Wait', Seconds: 600, End: true } },
      }),
    }),
  );
  destroyArn = destroy.stateMachineArn!;
});

afterAll(async () => {
  sfn.destroy();
  await moto.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A pull request of a checkout at GITHUB_WORKSPACE (default: none, and a made-up head). */
interface Checkout {
  readonly workspace: string;
  readonly base: string;
  readonly head: string;
}

/** Starts `node dist/index.js` as the runner would, for one step. */
async function startStep(
  runId: string,
  inputs: Record<string, string>,
  state: Record<string, string> = {},
  checkout?: Checkout,
): Promise<ActionStep> {
  return startActionStep({
    dir,
    runId,
    inputs,
    state,
    endpoint: moto.endpoint,
    pullRequest: { head: checkout?.head ?? HEAD, base: checkout?.base ?? 'f'.repeat(40) },
    ...(checkout === undefined ? {} : { workspace: checkout.workspace }),
  });
}

const read = async (file: string) => readFile(file, 'utf8');

describe('dist/index.js against moto', () => {
  it('starts the execution with the deterministic name and exactly the RUN_INPUT input', async () => {
    const step = await startStep('1001', {
      workflow: 'plan',
      environment: 'dev',
      project: 'terraform/live',
      'state-machine-arn': planArn,
      wait: 'false',
    });
    const { code, stdout } = await step.exited;
    expect(code === 0 ? '' : stdout).toBe('');

    const name = executionName({
      runId: '1001',
      runAttempt: '1',
      workflow: 'plan',
      environment: 'dev',
      projectDir: 'terraform/live',
    });
    const arn = `arn:aws:states:us-east-1:123456789012:execution:stepform-plan:${name}`;
    const outputs = fileCommands(await read(step.files.output));
    expect(outputs['execution-arn']).toBe(arn);
    expect(outputs.status).toBe('RUNNING');

    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    expect(execution.name).toBe(name);
    const expected = {
      runId: name,
      workflow: 'plan',
      repository: 'https://github.com/acme/infra',
      commit: HEAD,
      projectDir: 'terraform/live',
      environment: 'dev',
      autoApprove: false,
      approvalTimeoutSeconds: 3600,
      pullRequest: 7,
    };
    expect(JSON.parse(execution.input!)).toEqual(expected);
    expect(RUN_INPUT.parse(JSON.parse(execution.input!))).toEqual(expected);

    // The same attempt again: no second execution. Step Functions answers a start of the same
    // name and input while it runs with that execution; once it has ended, with
    // ExecutionAlreadyExists, and the action then follows it.
    const again = await startStep('1001', {
      workflow: 'plan',
      environment: 'dev',
      project: 'terraform/live',
      'state-machine-arn': planArn,
    });
    const second = await again.exited;
    expect(second.code).toBe(0);
    expect(fileCommands(await read(again.files.output))['execution-arn']).toBe(arn);
    const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: planArn }));
    expect(listed.executions!.filter((e) => e.name === name)).toHaveLength(1);
  });

  it('with stepform.yaml in the checkout, starts a plan of the projects the change affects', async () => {
    const repo = await makeRepo();
    const base = await repo.commitDir(MONOREPO, '.');
    const labels = join(MONOREPO, 'modules', 'labels', 'main.tf');
    const head = await repo.commitFiles({
      'modules/labels/main.tf': `${await readFile(labels, 'utf8')}\n# a change\n`,
    });
    const step = await startStep(
      '1005',
      { workflow: 'plan', environment: 'dev', 'state-machine-arn': planArn, wait: 'false' },
      {},
      { workspace: repo.dir, base, head },
    );
    const { code, stdout } = await step.exited;
    expect(code === 0 ? '' : stdout).toBe('');
    const outputs = fileCommands(await read(step.files.output));
    expect(outputs.projects).toBe('["network","app"]');
    const execution = await sfn.send(
      new DescribeExecutionCommand({ executionArn: outputs['execution-arn']! }),
    );
    const input = RUN_INPUT.parse(JSON.parse(execution.input!));
    expect(input).toMatchObject({ commit: head, projectDir: 'infra', maxParallel: 4 });
    expect(input.projects?.map((p) => [p.name, p.layer])).toEqual([
      ['network', 0],
      ['app', 1],
    ]);
  });

  it('follows the execution of a finished earlier start of the attempt (ExecutionAlreadyExists)', async () => {
    const inputs = { workflow: 'plan', environment: 'qa', 'state-machine-arn': planArn };
    const first = await startStep('1004', inputs);
    expect((await first.exited).code).toBe(0);
    const again = await startStep('1004', inputs);
    const { code, stdout } = await again.exited;
    expect(code).toBe(0);
    expect(stdout).toMatch(/execution gh-1004-1-plan-qa-[0-9a-f]{10} already exists \(SUCCEEDED\)/);
    expect(fileCommands(await read(again.files.output)).status).toBe('SUCCEEDED');
  });

  it('with wait, follows the execution to SUCCEEDED, printing its states, and reports it', async () => {
    const step = await startStep('1002', {
      workflow: 'plan',
      environment: 'dev',
      'stack-outputs': JSON.stringify({ Stepform: { PlanStateMachineArn: planArn } }),
    });
    const { code, stdout } = await step.exited;
    expect(code).toBe(0);
    expect(stdout).toContain('→ CollectPlan (Pass)');
    expect(stdout).toContain('→ NotifyPlanned (Wait)');
    const outputs = fileCommands(await read(step.files.output));
    expect(outputs.status).toBe('SUCCEEDED');
    expect(JSON.parse(outputs.summary!)).toMatchObject({
      status: 'SUCCEEDED',
      hasChanges: true,
      changes: { add: 1, change: 2, destroy: 3, replace: 0, import: 0 },
      pullRequest: 7,
    });
    expect(outputs).toMatchObject({
      'run-id': expect.stringMatching(/^gh-1002-1-plan-dev-[0-9a-f]{10}$/),
      'has-changes': 'true',
      add: '1',
      change: '2',
      destroy: '3',
    });
    expect(outputs['execution-arn']).toMatch(new RegExp(`:${outputs['run-id']!}$`));
    const state = fileCommands(await read(step.files.state));
    expect(state).toMatchObject({ isPost: 'true', follow: 'true', outcome: 'SUCCEEDED' });
    const summary = await read(step.files.summary);
    expect(summary).toContain('Stepform plan: SUCCEEDED');
    expect(summary).toContain('[Pull request #7](https://github.com/acme/infra/pull/7)');
  });

  it('when the runner cancels the step, the post step stops the execution', async () => {
    const inputs = { workflow: 'destroy', environment: 'pr-7', 'state-machine-arn': destroyArn };
    const step = await startStep('1003', inputs);
    // Wait until the execution has started (its ARN is in the step's state), then cancel the
    // step as the runner does: SIGINT.
    let state: Record<string, string> = {};
    for (let i = 0; i < 300 && state.executionArn === undefined; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      state = fileCommands(await read(step.files.state));
    }
    const arn = state.executionArn!;
    expect(arn).toMatch(/:execution:stepform-destroy:gh-1003-1-destroy-pr-7-[0-9a-f]{10}$/);
    step.child.kill('SIGINT');
    const main = await step.exited;
    expect(main.code).toBe(1);
    state = fileCommands(await read(step.files.state));
    expect(state).toMatchObject({ executionArn: arn, follow: 'true', cancelled: 'true' });
    expect(state.outcome).toBeUndefined();
    expect((await sfn.send(new DescribeExecutionCommand({ executionArn: arn }))).status).toBe(
      'RUNNING',
    );

    // The post step: the same file, with the saved state as STATE_ variables.
    const post = await startStep('1003', inputs, state);
    const ended = await post.exited;
    expect(ended.code).toBe(0);
    expect(ended.stdout).toContain(`stopped the execution ${arn}`);
    expect((await sfn.send(new DescribeExecutionCommand({ executionArn: arn }))).status).toBe(
      'ABORTED',
    );
  });
});
