// Policy checks on a plan, conftest's conventions: each policy set of stepform.yaml is a folder
// of Rego whose `deny` and `warn` rules, in `package main` or the namespaces the set names, are
// evaluated by OPA against the plan JSON. This module holds what is pure about it: the result
// model (zod: it travels in job results and --json), the queries, the reading of
// `opa eval --format json` output into violations, and what `on_failure` makes of the results.
// The executor runs OPA (executor-image/src/policy.ts).
import { posix } from 'node:path';
import { z } from 'zod';
import type { PolicyConfig } from './config/stepform-config.ts';
import { COMMIT_SHA, ENVIRONMENT_NAME } from './contracts/job-input.ts';
import { PolicyInvalid } from './errors.ts';

export const POLICY_RULES = ['deny', 'warn'] as const;
export type PolicyRule = (typeof POLICY_RULES)[number];

/** conftest's default namespace. */
export const DEFAULT_POLICY_NAMESPACES: readonly string[] = ['main'];

export const POLICY_VIOLATION = z.strictObject({
  /** The policy set's name in stepform.yaml. */
  policy: z.string().min(1),
  rule: z.enum(POLICY_RULES),
  message: z.string(),
  /** The resource address, when the rule yielded `{ msg, resource }`. */
  resource: z.string().optional(),
});
export type PolicyViolation = z.output<typeof POLICY_VIOLATION>;

/**
 * What policy checks say, as --json and the comments show it: `passed` is false when any
 * deny rule fired (a warn never fails a check; whether a failed check blocks the run is
 * `on_failure`'s, see policyOutcome).
 */
export const POLICY_SUMMARY = z.strictObject({
  passed: z.boolean(),
  violations: z.array(POLICY_VIOLATION),
});
export type PolicySummary = z.output<typeof POLICY_SUMMARY>;

/** One policy set checked against one project's plan. */
export const POLICY_RESULT = POLICY_SUMMARY.extend({
  policy: z.string().min(1),
  project: z.string().min(1),
  onFailure: z.enum(['block', 'warn']),
});
export type PolicyResult = z.output<typeof POLICY_RESULT>;

/** What policies may read under `data.stepform` besides the plan (`input`). */
export const POLICY_DATA = z.strictObject({
  environment: ENVIRONMENT_NAME,
  project: z.string().min(1),
  commit: COMMIT_SHA,
  /** The environment's `protected` in stepform.yaml. */
  protected: z.boolean(),
});
export type PolicyData = z.output<typeof POLICY_DATA>;

/** The key of the data document: `data.stepform.environment` and so on. */
export const POLICY_DATA_KEY = 'stepform';

export function policyDataDocument(data: PolicyData): { [POLICY_DATA_KEY]: PolicyData } {
  return { [POLICY_DATA_KEY]: data };
}

export interface PolicyQuery {
  readonly namespace: string;
  readonly rule: PolicyRule;
  /** The Rego query: `data.<namespace>.<rule>`. */
  readonly text: string;
}

/** One query per namespace and rule, deny before warn. */
export function policyQueries(policy: Pick<PolicyConfig, 'namespaces'>): PolicyQuery[] {
  const namespaces = policy.namespaces ?? DEFAULT_POLICY_NAMESPACES;
  return namespaces.flatMap((namespace) =>
    POLICY_RULES.map((rule) => ({ namespace, rule, text: `data.${namespace}.${rule}` })),
  );
}

/** The JSON `opa eval --format json` prints: a result, or errors (compile and runtime). */
const OPA_EVAL_OUTPUT = z.looseObject({
  result: z
    .array(z.looseObject({ expressions: z.array(z.looseObject({ value: z.unknown() })).min(1) }))
    .optional(),
  errors: z
    .array(
      z.looseObject({
        message: z.string(),
        code: z.string().optional(),
        location: z
          .looseObject({ file: z.string().optional(), row: z.number().optional() })
          .optional(),
      }),
    )
    .optional(),
});
type OpaError = NonNullable<z.output<typeof OPA_EVAL_OUTPUT>['errors']>[number];

/** A rule's element, when not a bare message: conftest's `{ msg }`, with our `resource`. */
const VIOLATION_OBJECT = z.looseObject({ msg: z.string(), resource: z.string().optional() });

/** Where OPA's output is read from, for the errors: which set and which files. */
export interface OpaOutputContext {
  /** The policy set's name. */
  readonly policy: string;
  /** The repository root as OPA saw it: file names in errors are made relative to it. */
  readonly root: string;
}

/** A file OPA names, relative to the repository when it lies inside. */
function repositoryPath(file: string, root: string): string {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  return file.startsWith(prefix) ? posix.normalize(file.slice(prefix.length)) : file;
}

/** OPA's errors (at most five shown) as one PolicyInvalid naming the first file and line. */
function opaErrors(errors: readonly OpaError[], context: OpaOutputContext): PolicyInvalid {
  const where = (error: OpaError): string => {
    const file = error.location?.file;
    if (file === undefined || file === '') return '';
    const row = error.location?.row;
    return `${repositoryPath(file, context.root)}${row === undefined ? '' : `:${row}`}: `;
  };
  const lines = errors
    .slice(0, 5)
    .map((error) => `${where(error)}${error.code ? `${error.code}: ` : ''}${error.message}`);
  if (errors.length > 5) lines.push(`… and ${errors.length - 5} more`);
  const first = errors.find((error) => error.location?.file);
  const file = first?.location?.file;
  return new PolicyInvalid(
    `policy ${context.policy}: OPA refused it:\n${lines.join('\n')}`,
    file === undefined
      ? undefined
      : {
          file: repositoryPath(file, context.root),
          ...(first?.location?.row === undefined ? {} : { line: first.location.row }),
        },
  );
}

