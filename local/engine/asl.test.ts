// The workflows' ASL files as the local engine runs them: placeholders substituted with local
// ARNs, and the one local adaptation (TimeoutSecondsPath re-rooted under Payload).
import { describe, expect, it } from '@jest/globals';
import { WORKFLOWS } from '../../core/contracts/workflow-input.ts';
import {
  type AslDefinition,
  placeholders,
  readAslText,
  substitute,
} from '../../state-machines/workflows.ts';
import {
  LOCAL_TIMEOUT_LIMIT_SECONDS,
  adaptForLocalEngine,
  loadLocalDefinition,
  localFunctionName,
  localStateMachine,
  localSubstitution,
} from './asl.ts';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

describe('placeholders', () => {
  it('lists each ${Name} once, sorted', () => {
    const text = '{"a":"${Zeta}","b":"${Alpha}","c":"x${Zeta}y","d":"${Mid1}"}';

    expect(placeholders(text)).toEqual(['Alpha', 'Mid1', 'Zeta']);
  });

  it('ignores JSONPath, context paths and names that are not placeholders', () => {
    const text =
      '{"x.$":"$.run.env","t.$":"$$.Task.Token","y":"${with-dash}","z":"${}","w":"$Name"}';

    expect(placeholders(text)).toEqual([]);
  });
});

describe('substitute', () => {
  it('replaces every occurrence with the value for its name', () => {
    const seen: string[] = [];

    const text = substitute('${A}/${B}/${A}', (name) => {
      seen.push(name);
      return name.toLowerCase();
    });

    expect(text).toBe('a/b/a');
    expect(seen).toEqual(['A', 'B', 'A']);
  });

  it('leaves text without placeholders, and JSONPath, as it is', () => {
    const text = '{"Variable":"$.run.autoApprove","taskToken.$":"$$.Task.Token"}';

    expect(substitute(text, () => 'never')).toBe(text);
  });

  it('inserts values literally, even ones that look like replacement patterns', () => {
    expect(substitute('x${A}y', () => "$&$1$$$'")).toBe("x$&$1$$$'y");
  });

  it('passes on the error for a name that has no value', () => {
    expect(() => substitute('"${Unknown}"', localSubstitution)).toThrow(
      'no local value for placeholder ${Unknown}',
    );
  });
});

describe('localSubstitution', () => {
  it('names a local Lambda ARN after the function', () => {
    expect(localSubstitution('LockFunctionArn')).toBe(
      'arn:aws:lambda:us-east-1:000000000000:function:stepform-local-Lock',
    );
    expect(localSubstitution('RequestApprovalFunctionArn')).toBe(
      'arn:aws:lambda:us-east-1:000000000000:function:stepform-local-RequestApproval',
    );
  });

  it('gives the Batch job queue and job definitions local ARNs', () => {
    expect(localSubstitution('JobQueueArn')).toBe(
      'arn:aws:batch:us-east-1:000000000000:job-queue/stepform-local',
    );
    expect(localSubstitution('PlanJobDefinitionArn')).toBe(
      'arn:aws:batch:us-east-1:000000000000:job-definition/stepform-local-Plan:1',
    );
  });

  it('throws on a name it does not know', () => {
    for (const name of ['Unknown', 'BucketName', 'JobQueue', 'FunctionArnSuffix']) {
      expect(() => localSubstitution(name)).toThrow(`no local value for placeholder \${${name}}`);
    }
  });
});

describe('localFunctionName', () => {
  it('reads the function name back from a local Lambda ARN', () => {
    expect(localFunctionName(localSubstitution('NotifyFunctionArn'))).toBe('Notify');
    expect(localFunctionName(localSubstitution('CollectJobResultFunctionArn'))).toBe(
      'CollectJobResult',
    );
  });

  it('is undefined for anything that is not a local Lambda ARN', () => {
    for (const arn of [
      'arn:aws:lambda:eu-west-1:123456789012:function:Lock',
      'arn:aws:lambda:us-east-1:000000000000:function:stepform-local-Lock:live',
      localSubstitution('JobQueueArn'),
      localSubstitution('ApplyJobDefinitionArn'),
      'arn:aws:states:::lambda:invoke.waitForTaskToken',
      '',
    ]) {
      expect([arn, localFunctionName(arn)]).toEqual([arn, undefined]);
    }
  });
});

