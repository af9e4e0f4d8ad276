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

const CHANGE = z.looseObject({
  actions: z.array(z.string()),
  importing: z.unknown().optional(),
  after: z.unknown().optional(),
  after_unknown: z.unknown().optional(),
  after_sensitive: z.unknown().optional(),
});

const VALUE_WITH_FLAG = z.looseObject({
  value: z.unknown().optional(),
  sensitive: z.boolean().optional(),
});

export const PLAN_JSON = z.looseObject({
  resource_changes: z.array(z.looseObject({ address: z.string(), change: CHANGE })).optional(),
  output_changes: z.record(z.string(), CHANGE).optional(),
  planned_values: z
    .looseObject({ outputs: z.record(z.string(), VALUE_WITH_FLAG).optional() })
    .optional(),
  prior_state: z
    .looseObject({
      values: z
        .looseObject({ outputs: z.record(z.string(), VALUE_WITH_FLAG).optional() })
        .optional(),
    })
    .optional(),
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
 * Every value the plan marks sensitive: sensitive outputs (planned and prior) and the values
 * of variables declared sensitive. These are masked in logs and results from then on.
 */
export function sensitiveValuesInPlan(plan: PlanJson): string[] {
  const values: unknown[] = [];
  for (const output of Object.values(plan.planned_values?.outputs ?? {})) {
    if (output.sensitive) values.push(output.value);
  }
  for (const output of Object.values(plan.prior_state?.values?.outputs ?? {})) {
    if (output.sensitive) values.push(output.value);
  }
  for (const change of Object.values(plan.output_changes ?? {})) {
    if (change.after_sensitive === true) values.push(change.after);
  }
  const declared = plan.configuration?.root_module?.variables ?? {};
  for (const [name, variable] of Object.entries(plan.variables ?? {})) {
    if (declared[name]?.sensitive) values.push(variable.value);
  }
  return values.flatMap(leaves);
}