type Found = { readonly message: string; readonly resource?: string };

function element(value: unknown, field: string, policy: string): Found {
  if (typeof value === 'string') return { message: value };
  const parsed = VIOLATION_OBJECT.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = (issue?.path ?? []).map(String);
    throw new PolicyInvalid(
      `policy ${policy}: ${[field, ...path].join('.')} ${issue?.message ?? 'is invalid'}: a ` +
        'violation is a message or an object with a string msg (and a string resource)',
    );
  }
  const found = parsed.data;
  return found.resource === undefined
    ? { message: found.msg }
    : { message: found.msg, resource: found.resource };
}

/**
 * The messages a rule's value holds. A set (`deny contains msg if`) arrives as an array; a
 * `deny[msg] if` rule as an object whose keys are the messages (values true); a complete
 * rule as one message, one `{ msg }`, or a boolean (true: the rule fired, without a message).
 */
export function ruleViolations(value: unknown, query: PolicyQuery, policy: string): Found[] {
  const field = query.text;
  if (value === undefined || value === false) return [];
  if (value === true) return [{ message: `${field} is true` }];
  if (typeof value === 'string') return [{ message: value }];
  if (Array.isArray(value)) return value.map((item, i) => element(item, `${field}[${i}]`, policy));
  if (value !== null && typeof value === 'object') {
    if ('msg' in value) return [element(value, field, policy)];
    return Object.entries(value).map(([key, item]) =>
      item === true ? { message: key } : element(item, `${field}[${JSON.stringify(key)}]`, policy),
    );
  }
  throw new PolicyInvalid(
    `policy ${policy}: ${field} must be a set of messages, not ${value === null ? 'null' : typeof value}`,
  );
}

/**
 * Reads what `opa eval --format json <query>` printed into the set's violations. An undefined
 * rule (no such package or rule) prints no result: no violation. OPA's errors, whether the
 * Rego does not compile or fails while evaluating, are PolicyInvalid naming file and line.
 */
export function parseOpaEval(
  stdout: string,
  query: PolicyQuery,
  context: OpaOutputContext,
): PolicyViolation[] {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    throw new PolicyInvalid(
      `policy ${context.policy}: OPA printed no JSON for ${query.text}: ${stdout.trim().slice(0, 500)}`,
    );
  }
  const parsed = OPA_EVAL_OUTPUT.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PolicyInvalid(
      `policy ${context.policy}: OPA's output for ${query.text} is not what OPA prints: ` +
        `${(issue?.path ?? []).join('.')} ${issue?.message ?? ''}`.trim(),
    );
  }
  const { result, errors } = parsed.data;
  if (errors !== undefined && errors.length > 0) throw opaErrors(errors, context);
  // No result at all: the rule is not defined (in that namespace) for this input.
  const value = result?.[0]?.expressions[0]?.value;
  return ruleViolations(value, query, context.policy).map((found) => ({
    policy: context.policy,
    rule: query.rule,
    ...found,
  }));
}

/** A set's result from its violations: it passes when no deny rule fired. */
export function policyResult(
  policy: Pick<PolicyConfig, 'name' | 'on_failure'>,
  project: string,
  violations: readonly PolicyViolation[],
): PolicyResult {
  return {
    policy: policy.name,
    project,
    onFailure: policy.on_failure,
    passed: violations.every((violation) => violation.rule !== 'deny'),
    violations: [...violations],
  };
}

/** The results of every set (and project) as one summary. */
export function summarizePolicies(results: readonly PolicyResult[]): PolicySummary {
  return {
    passed: results.every((result) => result.passed),
    violations: results.flatMap((result) => result.violations),
  };
}

/**
 * What the results mean for the run: `blocked` when a set with `on_failure: block` failed
 * (the run stops before approval unless an owner overrides), `warned` when anything fired
 * but nothing blocks, else `passed`. `blockedBy` names the blocking sets, once each.
 */
export type PolicyOutcome =
  | { readonly outcome: 'passed' }
  | { readonly outcome: 'warned' }
  | { readonly outcome: 'blocked'; readonly blockedBy: readonly string[] };

export function policyOutcome(results: readonly PolicyResult[]): PolicyOutcome {
  const blockedBy = [
    ...new Set(results.filter((r) => r.onFailure === 'block' && !r.passed).map((r) => r.policy)),
  ];
  if (blockedBy.length > 0) return { outcome: 'blocked', blockedBy };
  if (results.some((result) => result.violations.length > 0)) return { outcome: 'warned' };
  return { outcome: 'passed' };
}

/**
 * Who may override a block: the owners of every blocking set (a set that lists no owners, or
 * is not configured, leaves nobody). Each name once, in the first set's order.
 */
export function overrideOwners(
  policies: readonly Pick<PolicyConfig, 'name' | 'owners'>[],
  blockedBy: readonly string[],
): string[] {
  if (blockedBy.length === 0) return [];
  const ownersOf = (name: string) => policies.find((policy) => policy.name === name)?.owners ?? [];
  const [first = '', ...rest] = blockedBy;
  return [...new Set(ownersOf(first))].filter((owner) =>
    rest.every((name) => ownersOf(name).includes(owner)),
  );
}

/** Whether `actor` may override a block: an owner of every blocking set. */
export function mayOverride(
  policies: readonly Pick<PolicyConfig, 'name' | 'owners'>[],
  blockedBy: readonly string[],
  actor: string,
): boolean {
  return overrideOwners(policies, blockedBy).includes(actor);
}
