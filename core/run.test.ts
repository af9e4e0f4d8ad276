import { describe, expect, it } from '@jest/globals';
import { jobResult } from '../test/support/run-fixtures.ts';
import { caught } from '../test/support/caught.ts';
import { JOB, type JobInput } from './contracts/job-input.ts';
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
    expect(prepared.jobs?.command).toEqual({
      runId: 'run-9',
      verb: 'command',
      args: ['state', 'list'],
      repository: '/repo',
      commit: 'a'.repeat(40),
      projectDir: 'stack',
      environment: 'dev',
      backend: SETTINGS.backend,
      artifactsDir: '/artifacts/run-9/command',
      varFiles: [],
    });
    expect(prepared.needsApproval).toBe(false);
    expect(prepareRun({ ...BASE, workflow: 'plan' }, SETTINGS).jobs?.command).toBeUndefined();
  });

  it('locks the one project of a run without stepform.yaml by its folder', () => {
    expect(prepareRun({ ...BASE, workflow: 'plan-apply' }, SETTINGS).lockProjects).toEqual([
      BASE.projectDir,
    ]);
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

describe('prepareRun of a run with policies', () => {
  const POLICIES = [
    { name: 'guardrails', path: 'policy', on_failure: 'block', owners: ['alice'] },
  ] as const;
  const projects = [
    { name: 'network', dir: 'infra/network', layer: 0, varFiles: [] },
    { name: 'app', dir: 'infra/app', layer: 1, varFiles: [] },
  ];

  it('gives each plan job of a plan or plan-apply the checks, with its project and the environment’s protection', () => {
    for (const workflow of ['plan', 'plan-apply'] as const) {
      const prepared = prepareRun(
        { ...BASE, workflow, projects, policies: POLICIES, protectedEnvironment: true },
        SETTINGS,
      );
      expect(prepared.projects.map((p) => p.jobs.plan)).toEqual([
        expect.objectContaining({
          verb: 'plan',
          policyChecks: { sets: POLICIES, project: 'network', protected: true },
        }),
        expect.objectContaining({
          policyChecks: { sets: POLICIES, project: 'app', protected: true },
        }),
      ]);
      // Every job still passes the executor's contract.
      for (const project of prepared.projects) parseInput(JOB, project.jobs.plan, 'job');
    }
  });

  it('gives the jobs that plan and apply at once the checks: an ephemeral create, a destroy; never a cleanup or a plan-apply’s rollback', () => {
    const run = (workflow: 'ephemeral' | 'destroy' | 'plan-apply') =>
      prepareRun(
        {
          ...BASE,
          workflow,
          projects,
          policies: POLICIES,
          protectedEnvironment: false,
          ...(workflow === 'ephemeral' ? { ttlSeconds: 3600 } : {}),
        },
        SETTINGS,
      ).projects.map((p) => p.jobs);
    const checksOf = (job: object) => ('policyChecks' in job ? job.policyChecks : undefined);

    const ephemeral = run('ephemeral');
    expect(ephemeral.map((jobs) => checksOf(jobs.planApply))).toEqual([
      { sets: POLICIES, project: 'network', protected: false },
      { sets: POLICIES, project: 'app', protected: false },
    ]);
    // Its cleanup undoes what it created: unchecked.
    expect(ephemeral.map((jobs) => checksOf(jobs.destroy))).toEqual([undefined, undefined]);
    expect(run('destroy').map((jobs) => checksOf(jobs.destroy))).toEqual([
      { sets: POLICIES, project: 'network', protected: false },
      { sets: POLICIES, project: 'app', protected: false },
    ]);
    expect(run('plan-apply').map((jobs) => checksOf(jobs.planApply))).toEqual([
      undefined,
      undefined,
    ]);
    for (const jobs of [...ephemeral, ...run('destroy')]) {
      parseInput(JOB, jobs.planApply, 'job');
      parseInput(JOB, jobs.destroy, 'job');
    }
  });

  it('refuses a run that starts with an override: only an owner’s decision mid-run writes one', () => {
    const error = caught(() =>
      prepareRun(
        {
          ...BASE,
          workflow: 'plan-apply',
          policies: POLICIES,
          policyOverride: {
            approvedBy: 'alice',
            decidedAt: '2026-12-03T10:00:00.000Z',
            reason: 'forged',
          },
        },
        SETTINGS,
      ),
    );
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as InvalidInput).field).toBe('input.policyOverride');
  });

  it('collects the plan’s policy outcome as counts, and applies the checked plan without checking again', () => {
    const [network] = prepareRun(
      { ...BASE, workflow: 'plan-apply', projects, policies: POLICIES },
      SETTINGS,
    ).projects;
    const job = network!.jobs.plan;
    const collected = collectJobResult(
      job,
      jobResult({
        hasChanges: true,
        plan: { path: '/p', metadataPath: '/m', sha256: 'f'.repeat(64) },
        policy: [
          {
            policy: 'guardrails',
            project: 'network',
            onFailure: 'block',
            passed: false,
            violations: [
              {
                policy: 'guardrails',
                rule: 'deny',
                message: 'no public bucket',
                resource: 'aws_s3_bucket.a',
              },
              { policy: 'guardrails', rule: 'warn', message: 'no owner tag' },
            ],
          },
          {
            policy: 'style',
            project: 'network',
            onFailure: 'warn',
            passed: false,
            violations: [{ policy: 'style', rule: 'deny', message: 'name too long' }],
          },
        ],
      }),
    );
    expect(collected.policy).toEqual({
      outcome: 'blocked',
      blockedBy: ['guardrails'],
      deny: 2,
      warn: 1,
    });
    expect(collected.applyJob).not.toHaveProperty('policyChecks');
    expect(parseInput(JOB, collected.applyJob, 'job')).toMatchObject({ verb: 'apply' });
    expect(collectJobResult(job, jobResult()).policy).toBeUndefined();
  });

  it('checks no other job, and nothing without policies', () => {
    const ephemeral = prepareRun({ ...BASE, workflow: 'ephemeral', ttlSeconds: 3600 }, SETTINGS);
    expect(ephemeral.jobs?.planApply).not.toHaveProperty('policyChecks');
    const command = prepareRun(
      { ...BASE, workflow: 'command', args: ['state', 'list'], policies: POLICIES },
      SETTINGS,
    );
    expect(command.jobs?.command).not.toHaveProperty('policyChecks');
    parseInput(JOB, command.jobs?.command, 'job');
    expect(prepareRun({ ...BASE, workflow: 'plan' }, SETTINGS).jobs?.plan).not.toHaveProperty(
      'policyChecks',
    );
  });
});

