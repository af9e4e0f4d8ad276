import { describe, expect, it } from '@jest/globals';
import { InvalidInput } from '../../core/errors.ts';
import { fakeCore } from '../test/fake-core.ts';
import { readInputs, regionOf, stateMachineArnFromOutputs } from './inputs.ts';

const ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:stepform-plan';
const APPLY_ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:stepform-plan-apply';

const read = (inputs: Record<string, string>) =>
  readInputs(
    fakeCore({ workflow: 'plan', environment: 'dev', 'state-machine-arn': ARN, ...inputs }),
  );

/** The InvalidInput that reading these inputs throws. */
function failure(inputs: Record<string, string>): InvalidInput {
  try {
    read(inputs);
  } catch (error) {
    if (error instanceof InvalidInput) return error;
    throw error;
  }
  throw new Error('the inputs were accepted');
}

describe('readInputs', () => {
  it('reads every input once and applies the defaults', () => {
    const names: string[] = [];
    const core = fakeCore({ workflow: 'plan', environment: 'dev', 'state-machine-arn': ARN });
    const inputs = readInputs({
      getInput: (name, options) => {
        names.push(name);
        return core.getInput(name, options);
      },
    });
    expect(inputs).toEqual({
      workflow: 'plan',
      environment: 'dev',
      projectDir: '.',
      projectGiven: false,
      projects: { kind: 'changed' },
      stateMachineArn: ARN,
      wait: true,
      timeoutMs: 60 * 60_000,
    });
    expect(names.sort()).toEqual(
      [
        'approval-timeout',
        'cancel-ttl',
        'command',
        'environment',
        'project',
        'projects',
        'stack-outputs',
        'state-machine-arn',
        'timeout',
        'ttl',
        'wait',
        'workflow',
      ].sort(),
    );
  });

  it('converts durations and booleans', () => {
    expect(
      read({
        workflow: 'ephemeral',
        ttl: '1h30m',
        wait: 'False',
        timeout: '2h',
        project: 'terraform/live/',
      }),
    ).toEqual({
      workflow: 'ephemeral',
      environment: 'dev',
      projectDir: 'terraform/live',
      projectGiven: true,
      projects: { kind: 'changed' },
      ttlSeconds: 5400,
      stateMachineArn: ARN,
      wait: false,
      timeoutMs: 2 * 3_600_000,
    });
    expect(read({ workflow: 'plan-apply', 'approval-timeout': '45m' }).approvalTimeoutSeconds).toBe(
      2700,
    );
  });

  it('reads projects: changed (the default), all, or names separated by commas', () => {
    expect(read({}).projects).toEqual({ kind: 'changed' });
    expect(read({ projects: 'changed' }).projects).toEqual({ kind: 'changed' });
    expect(read({ projects: 'all' }).projects).toEqual({ kind: 'all' });
    expect(read({ projects: 'network, app,network' }).projects).toEqual({
      kind: 'names',
      names: ['network', 'app'],
    });
    // `project` with the default `projects` selects by folder.
    expect(read({ project: 'infra/app', projects: 'changed' })).toMatchObject({
      projectDir: 'infra/app',
      projectGiven: true,
      projects: { kind: 'changed' },
    });
  });

  it.each([
    [{ workflow: 'apply' }, 'workflow', /one of plan, plan-apply, ephemeral, destroy/],
    [{ workflow: '' }, 'workflow', /one of/],
    [{ environment: '' }, 'environment', /required/],
    [{ environment: 'Prod; rm -rf /' }, 'environment', /a-z, 0-9/],
    [{ project: '../elsewhere' }, 'project', /inside the repository/],
    [{ projects: ' , ' }, 'projects', /changed, all or project names/],
    [{ projects: 'app,../x' }, 'projects', /"\.\.\/x" is not a project name/],
    [{ project: 'infra', projects: 'all' }, 'projects', /project \(a folder\) or projects/],
    [{ project: 'infra', projects: 'app' }, 'projects', /not both/],
    [{ workflow: 'ephemeral' }, 'ttl', /required by ephemeral/],
    [{ workflow: 'ephemeral', ttl: '4 hours' }, 'ttl', /duration such as/],
    [{ workflow: 'ephemeral', ttl: '90d' }, 'ttl', /between 1m and 30d/],
    [{ ttl: '4h' }, 'ttl', /only for ephemeral and ttl/],
    [{ 'approval-timeout': '1h' }, 'approval-timeout', /only for plan-apply, command and destroy/],
    [{ workflow: 'ttl' }, 'ttl', /a ttl or cancel-ttl/],
    [{ workflow: 'ttl', ttl: '4h', 'cancel-ttl': 'true' }, 'ttl', /one of them/],
    [{ workflow: 'ttl', ttl: '31d' }, 'ttl', /between 1m and 30d/],
    [{ 'cancel-ttl': 'true' }, 'cancel-ttl', /only for ttl/],
    [{ 'cancel-ttl': 'maybe' }, 'cancel-ttl', /true or false/],
    [{ workflow: 'command' }, 'command', /required by command/],
    [{ workflow: 'command', command: 'apply' }, 'command', /not an allowed command/],
    [{ workflow: 'command', command: 'state rm a; rm -rf /' }, 'command', /not allowed/],
    [{ workflow: 'command', command: 'state list -state=x' }, 'command', /not allowed/],
    [{ command: 'state list' }, 'command', /only for command/],
    [{ workflow: 'plan-apply', 'approval-timeout': '8d' }, 'approval-timeout', /1s and 7d/],
    [{ wait: 'yes' }, 'wait', /true or false/],
    [{ timeout: '10s' }, 'timeout', /1m and 72h/],
    [{ timeout: 'soon' }, 'timeout', /duration such as/],
    [{ 'state-machine-arn': 'arn:aws:lambda:x' }, 'state-machine-arn', /state machine ARN/],
    [{ 'state-machine-arn': '' }, 'state-machine-arn', /exactly one/],
    [{ 'stack-outputs': '{}' }, 'state-machine-arn', /exactly one/],
    [{ 'state-machine-arn': '', 'stack-outputs': 'not json' }, 'stack-outputs', /JSON/],
  ])('refuses %j, naming %s', (inputs, field, message) => {
    const error = failure(inputs);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(new RegExp(`^${field}: `));
    expect(error.message).toMatch(message);
  });

  it('reads ttl and command runs: the new ttl or its cancel, the command as its words', () => {
    expect(read({ workflow: 'ttl', ttl: '8h' })).toMatchObject({
      workflow: 'ttl',
      ttlSeconds: 8 * 3600,
    });
    expect(read({ workflow: 'ttl', 'cancel-ttl': 'true' })).toMatchObject({ cancelTtl: true });
    expect(read({ workflow: 'ttl', 'cancel-ttl': 'true' })).not.toHaveProperty('ttlSeconds');
    expect(
      read({
        workflow: 'command',
        command: '  state   show  module.a.b["x"] ',
        'approval-timeout': '30m',
      }),
    ).toMatchObject({
      workflow: 'command',
      args: ['state', 'show', 'module.a.b["x"]'],
      approvalTimeoutSeconds: 1800,
    });
  });

  it('takes the ARN from the stack outputs', () => {
    const outputs = JSON.stringify({
      PlanStateMachineArn: ARN,
      PlanApplyStateMachineArn: APPLY_ARN,
    });
    expect(read({ 'state-machine-arn': '', 'stack-outputs': outputs }).stateMachineArn).toBe(ARN);
    expect(
      read({ workflow: 'plan-apply', 'state-machine-arn': '', 'stack-outputs': outputs })
        .stateMachineArn,
    ).toBe(APPLY_ARN);
  });
});

