import { describe, expect, it } from '@jest/globals';
import { jobResult } from '../test/support/run-fixtures.ts';
import type { JobInput } from './contracts/job-input.ts';
import { parseJobResult } from './contracts/job-result.ts';
import { RUN_INPUT } from './contracts/workflow-input.ts';
import { InvalidInput } from './errors.ts';
import {
  COMMAND_OUTPUT_LIMIT,
  collectJobResult,
  environmentStatusAfter,
  prepareRun,
} from './run.ts';
import { parseInput } from './validation.ts';

const APPLY_JOB: JobInput = {
  runId: 'run-1',
  verb: 'apply',
  repository: '/repo',
  commit: 'a'.repeat(40),
  projectDir: 'stack',
  environment: 'dev',
  backend: { type: 'local', stateDir: '/state' },
  artifactsDir: '/artifacts/run-1/apply',
  plan: { dir: '/artifacts/run-1/plan', sha256: 'b'.repeat(64) },
};

function failedApply(stateChanged: boolean | undefined, name = 'TerraformFailed') {
  return jobResult({
    verb: 'apply',
    status: 'failed',
    error: { name, message: 'it went wrong' },
    ...(stateChanged === undefined ? {} : { stateChanged }),
  });
}

describe('collectJobResult of a failed job', () => {
  it.each(['StalePlan', 'PlanDigestMismatch', 'ForeignPlan', 'PlanNotFound', 'TerraformFailed'])(
    'is NothingApplied, with the real error, when %s left the state unchanged',
    (name) => {
      expect(() => collectJobResult(APPLY_JOB, failedApply(false, name))).toThrow(
        expect.objectContaining({
          name: 'NothingApplied',
          message: `apply failed: ${name}: it went wrong`,
        }),
      );
    },
  );

  it('is JobFailed when the state changed', () => {
    expect(() => collectJobResult(APPLY_JOB, failedApply(true))).toThrow(
      expect.objectContaining({
        name: 'JobFailed',
        message: 'apply failed: TerraformFailed: it went wrong',
      }),
    );
  });

  it('is JobFailed when the result cannot tell (an older executor): the state may have changed', () => {
    const older = parseJobResult(JSON.stringify(failedApply(undefined)), 'result.json');
    expect(older.stateChanged).toBeUndefined();
    expect(() => collectJobResult(APPLY_JOB, older)).toThrow(
      expect.objectContaining({ name: 'JobFailed' }),
    );
  });

  it('is JobLost without a result', () => {
    expect(() => collectJobResult(APPLY_JOB, undefined)).toThrow(
      expect.objectContaining({ name: 'JobLost' }),
    );
  });
});

const SETTINGS = {
  backend: { type: 'local', stateDir: '/state' },
  artifactsRoot: '/artifacts',
} as const;
const BASE = {
  runId: 'run-9',
  repository: '/repo',
  commit: 'a'.repeat(40),
  projectDir: 'stack',
  environment: 'dev',
};

function fieldOf(input: unknown): string | undefined {
  try {
    parseInput(RUN_INPUT, input, 'input');
    return undefined;
  } catch (error) {
    return error instanceof InvalidInput ? error.field : 'not InvalidInput';
  }
}