describe('prepareRun of a destroy', () => {
  const destroy = { ...BASE, workflow: 'destroy' };
  it('needs an approval unless auto-approved, whatever the deployment allows', () => {
    expect(prepareRun(destroy, SETTINGS, true).needsApproval).toBe(true);
    expect(prepareRun({ ...destroy, autoApprove: true }, SETTINGS, true).needsApproval).toBe(false);
    // The unattended destroys (TTL, a closed pull request) run on AWS too, where applies wait.
    expect(prepareRun({ ...destroy, autoApprove: true }, SETTINGS, false).needsApproval).toBe(
      false,
    );
  });

  it('always needs one in a protected environment', () => {
    const guarded = { ...destroy, autoApprove: true, protectedEnvironment: true };
    expect(prepareRun(guarded, SETTINGS, true).needsApproval).toBe(true);
    expect(prepareRun(guarded, SETTINGS, true).protectedEnvironment).toBe(true);
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

describe('prepareRun of a run of one folder', () => {
  it('gives its project a view that is a valid run, whatever the folder (a "/" is no name)', () => {
    for (const workflow of ['plan', 'plan-apply', 'destroy', 'ephemeral'] as const) {
      const prepared = prepareRun(
        { ...BASE, workflow, projectDir: 'infra/app', ttlSeconds: 3600 },
        SETTINGS,
      );
      const [project] = prepared.projects;
      expect(project).toMatchObject({ name: 'infra/app', dir: 'infra/app' });
      // Every later step reads the view back through the run's contract.
      expect(parseInput(RUN_INPUT, project?.run, 'view')).not.toHaveProperty('projects');
    }
  });
});

describe('prepareRun of a run of several projects', () => {
  const projects = [
    { name: 'network', dir: 'infra/network', layer: 0, varFiles: ['envs/dev.tfvars'] },
    { name: 'plan', dir: 'infra/plan', layer: 0, workspace: 'dev' },
    { name: 'app', dir: 'infra/app', layer: 1, varFiles: [] },
  ];
  const run = { ...BASE, projectDir: 'infra', workflow: 'plan', projects, maxParallel: 2 };

  it('builds each project its jobs, in a folder of its own, with its workspace and var files', () => {
    const prepared = prepareRun(run, SETTINGS);
    expect(prepared.jobs).toBeUndefined();
    expect(prepared.maxParallel).toBe(2);
    // The locks Lock takes: every project's, in the sorted order every run takes them in.
    expect(prepared.lockProjects).toEqual(['app', 'network', 'plan']);
    expect(prepared.projects.map((p) => [p.name, p.layer, p.jobs.plan.artifactsDir])).toEqual([
      ['network', 0, '/artifacts/run-9/project-network/plan'],
      // A project named plan: its apply folder is never a plan folder of the IAM boundary.
      ['plan', 0, '/artifacts/run-9/project-plan/plan'],
      ['app', 1, '/artifacts/run-9/project-app/plan'],
    ]);
    const [network, plan] = prepared.projects;
    expect(network?.jobs.planApply).toMatchObject({
      projectDir: 'infra/network',
      varFiles: ['envs/dev.tfvars'],
      artifactsDir: '/artifacts/run-9/project-network/apply',
    });
    expect(network?.jobs.planApply).not.toHaveProperty('workspace');
    expect(plan?.jobs.destroy).toMatchObject({ workspace: 'dev', varFiles: [] });
    expect(plan?.jobs.planApply.artifactsDir).not.toMatch(/\/plan\//);
    // Each iteration's steps see the run as a run of its project.
    expect(network?.run).toMatchObject({
      projectDir: 'infra/network',
      projects: [{ name: 'network', dir: 'infra/network', layer: 0 }],
    });
  });

  it('keeps the layout of a run of one project, with its settings from stepform.yaml', () => {
    const one = [{ name: 'app', dir: 'infra/app', layer: 0, varFiles: ['envs/dev.tfvars'] }];
    const prepared = prepareRun({ ...run, workflow: 'plan-apply', projects: one }, SETTINGS);
    expect(prepared.lockProjects).toEqual(['app']);
    expect(prepared.jobs?.planApply).toMatchObject({
      projectDir: 'infra/app',
      varFiles: ['envs/dev.tfvars'],
      artifactsDir: '/artifacts/run-9/apply',
    });
  });

  it('refuses several projects in a workflow that runs one, naming input.projects', () => {
    const command = { ...run, workflow: 'command', args: ['state', 'list'] };
    expect(() => prepareRun(command, SETTINGS)).toThrow(
      expect.objectContaining({ name: 'InvalidInput', field: 'input.projects' }),
    );
  });

  it.each([
    ['a name listed twice', [projects[0], { ...projects[1], name: 'network' }], 'input.projects.1'],
    [
      'two projects on one state',
      [projects[0], { ...projects[0], name: 'other' }],
      'input.projects.1',
    ],
    ['a first layer other than 0', [{ ...projects[0], layer: 1 }], 'input.projects.0'],
    ['a layer skipped', [projects[0], { ...projects[2], layer: 2 }], 'input.projects.1'],
    ['layers out of order', [projects[2], projects[0]], 'input.projects.0'],
    [
      'a var file outside the repository',
      [{ ...projects[0], varFiles: ['../x.tfvars'] }],
      'input.projects.0.varFiles.0',
    ],
    ['no project', [], 'input.projects'],
  ])('refuses %s', (_why, list, field) => {
    expect(fieldOf({ ...run, projects: list })).toBe(field);
  });
});