describe('stateMachineArnFromOutputs', () => {
  it('reads a flat object, a cdk --outputs-file and a describe-stacks list', () => {
    expect(stateMachineArnFromOutputs(JSON.stringify({ PlanStateMachineArn: ARN }), 'plan')).toBe(
      ARN,
    );
    expect(
      stateMachineArnFromOutputs(
        JSON.stringify({
          Stepform: { PlanStateMachineArn: ARN, PlanApplyStateMachineArn: APPLY_ARN },
        }),
        'plan-apply',
      ),
    ).toBe(APPLY_ARN);
    expect(
      stateMachineArnFromOutputs(
        JSON.stringify([
          { OutputKey: 'PlanApplyStateMachineArn', OutputValue: APPLY_ARN },
          { OutputKey: 'PlanStateMachineArn', OutputValue: ARN },
        ]),
        'plan',
      ),
    ).toBe(ARN);
  });

  it('accepts the logical id CDK gives an output inside a construct', () => {
    const json = JSON.stringify({
      PipelinePlanStateMachineArn0A1B2C3D: ARN,
      PipelinePlanApplyStateMachineArnFFFF0000: APPLY_ARN,
    });
    expect(stateMachineArnFromOutputs(json, 'plan')).toBe(ARN);
    expect(stateMachineArnFromOutputs(json, 'plan-apply')).toBe(APPLY_ARN);
  });

  it('refuses a missing, ambiguous or malformed output, naming stack-outputs', () => {
    expect(() => stateMachineArnFromOutputs('{}', 'destroy')).toThrow(
      'stack-outputs: has no DestroyStateMachineArn output (the destroy workflow)',
    );
    expect(() =>
      stateMachineArnFromOutputs(
        JSON.stringify({ APlanStateMachineArn: ARN, BPlanStateMachineArn: APPLY_ARN }),
        'plan',
      ),
    ).toThrow('stack-outputs: has more than one PlanStateMachineArn output');
    expect(() =>
      stateMachineArnFromOutputs(JSON.stringify({ PlanStateMachineArn: 'arn:aws:s3:::b' }), 'plan'),
    ).toThrow('stack-outputs: PlanStateMachineArn is not a state machine ARN');
  });
});

describe('regionOf', () => {
  it('reads the region of an ARN', () => {
    expect(regionOf(ARN)).toBe('eu-west-1');
    expect(regionOf('arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:m:n')).toBe(
      'us-gov-west-1',
    );
  });
});
