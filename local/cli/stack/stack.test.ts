// The outputs file `--stack` reads: what `cdk deploy --outputs-file` writes, checked, with a
// usage error naming --stack for anything missing.
import { describe, expect, it } from '@jest/globals';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStack } from './stack.ts';
import { stackFile } from './stack-file.ts';

const ARN = (workflow: string) =>
  `arn:aws:states:eu-west-1:123456789012:stateMachine:Stepform-${workflow}`;
const OUTPUTS = {
  TableName: 'Stepform-Table',
  ArtifactsBucketName: 'stepform-artifacts',
  GitHubRepository: 'acme/infra',
  StatusQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/status.fifo',
  PlanStateMachineArn: ARN('plan'),
  PlanApplyStateMachineArn: ARN('plan-apply'),
};

async function outputsFile(content: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'stepform-outputs-'));
  const file = join(dir, 'outputs.json');
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('loadStack', () => {
  it('reads the stack: region from the ARNs, a state machine per workflow', async () => {
    const file = await outputsFile({ Other: { Foo: 'bar' }, Stepform: OUTPUTS });
    const stack = await loadStack(file, '/');
    expect(stack).toMatchObject({
      name: 'Stepform',
      region: 'eu-west-1',
      tableName: 'Stepform-Table',
      artifactsBucket: 'stepform-artifacts',
      repository: 'acme/infra',
    });
    expect([...stack.stateMachines]).toEqual([
      ['plan', ARN('plan')],
      ['plan-apply', ARN('plan-apply')],
    ]);
    expect(stack.approvers).toBeUndefined();
    const listed = await loadStack(
      await outputsFile({ Stepform: { ...OUTPUTS, Approvers: 'alice, bob' } }),
      '/',
    );
    expect(listed.approvers).toEqual(['alice', 'bob']);
  });

  it('reads the drift schedules’ group and role when the stack has both', async () => {
    const drift = {
      DriftScheduleGroupName: 'Stepform-drift',
      DriftSchedulerRoleArn: 'arn:aws:iam::123456789012:role/drift-scheduler',
    };
    const file = await outputsFile({ Stepform: { ...OUTPUTS, ...drift } });
    const deployed = await loadStack(file, '/');
    const older = await loadStack(await outputsFile({ Stepform: OUTPUTS }), '/');

    expect(deployed.driftSchedules).toEqual({
      groupName: 'Stepform-drift',
      roleArn: 'arn:aws:iam::123456789012:role/drift-scheduler',
    });
    expect(older.driftSchedules).toBeUndefined();
  });

  it.each([
    ['no file', undefined, /cannot read/],
    ['not JSON', '{', /is not JSON/],
    ['no Stepform stack', { Other: { Foo: 'bar' } }, /exactly one Stepform stack/],
    ['two of them', { A: OUTPUTS, B: OUTPUTS }, /exactly one Stepform stack/],
    [
      'no repository',
      { S: { ...OUTPUTS, GitHubRepository: undefined } },
      /no output GitHubRepository/,
    ],
    ['no bucket', { S: { ...OUTPUTS, ArtifactsBucketName: '' } }, /no output ArtifactsBucketName/],
    ['a bad ARN', { S: { ...OUTPUTS, PlanStateMachineArn: 'plan' } }, /PlanStateMachineArn is not/],
    [
      'no state machine',
      { S: { ...OUTPUTS, PlanStateMachineArn: undefined, PlanApplyStateMachineArn: undefined } },
      /no state machines/,
    ],
  ])('refuses %s, naming --stack', async (_what, content, message) => {
    const file = content === undefined ? '/nonexistent/outputs.json' : await outputsFile(content);
    await expect(loadStack(file, '/')).rejects.toMatchObject({
      name: 'InvalidInput',
      field: '--stack',
      message: expect.stringMatching(message),
    });
  });
});

describe('stackFile', () => {
  it('is --stack, else STEPFORM_STACK, else none', () => {
    expect(stackFile({ stack: 'a.json' }, { STEPFORM_STACK: 'b.json' })).toBe('a.json');
    expect(stackFile({}, { STEPFORM_STACK: 'b.json' })).toBe('b.json');
    expect(stackFile({}, { STEPFORM_STACK: '' })).toBeUndefined();
    expect(stackFile({}, {})).toBeUndefined();
  });
});
