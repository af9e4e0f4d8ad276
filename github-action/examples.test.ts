// The example workflows are meant to be copied unchanged: each parses as YAML, runs on the
// trigger it is for, asks for the least permissions (an OIDC token, nothing else), assumes the
// role from a repository variable before the action, and gives the action only inputs that
// action.yml declares, with the required ones and a valid workflow.
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { WORKFLOWS } from '../core/contracts/workflow-input.ts';

const here = (path: string) => new URL(path, import.meta.url);

const ACTION = z
  .object({
    inputs: z.record(
      z.string(),
      z.object({ description: z.string(), required: z.boolean(), default: z.string().optional() }),
    ),
    outputs: z.record(z.string(), z.object({ description: z.string() })),
    runs: z.object({
      using: z.literal('node24'),
      main: z.string(),
      post: z.string(),
      'post-if': z.string().optional(),
    }),
  })
  .parse(parse(readFileSync(here('action.yml'), 'utf8')));

const STEP = z
  .object({
    name: z.string().optional(),
    id: z.string().optional(),
    if: z.string().optional(),
    uses: z.string().optional(),
    run: z.string().optional(),
    env: z.record(z.string(), z.string()).optional(),
    with: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  })
  .strict()
  .refine((step) => (step.uses === undefined) !== (step.run === undefined), 'uses or run');

const WORKFLOW = z.object({
  name: z.string(),
  on: z.record(z.string(), z.unknown()),
  permissions: z.record(z.string(), z.enum(['read', 'write', 'none'])),
  concurrency: z.object({ group: z.string(), 'cancel-in-progress': z.boolean() }).optional(),
  jobs: z.record(
    z.string(),
    z.object({
      'runs-on': z.string(),
      environment: z.string().optional(),
      'timeout-minutes': z.number().int().positive(),
      steps: z.array(STEP).min(2),
    }),
  ),
});

/** Each example: its trigger, the Stepform workflow it runs, and the GitHub environment (if any). */
const EXAMPLES = [
  {
    file: 'plan.yml',
    trigger: 'pull_request',
    workflow: 'plan',
    role: 'STEPFORM_PULL_REQUEST_ROLE_ARN',
  },
  {
    file: 'plan-apply.yml',
    trigger: 'push',
    workflow: 'plan-apply',
    role: 'STEPFORM_DEFAULT_BRANCH_ROLE_ARN',
  },
  {
    file: 'ephemeral.yml',
    trigger: 'workflow_dispatch',
    workflow: 'ephemeral',
    role: 'STEPFORM_DISPATCH_ROLE_ARN',
  },
  {
    file: 'destroy-on-close.yml',
    trigger: 'pull_request',
    workflow: 'destroy',
    role: 'STEPFORM_DISPATCH_ROLE_ARN',
  },
  {
    file: 'ttl.yml',
    trigger: 'workflow_dispatch',
    workflow: 'ttl',
    role: 'STEPFORM_DISPATCH_ROLE_ARN',
  },
  {
    file: 'command.yml',
    trigger: 'workflow_dispatch',
    workflow: 'command',
    role: 'STEPFORM_DISPATCH_ROLE_ARN',
  },
  {
    file: 'drift-check.yml',
    trigger: 'schedule',
    workflow: 'plan',
    role: 'STEPFORM_DEFAULT_BRANCH_ROLE_ARN',
  },
] as const;

/** The examples that check out the repository to select projects with `projects: changed`. */
const CHECKOUT_EXAMPLES: readonly string[] = ['plan.yml', 'plan-apply.yml'];

/** The placeholder every example uses for this action: replace <owner> (see the header comment). */
const OUR_ACTION = '<owner>/stepform/github-action@v1';

describe('action.yml', () => {
  it('runs dist/index.js on node24 as main and post, and declares the inputs the code reads', async () => {
    expect(ACTION.runs).toEqual({
      using: 'node24',
      main: 'dist/index.js',
      post: 'dist/index.js',
      'post-if': 'always()',
    });
    const { INPUT_NAMES } = await import('./src/inputs.ts');
    expect(Object.keys(ACTION.inputs).sort()).toEqual([...INPUT_NAMES].sort());
    const { STEP_OUTPUT_NAMES } = await import('./src/summary.ts');
    expect(Object.keys(ACTION.outputs).sort()).toEqual(
      ['execution-arn', 'status', 'summary', 'projects', ...STEP_OUTPUT_NAMES].sort(),
    );
    expect(ACTION.inputs.wait?.default).toBe('true');
    expect(ACTION.inputs.timeout?.default).toBe('60m');
    expect(ACTION.inputs.projects?.default).toBe('changed');
    // A default would count as given, and select by folder over `projects`.
    expect(ACTION.inputs.project?.default).toBeUndefined();
  });
});

