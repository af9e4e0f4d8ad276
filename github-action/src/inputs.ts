// The action's inputs: read once through @actions/core into one object, validated with zod.
// Raw strings never travel past readInputs; a bad input is an InvalidInput naming the input.
import { z } from 'zod';
import { ENVIRONMENT_NAME, PROJECT_DIR } from '../../core/contracts/job-input.ts';
import { parseDuration, parseTtl } from '../../core/duration.ts';
import { InvalidInput } from '../../core/errors.ts';
import { commandProblem } from '../../core/terraform-commands.ts';
import { PROJECT_NAME, WORKFLOWS, type Workflow } from '../../core/contracts/workflow-input.ts';
import type { Core } from './deps.ts';

/** The inputs of action.yml, by the names a workflow gives them under `with:`. */
export const INPUT_NAMES = [
  'workflow',
  'environment',
  'project',
  'projects',
  'ttl',
  'cancel-ttl',
  'command',
  'state-machine-arn',
  'stack-outputs',
  'wait',
  'timeout',
  'approval-timeout',
] as const;
export type InputName = (typeof INPUT_NAMES)[number];

/**
 * The stack output that holds each workflow's state machine ARN, for `stack-outputs`:
 * `<Workflow in PascalCase>StateMachineArn`.
 */
export const STACK_OUTPUT_NAMES: Readonly<Record<Workflow, string>> = {
  plan: 'PlanStateMachineArn',
  'plan-apply': 'PlanApplyStateMachineArn',
  ephemeral: 'EphemeralStateMachineArn',
  destroy: 'DestroyStateMachineArn',
  ttl: 'TtlStateMachineArn',
  command: 'CommandStateMachineArn',
  drift: 'DriftStateMachineArn',
};

/** A Standard state machine's ARN: arn:<partition>:states:<region>:<account>:stateMachine:<name>. */
export const STATE_MACHINE_ARN =
  /^arn:aws[a-z-]*:states:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):stateMachine:([A-Za-z0-9_-]{1,80})$/;

export interface Inputs {
  readonly workflow: Workflow;
  readonly environment: string;
  /** The root module's folder, relative to the repository root ("." is the root). */
  readonly projectDir: string;
  /** Whether `project` was given: with stepform.yaml it selects the projects at that folder. */
  readonly projectGiven: boolean;
  /** Which projects of stepform.yaml run (without the file, only the default is allowed). */
  readonly projects: ProjectsInput;
  /** Ephemeral: how long the environment lives; ttl: its new time to live, from now. */
  readonly ttlSeconds?: number;
  /** ttl only: keep the environment until it is destroyed by hand. */
  readonly cancelTtl?: true;
  /** command only: the allowlisted Terraform command's words. */
  readonly args?: readonly string[];
  readonly stateMachineArn: string;
  readonly wait: boolean;
  /** How long to follow the execution before failing the step (the execution goes on). */
  readonly timeoutMs: number;
  /** Plan-apply, command and destroy: how long the approval request stays open. */
  readonly approvalTimeoutSeconds?: number;
}

/** The `projects` input: what the change affects (the default), every project, or names. */
export type ProjectsInput =
  | { readonly kind: 'changed' }
  | { readonly kind: 'all' }
  | { readonly kind: 'names'; readonly names: readonly string[] };

const PROJECTS = z.string().transform((text, ctx): ProjectsInput => {
  if (text === '' || text === 'changed') return { kind: 'changed' };
  if (text === 'all') return { kind: 'all' };
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const bad = names.find((name) => !PROJECT_NAME.safeParse(name).success);
  if (names.length === 0 || bad !== undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `must be changed, all or project names separated by commas${bad === undefined ? '' : ` ("${bad}" is not a project name)`}`,
    });
    return z.NEVER;
  }
  return { kind: 'names', names: [...new Set(names)] };
});

