// The module that knows the ASL files: their paths, the placeholders parsed from the real
// files, the naming rule of what a placeholder stands for, and that every function a file
// names is a Task step of core's table (and every Task step is named by some file).
import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { TASK_FUNCTIONS } from '../core/task-steps.ts';
import {
  STATE_MACHINES_DIR,
  WORKFLOWS,
  aslPath,
  functionsOf,
  jobDefinitionsOf,
  placeholderFor,
  placeholderTarget,
  placeholders,
  placeholdersOf,
  readAslText,
  substitute,
} from './workflows.ts';

describe('the ASL files', () => {
  it('are exactly one file per workflow, in this folder', () => {
    const files = readdirSync(STATE_MACHINES_DIR).filter((f) => f.endsWith('.asl.json'));

    expect(files.sort()).toEqual(WORKFLOWS.map((w) => `${w}.asl.json`).sort());
    expect(aslPath('plan-apply')).toBe(`${STATE_MACHINES_DIR}/plan-apply.asl.json`);
  });

  it.each(WORKFLOWS)('%s: read as text, the same as the file', async (workflow) => {
    expect(await readAslText(workflow)).toBe(readFileSync(aslPath(workflow), 'utf8'));
  });
});

describe('placeholders', () => {
  it('lists each ${Name} once, sorted, and ignores JSONPath and malformed names', () => {
    const text =
      '{"a":"${Zeta}","b":"${Alpha}","c":"x${Zeta}y","p.$":"$.run","t.$":"$$.Task.Token","d":"${with-dash}","e":"${}"}';

    expect(placeholders(text)).toEqual(['Alpha', 'Zeta']);
  });

  it('parses the real files: every workflow prepares its run and reports through Notify', () => {
    for (const workflow of WORKFLOWS) {
      const names = placeholdersOf(workflow);
      // Every workflow runs a job, except ttl, which only moves a schedule.
      const expected = ['PrepareRunFunctionArn', 'NotifyFunctionArn'];
      if (workflow !== 'ttl') expected.push('JobQueueArn');
      expect([workflow, names]).toEqual([workflow, expect.arrayContaining(expected)]);
      expect(names).toEqual(placeholders(readFileSync(aslPath(workflow), 'utf8')));
    }
  });

  it('finds the plan-apply file naming both job definitions and the approval step', () => {
    expect(jobDefinitionsOf('plan-apply')).toEqual(['Apply', 'Plan']);
    expect(jobDefinitionsOf('plan')).toEqual(['Plan']);
    expect(functionsOf('plan-apply')).toEqual(
      expect.arrayContaining(['Lock', 'RequestApproval', 'Rollback', 'Unlock']),
    );
    expect(functionsOf('plan')).not.toContain('RequestApproval');
  });

  it('finds the ttl file changing the TTL under the lock, and the command file running one job after an approval', () => {
    expect(jobDefinitionsOf('ttl')).toEqual([]);
    expect(functionsOf('ttl')).toEqual([
      'ChangeTtl',
      'Lock',
      'Notify',
      'PrepareRun',
      'Record',
      'Unlock',
    ]);
    expect(jobDefinitionsOf('command')).toEqual(['Apply']);
    expect(functionsOf('command')).toEqual(
      expect.arrayContaining(['Lock', 'RequestApproval', 'CollectJobResult', 'Unlock']),
    );
    expect(functionsOf('command')).not.toContain('Rollback');
  });
});

describe('substitute', () => {
  it('replaces every occurrence with the value for its name, literally', () => {
    expect(substitute('${A}/${B}/${A}', (name) => name.toLowerCase())).toBe('a/b/a');
    expect(substitute('x${A}y', () => "$&$1$$$'")).toBe("x$&$1$$$'y");
  });

  it('fills every placeholder of a real file, leaving valid JSON', () => {
    for (const workflow of WORKFLOWS) {
      const filled = substitute(readFileSync(aslPath(workflow), 'utf8'), (name) => `arn:${name}`);

      expect(filled).not.toContain('${');
      expect(() => JSON.parse(filled) as unknown).not.toThrow();
    }
  });
});

describe('the naming rule of placeholders', () => {
  it('names a function, a job definition and the job queue', () => {
    expect(placeholderTarget('LockFunctionArn')).toEqual({ kind: 'function', name: 'Lock' });
    expect(placeholderTarget('CollectJobResultFunctionArn')).toEqual({
      kind: 'function',
      name: 'CollectJobResult',
    });
    expect(placeholderTarget('PlanJobDefinitionArn')).toEqual({
      kind: 'jobDefinition',
      name: 'Plan',
    });
    expect(placeholderTarget('JobQueueArn')).toEqual({ kind: 'jobQueue' });
  });

  it('knows no target for a name that follows no rule', () => {
    for (const name of ['FunctionArn', 'lockFunctionArn', 'Lock', 'BucketName', 'JobQueue']) {
      expect([name, placeholderTarget(name)]).toEqual([name, undefined]);
    }
  });

  it('turns a target back into its placeholder', () => {
    for (const placeholder of WORKFLOWS.flatMap(placeholdersOf)) {
      const target = placeholderTarget(placeholder);
      expect([placeholder, target && placeholderFor(target)]).toEqual([placeholder, placeholder]);
    }
  });

  it('names only Task steps of the table as functions, and every Task step in some file', () => {
    const named = new Set(WORKFLOWS.flatMap(functionsOf));

    expect([...named].sort()).toEqual([...TASK_FUNCTIONS].sort());
  });
});