describe('the run input of ttl and command runs', () => {
  it('takes a ttl run with exactly one of ttlSeconds and cancelTtl', () => {
    expect(fieldOf({ ...BASE, workflow: 'ttl', ttlSeconds: 3600 })).toBeUndefined();
    expect(fieldOf({ ...BASE, workflow: 'ttl', cancelTtl: true })).toBeUndefined();
    expect(fieldOf({ ...BASE, workflow: 'ttl' })).toBe('input.ttlSeconds');
    expect(fieldOf({ ...BASE, workflow: 'ttl', ttlSeconds: 60, cancelTtl: true })).toBe(
      'input.ttlSeconds',
    );
    expect(fieldOf({ ...BASE, workflow: 'destroy', cancelTtl: true })).toBe('input.cancelTtl');
    expect(fieldOf({ ...BASE, workflow: 'ttl', ttlSeconds: 31 * 24 * 3600 })).toBe(
      'input.ttlSeconds',
    );
  });

  it('takes a command run only with an allowlisted command, naming args otherwise', () => {
    expect(fieldOf({ ...BASE, workflow: 'command', args: ['state', 'list'] })).toBeUndefined();
    for (const args of [
      undefined,
      [],
      ['state', 'push', 'x'],
      ['apply'],
      ['state', 'list;', 'rm', '-rf', '/'],
      ['state', 'list', '-lock=false'],
      ['state', 'show', '$(id)'],
    ]) {
      expect([args, fieldOf({ ...BASE, workflow: 'command', args })]).toEqual([args, 'input.args']);
    }
    expect(fieldOf({ ...BASE, workflow: 'plan', args: ['state', 'list'] })).toBe('input.args');
  });
});

describe('prepareRun of a command run', () => {
  it('builds the command job in <root>/<runId>/command', () => {
    const prepared = prepareRun(
      { ...BASE, workflow: 'command', args: ['state', 'list'] },
      SETTINGS,
    );
    expect(prepared.jobs.command).toEqual({
      runId: 'run-9',
      verb: 'command',
      args: ['state', 'list'],
      repository: '/repo',
      commit: 'a'.repeat(40),
      projectDir: 'stack',
      environment: 'dev',
      backend: SETTINGS.backend,
      artifactsDir: '/artifacts/run-9/command',
    });
    expect(prepared.needsApproval).toBe(false);
    expect(prepareRun({ ...BASE, workflow: 'plan' }, SETTINGS).jobs.command).toBeUndefined();
  });

  it('needs an approval for a command that changes the state, unless auto-approved where allowed', () => {
    const rm = { ...BASE, workflow: 'command', args: ['state', 'rm', 'null_resource.a'] };
    expect(prepareRun(rm, SETTINGS, true).needsApproval).toBe(true);
    expect(prepareRun({ ...rm, autoApprove: true }, SETTINGS, false).needsApproval).toBe(true);
    expect(prepareRun({ ...rm, autoApprove: true }, SETTINGS, true).needsApproval).toBe(false);
    const importing = { ...rm, args: ['import', 'null_resource.a', 'id-1'] };
    expect(prepareRun(importing, SETTINGS, true).needsApproval).toBe(true);
  });
});

describe('collectJobResult of a command job', () => {
  const job: JobInput = {
    ...BASE,
    verb: 'command',
    args: ['state', 'list'],
    backend: { type: 'local', stateDir: '/state' },
    artifactsDir: '/artifacts/run-9/command',
  };

  it('carries the command, its arguments and its masked output', () => {
    const result = jobResult({
      verb: 'command',
      command: { name: 'state list', args: [], output: 'null_resource.a\n' },
    });
    expect(collectJobResult(job, result).command).toEqual({
      name: 'state list',
      args: [],
      output: 'null_resource.a\n',
      cut: false,
    });
  });

  it('cuts a long output, saying where the whole of it is', () => {
    const output = 'x'.repeat(COMMAND_OUTPUT_LIMIT * 4);
    const result = jobResult({
      verb: 'command',
      command: { name: 'state list', args: [], output },
    });
    const collected = collectJobResult(job, result).command;
    expect(collected?.cut).toBe(true);
    expect(collected?.output.length).toBeLessThanOrEqual(COMMAND_OUTPUT_LIMIT);
    expect(collected?.output).toContain('the whole output is in the job log, /a/executor.log');
  });
});

describe('the outcomes of ttl and command runs', () => {
  it('leave the environment status alone (ChangeTtl writes the record itself)', () => {
    expect(environmentStatusAfter('ttl_changed')).toBeUndefined();
    expect(environmentStatusAfter('command_completed')).toBeUndefined();
  });
});
