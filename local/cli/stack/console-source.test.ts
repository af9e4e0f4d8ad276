// What a look at a stack costs: the console's reads of runs and logs, counted on a stand-in
// for the operator's adapters (test/aws-emulated/stack-cli.test.ts runs the same source on
// moto, through the real adapters).
import { describe, expect, it } from '@jest/globals';
import type { OperatorAdapters } from '../../../adapters/aws/operator.ts';
import type { ExecutionDetail } from '../../../adapters/aws/sfn.ts';
import { stackConsoleSource } from './console-source.ts';
import { StackOperator, type StackConfig } from './stack.ts';

const MACHINE = (workflow: string) =>
  `arn:aws:states:eu-west-1:123456789012:stateMachine:Stepform-${workflow}`;
const CONFIG: StackConfig = {
  name: 'Stepform',
  file: 'outputs.json',
  region: 'eu-west-1',
  tableName: 'Stepform-Table',
  artifactsBucket: 'stepform-artifacts',
  repository: 'acme/infra',
  stateMachines: new Map(
    ['plan', 'plan-apply', 'ephemeral', 'destroy'].map((w) => [w, MACHINE(w)] as const),
  ),
};
const RUN = '20261204T120000Z-abc123';

function stack(logs: string[]) {
  const calls = { describe: [] as string[], list: 0, read: [] as string[] };
  const aws = {
    executions: {
      describe: async (arn: string): Promise<ExecutionDetail | undefined> => {
        calls.describe.push(arn);
        if (!arn.endsWith(`:Stepform-ephemeral:${RUN}`)) return undefined;
        return {
          executionArn: arn,
          stateMachineArn: MACHINE('ephemeral'),
          name: RUN,
          status: 'RUNNING',
          startDate: '2026-12-04T12:00:00.000Z',
          input: '{}',
        };
      },
    },
    artifacts: {
      listArtifacts: async () => {
        calls.list += 1;
        return [...logs.map((job) => `${job}/executor.log`), 'plan/plan-diff.json'];
      },
      readArtifactFrom: async (_folder: string, name: string) => {
        calls.read.push(name);
        const bytes = new TextEncoder().encode(`log of ${name}\n`);
        return { bytes, from: 0, size: bytes.length };
      },
    },
  } as unknown as OperatorAdapters;
  return { operator: new StackOperator(CONFIG, aws, ''), calls };
}

describe('the stack console source', () => {
  it('lists a run’s logs once per look, not once per log read', async () => {
    const logs = ['plan', 'apply'];
    const { operator, calls } = stack(logs);
    const source = stackConsoleSource(operator);
    expect(await source.logNames(RUN)).toEqual(['plan', 'apply']);
    for (let look = 0; look < 3; look += 1) {
      for (const name of ['plan', 'apply']) {
        expect((await source.readLog(RUN, name, 0)).text).toBe(`log of ${name}/executor.log\n`);
      }
    }
    expect(calls.list).toBe(1);
    // A log that appeared since (a job that ended) is found by a new listing.
    logs.push('destroy');
    expect((await source.readLog(RUN, 'destroy', 0)).text).toContain('destroy/executor.log');
    expect(calls.list).toBe(2);
    // A name no listing has is never read: no key a request made up reaches the bucket.
    expect(await source.readLog(RUN, '../other-run/plan', 0)).toEqual({ text: '', next: 0 });
    expect(calls.list).toBe(3);
    expect(calls.read).not.toContain('../other-run/plan/executor.log');
  });

  it('looks for a run among the state machines once, then describes it where it was found', async () => {
    const { operator, calls } = stack([]);
    expect((await operator.find(RUN))?.execution.stateMachineArn).toBe(MACHINE('ephemeral'));
    expect(calls.describe).toHaveLength(3);
    calls.describe.length = 0;
    await operator.find(RUN);
    await operator.find(RUN);
    expect(calls.describe).toEqual([
      `arn:aws:states:eu-west-1:123456789012:execution:Stepform-ephemeral:${RUN}`,
      `arn:aws:states:eu-west-1:123456789012:execution:Stepform-ephemeral:${RUN}`,
    ]);
    // A run of no state machine is looked for everywhere, each time.
    calls.describe.length = 0;
    expect(await operator.find('20261204T120000Z-none00')).toBeUndefined();
    expect(calls.describe).toHaveLength(4);
  });
});