/** The words of the `command` input: split on whitespace (no shell), checked against the allowlist. */
const COMMAND = z.string().transform((text, ctx) => {
  const args = text
    .trim()
    .split(/\s+/)
    .filter((word) => word !== '');
  const problem = args.length === 0 ? 'is empty' : commandProblem(args);
  if (problem === undefined) return args;
  ctx.addIssue({ code: 'custom', message: problem });
  return z.NEVER;
});

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** What core.getBooleanInput accepts (the YAML 1.2 core schema booleans). */
const BOOLEAN = z
  .enum(['true', 'True', 'TRUE', 'false', 'False', 'FALSE'], {
    error: 'must be true or false',
  })
  .transform((value) => value.toLowerCase() === 'true');

/** The reason alone of an InvalidInput ("must be …", without its field). */
function reason(error: unknown): string {
  return error instanceof InvalidInput ? error.message.slice(error.field.length + 2) : 'is invalid';
}

/** A duration such as 30m or 1h30m, between `minMs` and `maxMs`, in milliseconds. */
function duration(minMs: number, maxMs: number, range: string) {
  return z.string().transform((text, ctx) => {
    try {
      const ms = parseDuration(text);
      if (ms >= minMs && ms <= maxMs) return ms;
      ctx.addIssue({ code: 'custom', message: `must be between ${range}` });
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: reason(error) });
    }
    return z.NEVER;
  });
}

const TTL = z.string().transform((text, ctx) => {
  try {
    return parseTtl(text) / 1000;
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: reason(error) });
    return z.NEVER;
  }
});

/** An input that may be left out: "" (what core.getInput gives then) becomes undefined. */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === '' ? undefined : value), schema.optional());

/** One stack output as `aws cloudformation describe-stacks` lists it. */
const CFN_OUTPUT = z.object({ OutputKey: z.string(), OutputValue: z.string() });

/**
 * The outputs of the Stepform stack, in any of the forms the tools write them: a flat object
 * (`{"PlanStateMachineArn": "arn:…"}`), `cdk deploy --outputs-file` (`{"Stepform": {…}}`,
 * keyed by stack name), or `describe-stacks --query 'Stacks[0].Outputs'` (a list of
 * `{OutputKey, OutputValue}`). Returns every (key, value) pair found.
 */
function outputPairs(value: unknown): [string, unknown][] {
  if (Array.isArray(value)) {
    return value.flatMap((item) => {
      const parsed = CFN_OUTPUT.safeParse(item);
      return parsed.success ? [[parsed.data.OutputKey, parsed.data.OutputValue]] : [];
    });
  }
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]): [string, unknown][] =>
    typeof inner === 'object' && inner !== null ? outputPairs(inner) : [[key, inner]],
  );
}

/**
 * The ARN of `workflow`'s state machine among the stack outputs: the output named exactly
 * STACK_OUTPUT_NAMES[workflow], or else the one output whose name ends in it (CDK gives an
 * output declared inside a construct a prefixed logical id with an 8-character hash suffix).
 */
export function stateMachineArnFromOutputs(json: string, workflow: Workflow): string {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new InvalidInput('stack-outputs', 'must be JSON (the outputs of the Stepform stack)');
  }
  const wanted = STACK_OUTPUT_NAMES[workflow];
  const pairs = outputPairs(value);
  const exact = pairs.filter(([key]) => key === wanted);
  const suffixed = new RegExp(`^[A-Za-z0-9]*${wanted}(?:[0-9A-F]{8})?$`);
  const found = exact.length > 0 ? exact : pairs.filter(([key]) => suffixed.test(key));
  const arns = [...new Set(found.map(([, arn]) => arn))];
  if (arns.length === 0) {
    throw new InvalidInput('stack-outputs', `has no ${wanted} output (the ${workflow} workflow)`);
  }
  if (arns.length > 1) {
    throw new InvalidInput('stack-outputs', `has more than one ${wanted} output`);
  }
  const arn = arns[0];
  if (typeof arn !== 'string' || !STATE_MACHINE_ARN.test(arn)) {
    throw new InvalidInput('stack-outputs', `${wanted} is not a state machine ARN`);
  }
  return arn;
}

