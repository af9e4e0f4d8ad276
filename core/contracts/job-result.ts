// The executor's output: one result.json per job, beside its log and plan. The executor writes
// it; every reader (the local engine, the S3 artifacts adapter, the benchmarks) parses it with
// JOB_RESULT, never casts it, so a result from another version or a truncated upload is a
// named error instead of a wrong field read later.
import { z } from 'zod';
import { JobLost } from '../errors.ts';
import { POLICY_RESULT } from '../policy.ts';
import { VERBS } from './job-input.ts';

export const RESULT_FILE = 'result.json';
export const LOG_FILE = 'executor.log';
export const PLAN_TEXT_FILE = 'plan.txt';
/** The plan's attribute-level diff (core/plan-diff.ts PLAN_DIFF_MODEL), with no secret in it. */
export const PLAN_DIFF_FILE = 'plan-diff.json';

/** Terraform's own counts: a replace counts in both `add` and `destroy`. */
export const CHANGE_COUNTS = z.strictObject({
  add: z.number().int().nonnegative(),
  change: z.number().int().nonnegative(),
  destroy: z.number().int().nonnegative(),
});
export type ChangeCounts = Readonly<z.output<typeof CHANGE_COUNTS>>;

/** `+2 ~0 -1`, as every short status line shows a plan. */
export function formatCounts(counts: ChangeCounts): string {
  return `+${counts.add} ~${counts.change} -${counts.destroy}`;
}

export const RESOURCE_ACTIONS = [
  'create',
  'update',
  'delete',
  'replace',
  'read',
  'forget',
  'no-op',
] as const;
export type ResourceAction = (typeof RESOURCE_ACTIONS)[number];

export const RESOURCE_CHANGE = z.strictObject({
  address: z.string(),
  action: z.enum(RESOURCE_ACTIONS),
  /** True when the resource is being imported (alone or together with the action). */
  importing: z.boolean(),
});
export type ResourceChange = Readonly<z.output<typeof RESOURCE_CHANGE>>;

export const OUTPUT_CHANGE = z.strictObject({
  name: z.string(),
  action: z.enum(RESOURCE_ACTIONS),
  sensitive: z.boolean(),
  /** The planned value; MASK when sensitive, undefined when known only after apply. */
  value: z.unknown().optional(),
});
export type OutputChange = Readonly<z.output<typeof OUTPUT_CHANGE>>;

/** `replace`, `import` and `forget` are counted apart from Terraform's three. */
export const PLAN_SUMMARY = CHANGE_COUNTS.extend({
  replace: z.number().int().nonnegative(),
  import: z.number().int().nonnegative(),
  forget: z.number().int().nonnegative(),
  resources: z.array(RESOURCE_CHANGE).readonly(),
  outputs: z.array(OUTPUT_CHANGE).readonly(),
});
export type PlanSummary = Readonly<z.output<typeof PLAN_SUMMARY>>;

/** Which state a plan was made against: a saved plan applies only to the same identity. */
export const STATE_IDENTITY = z.strictObject({ lineage: z.string(), serial: z.number().int() });
export type StateIdentity = Readonly<z.output<typeof STATE_IDENTITY>>;

export const MASKED_OUTPUT = z.strictObject({ sensitive: z.boolean(), value: z.unknown() });
export type MaskedOutput = Readonly<z.output<typeof MASKED_OUTPUT>>;

export const JOB_RESULT = z.strictObject({
  schemaVersion: z.literal(1),
  runId: z.string().min(1),
  verb: z.enum(VERBS),
  status: z.enum(['succeeded', 'failed']),
  repository: z.string(),
  commit: z.string(),
  environment: z.string(),
  projectDir: z.string(),
  /** Absent only when no engine could be found. */
  engine: z.strictObject({ name: z.string(), version: z.string() }).optional(),
  /** Whether the plan had changes (plan, plan-apply, destroy). */
  hasChanges: z.boolean().optional(),
  /** Whether a plan was applied by this job. */
  applied: z.boolean().optional(),
  summary: PLAN_SUMMARY.optional(),
  /** A plan's policy checks, one per policy set (absent: the job checked none). */
  policy: z.array(POLICY_RESULT).max(16).optional(),
  /** After an apply, the root module's outputs; sensitive values masked. */
  outputs: z.record(z.string(), MASKED_OUTPUT).optional(),
  plan: z
    .strictObject({ path: z.string(), metadataPath: z.string(), sha256: z.string() })
    .optional(),
  stateBefore: STATE_IDENTITY.nullable().optional(),
  stateAfter: STATE_IDENTITY.nullable().optional(),
  /**
   * Whether this job changed the Terraform state (its lineage or serial moved), read from the
   * backend before and after the apply. False when a job of a verb that applies left the
   * state as it was: nothing to apply, a refused plan, a plan that failed, an apply that
   * failed before its first write. Absent for verbs that never apply, and when the job could
   * not tell: then, as with results of older executors, a reader assumes it changed.
   */
  stateChanged: z.boolean().optional(),
  command: z
    .strictObject({ name: z.string(), args: z.array(z.string()).readonly(), output: z.string() })
    .optional(),
  artifacts: z.strictObject({
    dir: z.string(),
    log: z.string(),
    result: z.string(),
    planText: z.string().optional(),
    planDiff: z.string().optional(),
  }),
  /** Milliseconds spent in each step, for benchmarks and for the run's timeline. */
  timings: z.record(z.string(), z.number()),
  error: z.strictObject({ name: z.string(), message: z.string() }).optional(),
  startedAt: z.string(),
  finishedAt: z.string(),
});
export type JobResult = z.output<typeof JOB_RESULT>;

/**
 * A result.json's text as a JobResult. `where` names the file in the error: a result that is
 * there but unreadable means the job's outcome is lost (JobLost), naming the bad field.
 */
export function parseJobResult(text: string, where: string): JobResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new JobLost(`${where} is not JSON: the job's result is unreadable`);
  }
  const parsed = JOB_RESULT.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') ?? '';
    throw new JobLost(
      `${where} is not a job result (${field || 'result'}: ${issue?.message ?? 'invalid'})`,
    );
  }
  return parsed.data;
}
