// Reads `show -json` of a saved plan into the summary that every later step shows: counts,
// each resource with its action, and outputs with sensitive values masked. Pure.
import { z } from 'zod';
import type {
  OutputChange,
  PlanSummary,
  ResourceAction,
  ResourceChange,
} from './contracts/job-result.ts';
import { MASK, leaves } from './masking.ts';

export type { OutputChange, PlanSummary, ResourceAction, ResourceChange };

/** One `change` of resource_changes, resource_drift or output_changes. */
export const PLAN_CHANGE = z.looseObject({
  actions: z.array(z.string()),
  importing: z.unknown().optional(),
  before: z.unknown().optional(),
  before_sensitive: z.unknown().optional(),
  after: z.unknown().optional(),
  after_unknown: z.unknown().optional(),
  after_sensitive: z.unknown().optional(),
});

const VALUE_WITH_FLAG = z.looseObject({
  value: z.unknown().optional(),
  sensitive: z.boolean().optional(),
});

/** `planned_values` and `prior_state.values`: outputs and a module tree of resources. */
const VALUES = z.looseObject({
  outputs: z.record(z.string(), VALUE_WITH_FLAG).optional(),
  /** Resources with `values` and `sensitive_values`, and child modules: walked as JSON. */
  root_module: z.unknown().optional(),
});

export const PLAN_JSON = z.looseObject({
  resource_changes: z.array(z.looseObject({ address: z.string(), change: PLAN_CHANGE })).optional(),
  /** Changes made outside Terraform since the last apply, shaped as resource_changes. */
  resource_drift: z.array(z.looseObject({ change: PLAN_CHANGE.partial() })).optional(),
  output_changes: z.record(z.string(), PLAN_CHANGE).optional(),
  planned_values: VALUES.optional(),
  prior_state: z.looseObject({ values: VALUES.optional() }).optional(),
  variables: z.record(z.string(), z.looseObject({ value: z.unknown().optional() })).optional(),
  configuration: z
    .looseObject({
      root_module: z
        .looseObject({
          variables: z
            .record(z.string(), z.looseObject({ sensitive: z.boolean().optional() }))
            .optional(),
        })
        .optional(),
    })
    .optional(),
});
export type PlanJson = z.output<typeof PLAN_JSON>;

export function classifyActions(actions: readonly string[]): ResourceAction {
  const key = [...actions].sort().join(',');
  switch (key) {
    case 'create':
    case 'update':
    case 'delete':
    case 'read':
    case 'forget':
      return key;
    case 'create,delete':
      return 'replace';
    default:
      return 'no-op';
  }
}

export function summarizePlan(plan: PlanJson): PlanSummary {
  const resources: ResourceChange[] = [];
  for (const rc of plan.resource_changes ?? []) {
    const action = classifyActions(rc.change.actions);
    const importing = rc.change.importing !== undefined && rc.change.importing !== null;
    if (action === 'no-op' && !importing) continue;
    resources.push({ address: rc.address, action, importing });
  }
  const outputs: OutputChange[] = Object.entries(plan.output_changes ?? {}).map(
    ([name, change]) => {
      const sensitive = change.after_sensitive === true;
      const unknown = change.after_unknown === true;
      const action = classifyActions(change.actions);
      if (sensitive) return { name, action, sensitive, value: MASK };
      if (unknown || action === 'delete') return { name, action, sensitive };
      return { name, action, sensitive, value: change.after };
    },
  );
  return summaryOf(resources, outputs);
}

/** The counts of a list of changes, as Terraform's "Plan:" line counts them. */
export function summaryOf(
  resources: readonly ResourceChange[],
  outputs: readonly OutputChange[] = [],
): PlanSummary {
  const count = (action: ResourceAction) => resources.filter((r) => r.action === action).length;
  return {
    add: count('create') + count('replace'),
    change: count('update'),
    destroy: count('delete') + count('replace'),
    replace: count('replace'),
    import: resources.filter((r) => r.importing).length,
    forget: count('forget'),
    resources,
    outputs,
  };
}

/**
 * The leaves of `value` that a sensitivity marker marks. Terraform's markers mirror the
 * value's shape: `true` marks the whole value, an object or array marks its parts (nested
 * `true`s), `false` or `{}` marks nothing.
 */
export function sensitiveLeaves(value: unknown, marker: unknown): string[] {
  if (marker === true) return leaves(value);
  if (marker === null || typeof marker !== 'object') return [];
  if (value === null || typeof value !== 'object') return [];
  const parts = value as Record<string, unknown>;
  return Object.entries(marker).flatMap(([key, inner]) => sensitiveLeaves(parts[key], inner));
}

const MODULE = z.looseObject({
  resources: z
    .array(
      z.looseObject({ values: z.unknown().optional(), sensitive_values: z.unknown().optional() }),
    )
    .optional(),
  child_modules: z.array(z.unknown()).optional(),
});

/** The sensitive attribute values of every resource in a module and its child modules. */
function sensitiveInModule(module: unknown): string[] {
  const parsed = MODULE.safeParse(module);
  if (!parsed.success) return [];
  return [
    ...(parsed.data.resources ?? []).flatMap((r) => sensitiveLeaves(r.values, r.sensitive_values)),
    ...(parsed.data.child_modules ?? []).flatMap(sensitiveInModule),
  ];
}

function sensitiveInChange(change: {
  before?: unknown;
  before_sensitive?: unknown;
  after?: unknown;
  after_sensitive?: unknown;
}): string[] {
  return [
    ...sensitiveLeaves(change.before, change.before_sensitive),
    ...sensitiveLeaves(change.after, change.after_sensitive),
  ];
}

function sensitiveInValues(values: z.output<typeof VALUES> | undefined): string[] {
  const outputs = Object.values(values?.outputs ?? {});
  return [
    ...outputs.filter((output) => output.sensitive).flatMap((output) => leaves(output.value)),
    ...sensitiveInModule(values?.root_module),
  ];
}

/**
 * Every value the plan marks sensitive, anywhere: outputs and resource attributes, planned
 * and prior, before and after each change (drift included), and the values of variables
 * declared sensitive. These are masked in logs and results from then on; the apply job reads
 * them from the approved plan, so that a first apply (no prior state) masks them too.
 */
export function sensitiveValuesInPlan(plan: PlanJson): string[] {
  const declared = plan.configuration?.root_module?.variables ?? {};
  const variables = Object.entries(plan.variables ?? {})
    .filter(([name]) => declared[name]?.sensitive === true)
    .flatMap(([, variable]) => leaves(variable.value));
  return [
    ...sensitiveInValues(plan.planned_values),
    ...sensitiveInValues(plan.prior_state?.values),
    ...(plan.resource_changes ?? []).flatMap((rc) => sensitiveInChange(rc.change)),
    ...(plan.resource_drift ?? []).flatMap((rc) => sensitiveInChange(rc.change)),
    ...Object.values(plan.output_changes ?? {}).flatMap(sensitiveInChange),
    ...variables,
  ];
}