describe('adaptForLocalEngine', () => {
  const definition = (): AslDefinition => ({
    Comment: 'kept',
    StartAt: 'Wait',
    TimeoutSeconds: 86400,
    States: {
      Wait: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
        Parameters: { FunctionName: 'f', Payload: { 'run.$': '$.run' } },
        TimeoutSecondsPath: '$.run.approvalTimeoutSeconds',
        Next: 'NoPayload',
      },
      NoPayload: {
        Type: 'Task',
        Resource: 'arn:aws:lambda:us-east-1:000000000000:function:stepform-local-Lock',
        Parameters: { 'run.$': '$.run' },
        TimeoutSecondsPath: '$.run.lockTimeoutSeconds',
        Next: 'NoParameters',
      },
      NoParameters: {
        Type: 'Task',
        Resource: 'arn:aws:lambda:us-east-1:000000000000:function:stepform-local-Lock',
        TimeoutSecondsPath: '$.timeout',
        Next: 'Fixed',
      },
      Fixed: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { FunctionName: 'f', Payload: {} },
        TimeoutSeconds: 60,
        Next: 'ContextPath',
      },
      ContextPath: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { FunctionName: 'f', Payload: {} },
        TimeoutSecondsPath: '$$.Execution.Input.timeout',
        Next: 'Pause',
      },
      Pause: {
        Type: 'Wait',
        Parameters: { Payload: {} },
        TimeoutSecondsPath: '$.run.x',
        SecondsPath: '$.run.pause',
        End: true,
      },
    },
  });

  it('re-roots TimeoutSecondsPath under $.Payload. for a Task state with Parameters.Payload', () => {
    const adapted = adaptForLocalEngine(definition());

    expect(adapted.States.Wait?.TimeoutSecondsPath).toBe('$.Payload.run.approvalTimeoutSeconds');
  });

  it('leaves every other state, and the rest of the definition, as it was', () => {
    const original = definition();

    const adapted = adaptForLocalEngine(original);

    const { Wait: adaptedWait, ...adaptedRest } = adapted.States;
    const { Wait: originalWait, ...originalRest } = original.States;
    expect(adaptedRest).toEqual(originalRest);
    expect({ ...adaptedWait, TimeoutSecondsPath: originalWait?.TimeoutSecondsPath }).toEqual(
      originalWait,
    );
    expect({ ...adapted, States: {} }).toEqual({ ...original, States: {} });
  });

  it('cuts a run timeout longer than a Node timer holds, which would end the run at once', () => {
    const long = { ...definition(), TimeoutSeconds: 2_768_400 };
    expect(adaptForLocalEngine(long).TimeoutSeconds).toBe(LOCAL_TIMEOUT_LIMIT_SECONDS);
    expect(LOCAL_TIMEOUT_LIMIT_SECONDS * 1000).toBeLessThanOrEqual(2 ** 31 - 1);
    expect(adaptForLocalEngine(definition()).TimeoutSeconds).toBe(86400);
  });

  it('does not mutate its input', () => {
    const original = deepFreeze(definition());
    const copy = structuredClone(original);

    const adapted = adaptForLocalEngine(original);

    expect(original).toEqual(copy);
    expect(adapted).not.toBe(original);
    expect(adapted.States).not.toBe(original.States);
  });
});

describe('the real workflows, loaded for the local engine', () => {
  it.each(WORKFLOWS)(
    '%s: no placeholder is left and every Lambda is a local function',
    async (workflow) => {
      const definition = await loadLocalDefinition(workflow);
      const text = JSON.stringify(definition);

      expect(text).not.toContain('${');
      expect(placeholders(await readAslText(workflow)).length).toBeGreaterThan(0);
      for (const [name, state] of Object.entries(definition.States)) {
        if (state.Type !== 'Task') continue;
        const target =
          typeof state.Parameters?.FunctionName === 'string'
            ? state.Parameters.FunctionName
            : state.Resource;
        if (target?.startsWith('arn:aws:lambda:')) {
          expect([name, localFunctionName(target)]).toEqual([name, expect.any(String)]);
        }
      }
    },
  );

  it.each(WORKFLOWS)(
    '%s: differs from the substituted file only in re-rooted TimeoutSecondsPath',
    async (workflow) => {
      const substituted = JSON.parse(
        substitute(await readAslText(workflow), localSubstitution),
      ) as AslDefinition;

      const loaded = await loadLocalDefinition(workflow);

      for (const [name, state] of Object.entries(loaded.States)) {
        const before = substituted.States[name];
        const path = before?.TimeoutSecondsPath;
        if (typeof path === 'string' && state.Parameters?.Payload !== undefined) {
          expect(state.TimeoutSecondsPath).toBe(path.replace(/^\$\./, '$.Payload.'));
          expect({ ...state, TimeoutSecondsPath: path }).toEqual(before);
        } else {
          expect(state).toEqual(before);
        }
      }
      expect(Object.keys(loaded.States)).toEqual(Object.keys(substituted.States));
    },
  );

  it('waits for the approval as long as PrepareRun says, read from the Lambda payload', async () => {
    const definition = await loadLocalDefinition('plan-apply');

    expect(definition.States.RequestApproval?.TimeoutSecondsPath).toBe(
      '$.Payload.approvalTaskTimeoutSeconds',
    );
    expect(definition.States.RequestApproval?.Parameters?.Payload).toMatchObject({
      'approvalTaskTimeoutSeconds.$': '$.approvalTaskTimeoutSeconds',
    });
  });
});

describe('localStateMachine: each definition validated once', () => {
  const PASS: AslDefinition = {
    StartAt: 'Done',
    States: { Done: { Type: 'Pass', End: true } },
  };

  it('validates a definition on its first run, marks it in the cache, and trusts the mark after', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'stepform-asl-'));
    try {
      const env = { STEPFORM_CACHE_DIR: cache };
      await localStateMachine(PASS, env);
      const marks = await readdir(join(cache, 'asl-validated'));
      expect(marks).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/)]);
      // Another definition is validated for itself: a bad one is refused, and never marked.
      const broken = { ...PASS, StartAt: 'Missing' } as AslDefinition;
      await expect(localStateMachine(broken, env)).rejects.toThrow();
      expect(await readdir(join(cache, 'asl-validated'))).toEqual(marks);
      // The marked one still runs.
      const machine = await localStateMachine(PASS, env);
      expect(await machine.run({ ok: true }).result).toEqual({ ok: true });
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });

  it('runs without a cache it cannot write', async () => {
    const machine = await localStateMachine(PASS, { STEPFORM_CACHE_DIR: '/proc/no-such-cache' });
    expect(await machine.run({ n: 1 }).result).toEqual({ n: 1 });
  });
});