describe('examples', () => {
  it('has exactly the documented examples', () => {
    expect(readdirSync(here('examples')).sort()).toEqual(EXAMPLES.map((e) => e.file).sort());
  });

  it.each(EXAMPLES)('$file', ({ file, trigger, workflow, role }) => {
    const text = readFileSync(here(`examples/${file}`), 'utf8');
    expect(text).toMatch(/^# Stepform: /);
    expect(text).toContain('replace <owner>');
    const parsed = WORKFLOW.parse(parse(text));

    expect(Object.keys(parsed.on)).toContain(trigger);
    // Least privilege: an OIDC token, and contents: read only for the checkout that
    // `projects: changed` reads (Stepform posts to the pull request with its own token).
    const checkout = CHECKOUT_EXAMPLES.includes(file);
    expect(parsed.permissions).toEqual({
      'id-token': 'write',
      ...(checkout ? { contents: 'read' } : {}),
    });

    const jobs = Object.values(parsed.jobs);
    expect(jobs).toHaveLength(1);
    const { steps, environment } = jobs[0]!;
    // The dispatch role trusts the stepform-dispatch GitHub environment only.
    expect(environment).toBe(
      role === 'STEPFORM_DISPATCH_ROLE_ARN' ? 'stepform-dispatch' : undefined,
    );

    const credentials = steps.findIndex(
      (s) => s.uses === 'aws-actions/configure-aws-credentials@v4',
    );
    const ours = steps.findIndex((s) => s.uses === OUR_ACTION);
    expect(credentials).toBeGreaterThanOrEqual(0);
    expect(ours).toBeGreaterThan(credentials);
    expect(steps[credentials]!.with).toMatchObject({
      'role-to-assume': `\${{ vars.${role} }}`,
      'aws-region': '${{ vars.AWS_REGION }}',
    });

    const inputs = steps[ours]!.with ?? {};
    for (const name of Object.keys(inputs)) expect(Object.keys(ACTION.inputs)).toContain(name);
    for (const [name, input] of Object.entries(ACTION.inputs)) {
      if (input.required) expect(inputs).toHaveProperty(name);
    }
    expect(WORKFLOWS).toContain(inputs.workflow);
    expect(inputs.workflow).toBe(workflow);
    expect('state-machine-arn' in inputs !== 'stack-outputs' in inputs).toBe(true);
    expect('ttl' in inputs).toBe(workflow === 'ephemeral' || workflow === 'ttl');
    expect('command' in inputs).toBe(workflow === 'command');
    expect('approval-timeout' in inputs).toBe(workflow === 'plan-apply' || workflow === 'command');
    if (checkout) {
      // The whole history before the action, so that the change's base is there.
      const cloned = steps.findIndex((s) => s.uses === 'actions/checkout@v4');
      expect(cloned).toBeGreaterThanOrEqual(0);
      expect(cloned).toBeLessThan(ours);
      expect(steps[cloned]!.with).toEqual({ 'fetch-depth': 0 });
      expect(inputs.projects).toBe('changed');
    } else {
      expect(steps.some((s) => s.uses?.startsWith('actions/checkout'))).toBe(false);
    }
    // Every other action is pinned to a major version at least.
    for (const step of steps) if (step.uses !== undefined) expect(step.uses).toMatch(/@v\d+$/);
  });

  it('ephemeral takes its ttl from a workflow_dispatch input', () => {
    const parsed = WORKFLOW.parse(parse(readFileSync(here('examples/ephemeral.yml'), 'utf8')));
    const dispatch = z
      .object({ inputs: z.record(z.string(), z.object({ type: z.literal('string') })) })
      .parse(parsed.on.workflow_dispatch);
    expect(Object.keys(dispatch.inputs).sort()).toEqual(['environment', 'ttl']);
    const ours = Object.values(parsed.jobs)[0]!.steps.find((s) => s.uses === OUR_ACTION)!;
    expect(ours.with?.ttl).toBe('${{ inputs.ttl }}');
  });

  it('ttl sends the new ttl, or nothing with cancel (the expression GitHub evaluates)', () => {
    const parsed = WORKFLOW.parse(parse(readFileSync(here('examples/ttl.yml'), 'utf8')));
    const ours = Object.values(parsed.jobs)[0]!.steps.find((s) => s.uses === OUR_ACTION)!;
    expect(ours.with).toMatchObject({
      ttl: "${{ !inputs.cancel && inputs.ttl || '' }}",
      'cancel-ttl': '${{ inputs.cancel }}',
    });
    const command = WORKFLOW.parse(parse(readFileSync(here('examples/command.yml'), 'utf8')));
    const step = Object.values(command.jobs)[0]!.steps.find((s) => s.uses === OUR_ACTION)!;
    expect(step.with?.command).toBe('${{ inputs.command }}');
  });

  it('destroy runs when a pull request is closed, and the drift check on a schedule', () => {
    const destroy = WORKFLOW.parse(
      parse(readFileSync(here('examples/destroy-on-close.yml'), 'utf8')),
    );
    expect(destroy.on.pull_request).toEqual({ types: ['closed'] });
    const drift = WORKFLOW.parse(parse(readFileSync(here('examples/drift-check.yml'), 'utf8')));
    const [schedule] = z
      .array(z.object({ cron: z.string() }))
      .length(1)
      .parse(drift.on.schedule);
    expect(schedule!.cron).toMatch(/^\S+ \S+ \S+ \S+ \S+$/);
    const steps = Object.values(drift.jobs)[0]!.steps;
    const failOnDrift = steps.at(-1)!;
    // The separate outputs: no fromJSON, no jq.
    expect(failOnDrift.if).toBe("steps.plan.outputs.has-changes == 'true'");
    expect(failOnDrift.env).toMatchObject({
      ADD: '${{ steps.plan.outputs.add }}',
      RUN_ID: '${{ steps.plan.outputs.run-id }}',
    });
    // The outputs reach the shell through the environment, never spliced into the script.
    expect(failOnDrift.run).not.toContain('${{');
  });
});
