// The stack's Lambda functions against core's table of Task steps (core/task-steps.ts): every
// Task step has a handler file that runs it, a deployed function, and its ARN in the
// workflows that call it; and every handler is a Task step or one of the three no workflow calls.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { TASK_FUNCTIONS, isTaskFunction } from '../../core/task-steps.ts';
import { WORKFLOWS, functionsOf, placeholderFor } from '../../state-machines/workflows.ts';
import { REPO_ROOT } from '../../toolchain/paths.ts';
import { HANDLERS, type HandlerName, handlerFiles } from '../lib/functions.ts';
import { StepformPipeline } from '../lib/stepform-pipeline.ts';

const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test');
const pipeline = new StepformPipeline(stack, 'Pipeline');
const handlerNames = Object.keys(HANDLERS) as HandlerName[];

describe('the Task steps table and the stack', () => {
  it.each(TASK_FUNCTIONS)('%s: has a handler file that runs its table entry', (name) => {
    const file = HANDLERS[name];
    expect(handlerFiles()).toContain(file);
    const source = readFileSync(join(REPO_ROOT, 'lambdas', file), 'utf8');
    expect(source).toContain(`export const handler = taskHandler('${name}');`);
  });

  it.each(TASK_FUNCTIONS)('%s: is a deployed function, filled in where a file calls it', (name) => {
    const fn = pipeline.functions[name];
    expect(fn.node.id).toBe(`${name}Function`);
    const callers = WORKFLOWS.filter((workflow) => functionsOf(workflow).includes(name));
    expect(callers.length).toBeGreaterThan(0);
    for (const workflow of callers) {
      const machine = pipeline.stateMachines[workflow].node.defaultChild as {
        definitionSubstitutions?: Record<string, unknown>;
      };
      const filled = machine.definitionSubstitutions?.[placeholderFor({ kind: 'function', name })];
      expect([workflow, stack.resolve(filled)]).toEqual([workflow, stack.resolve(fn.functionArn)]);
    }
  });

  it('has every handler in the table, but the approval endpoint, the ended-execution rule and the clone tokens', () => {
    expect(handlerNames.filter((name) => !isTaskFunction(name))).toEqual([
      'ApprovalCallback',
      'ExecutionEnded',
      'GitHubToken',
    ]);
    expect(Object.keys(pipeline.functions).sort()).toEqual([...handlerNames].sort());
    expect(Object.values(HANDLERS).sort()).toEqual(handlerFiles());
  });

  it('runs the three handlers outside the table by their own code, not a table entry', () => {
    for (const name of ['ApprovalCallback', 'ExecutionEnded', 'GitHubToken'] as const) {
      const source = readFileSync(join(REPO_ROOT, 'lambdas', HANDLERS[name]), 'utf8');
      expect([name, source.includes('taskHandler(')]).toEqual([name, false]);
    }
  });
});

describe('the rule that settles ended executions', () => {
  it('covers every workflow: an aborted plan is recorded and told too', () => {
    const rules = Object.values(Template.fromStack(stack).findResources('AWS::Events::Rule')) as {
      Properties: {
        EventPattern?: { detail?: { status?: string[]; stateMachineArn?: unknown[] } };
      };
    }[];
    const ended = rules.filter((r) => r.Properties.EventPattern?.detail?.status !== undefined);
    expect(ended).toHaveLength(1);
    const detail = ended[0]!.Properties.EventPattern!.detail!;
    expect(detail.status).toEqual(['FAILED', 'TIMED_OUT', 'ABORTED']);
    expect(detail.stateMachineArn).toEqual(
      WORKFLOWS.map(
        (workflow) => stack.resolve(pipeline.stateMachines[workflow].stateMachineArn) as unknown,
      ),
    );
  });
});