const RAW_INPUTS = z
  .object({
    workflow: z.enum(WORKFLOWS, { error: `must be one of ${WORKFLOWS.join(', ')}` }),
    environment: z.string().min(1, 'is required').pipe(ENVIRONMENT_NAME),
    project: optional(PROJECT_DIR),
    projects: PROJECTS,
    ttl: optional(TTL),
    'cancel-ttl': z
      .string()
      .transform((value) => (value === '' ? 'false' : value))
      .pipe(BOOLEAN),
    command: optional(COMMAND),
    'state-machine-arn': optional(
      z.string().regex(STATE_MACHINE_ARN, 'must be a Step Functions state machine ARN'),
    ),
    'stack-outputs': z.string(),
    wait: z
      .string()
      .transform((value) => (value === '' ? 'true' : value))
      .pipe(BOOLEAN),
    timeout: z
      .string()
      .transform((value) => (value === '' ? '60m' : value))
      .pipe(duration(MINUTE, 72 * HOUR, '1m and 72h')),
    'approval-timeout': optional(duration(1_000, 7 * DAY, '1s and 7d')),
  })
  .superRefine((raw, ctx) => {
    const issue = (path: string, message: string) => {
      ctx.addIssue({ code: 'custom', path: [path], message });
    };
    if (raw.project !== undefined && raw.projects.kind !== 'changed')
      issue('projects', 'give project (a folder) or projects (names, or all), not both');
    if (raw.workflow === 'ephemeral' && raw.ttl === undefined)
      issue('ttl', 'is required by ephemeral');
    if (raw.workflow === 'ttl' && (raw.ttl === undefined) === !raw['cancel-ttl'])
      issue('ttl', 'ttl takes a ttl or cancel-ttl: true (one of them)');
    if (!['ephemeral', 'ttl'].includes(raw.workflow) && raw.ttl !== undefined)
      issue('ttl', 'is only for ephemeral and ttl');
    if (raw.workflow !== 'ttl' && raw['cancel-ttl']) issue('cancel-ttl', 'is only for ttl');
    if (raw.workflow === 'command' && raw.command === undefined)
      issue('command', 'is required by command (such as: state list)');
    if (raw.workflow !== 'command' && raw.command !== undefined)
      issue('command', 'is only for command');
    if (
      !['plan-apply', 'command', 'destroy'].includes(raw.workflow) &&
      raw['approval-timeout'] !== undefined
    )
      issue(
        'approval-timeout',
        'is only for plan-apply, command and destroy (the workflows with an approval)',
      );
    const given = [raw['state-machine-arn'] !== undefined, raw['stack-outputs'] !== ''];
    if (given.every(Boolean) || !given.some(Boolean)) {
      ctx.addIssue({
        code: 'custom',
        path: ['state-machine-arn'],
        message: 'give exactly one of state-machine-arn and stack-outputs',
      });
    }
  });

/** Reads every input once (core.getInput, trimmed) and validates them together. */
export function readInputs(core: Pick<Core, 'getInput'>): Inputs {
  const raw = Object.fromEntries(INPUT_NAMES.map((name) => [name, core.getInput(name)]));
  const result = RAW_INPUTS.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const name = String(issue?.path[0] ?? 'inputs');
    throw new InvalidInput(name, issue?.message ?? 'is invalid');
  }
  const valid = result.data;
  const stateMachineArn =
    valid['state-machine-arn'] ??
    stateMachineArnFromOutputs(valid['stack-outputs'], valid.workflow);
  return {
    workflow: valid.workflow,
    environment: valid.environment,
    projectDir: valid.project ?? '.',
    projectGiven: valid.project !== undefined,
    projects: valid.projects,
    ...(valid.ttl === undefined ? {} : { ttlSeconds: valid.ttl }),
    ...(valid['cancel-ttl'] ? { cancelTtl: true as const } : {}),
    ...(valid.command === undefined ? {} : { args: valid.command }),
    stateMachineArn,
    wait: valid.wait,
    timeoutMs: valid.timeout,
    ...(valid['approval-timeout'] === undefined
      ? {}
      : { approvalTimeoutSeconds: valid['approval-timeout'] / 1000 }),
  };
}

/** The region in a state machine or execution ARN. */
export function regionOf(arn: string): string {
  const region = arn.split(':')[3];
  if (region === undefined || region === '') {
    throw new InvalidInput('state-machine-arn', 'has no region');
  }
  return region;
}
