// The results of a run's projects, as a Map state's iterations leave them: one entry per
// project (its job's collected result, or the error that stopped it), gathered into what the
// rest of the workflow decides on and what Notify and Record keep. Pure.
import { z } from 'zod';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { JOB, PROJECT_DIR } from './contracts/job-input.ts';
import { RUN_INPUT, type RunProject } from './contracts/workflow-input.ts';
import type { PolicyConfig } from './config/stepform-config.ts';
import { overrideOwners } from './policy.ts';
import { parseInput } from './validation.ts';

/** How a project's part of a run ended. */
export const PROJECT_STATUSES = [
  'planned',
  'failed',
  // After a plan-apply's apply (core/apply-layers.ts).
  'applied',
  'no_changes',
  'rolled_back',
  'rollback_failed',
  'not_started',
  // After a destroy (core/destroy-layers.ts).
  'destroyed',
  'destroy_failed',
] as const;
export type ProjectStatus = (typeof PROJECT_STATUSES)[number];

export const COUNTS = z.looseObject({
  add: z.number().int().min(0),
  change: z.number().int().min(0),
  destroy: z.number().int().min(0),
  replace: z.number().int().min(0).default(0),
  import: z.number().int().min(0).default(0),
});

/** A Catch's error output; moto's interpreter may give a null Cause. */
export const CAUGHT = z.looseObject({
  Error: z.string(),
  Cause: z
    .string()
    .nullish()
    .transform((cause) => cause ?? undefined),
});

/**
 * A project as an iteration names it: its name in stepform.yaml, or for a run without one its
 * folder (runProjects), which may hold slashes.
 */
export const PROJECT_REF = z.string().min(1).max(1024);

/** What every loop iteration's output starts with: which project it was. */
export const ITERATION_BASE = {
  name: PROJECT_REF,
  dir: z.string().min(1),
  layer: z.number().int().min(0),
};

/**
 * A project of the run as PrepareRun gave it (core/run.ts PreparedProject): its run view and
 * the jobs a layer loop needs of it (NextLayer the plan, NextDestroyLayer the destroy…).
 */
export function preparedProject<Jobs extends z.core.$ZodLooseShape>(jobs: Jobs) {
  return z.looseObject({ ...ITERATION_BASE, run: RUN_INPUT, jobs: z.looseObject(jobs) });
}

/** An applied job's collected result, as an iteration's `result` carries it. */
export const APPLIED_RESULT = z.looseObject({
  summary: COUNTS,
  resultLocation: z.string().min(1),
  outputs: z.record(z.string(), z.unknown()).default({}),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
});

/** A project's policy checks as the workflow carries them: counts, and the sets that block. */
export const PROJECT_POLICY = z.strictObject({
  outcome: z.enum(['passed', 'warned', 'blocked']),
  blockedBy: z.array(z.string()),
  deny: z.number().int().min(0),
  warn: z.number().int().min(0),
});
export type ProjectPolicy = z.output<typeof PROJECT_POLICY>;

/** One Map iteration's output (the Pass states at the end of each iteration build it). */
export const PROJECT_OUTCOME = z.discriminatedUnion('status', [
  z.looseObject({
    name: PROJECT_REF,
    dir: PROJECT_DIR,
    layer: z.number().int().min(0),
    status: z.literal('planned'),
    result: z.looseObject({
      hasChanges: z.boolean(),
      summary: COUNTS,
      resultLocation: z.string().min(1),
      outputs: z.record(z.string(), z.unknown()).default({}),
      startedAt: z.string().optional(),
      finishedAt: z.string().optional(),
      plan: z.strictObject({ dir: z.string(), sha256: z.string() }).optional(),
      /** The job that applies exactly this plan (a plan with changes). */
      applyJob: JOB.optional(),
      /** The plan's policy checks, counted (core/run.ts CollectedResult). */
      policy: PROJECT_POLICY.optional(),
    }),
  }),
  z.looseObject({
    name: PROJECT_REF,
    dir: PROJECT_DIR,
    layer: z.number().int().min(0),
    status: z.literal('failed'),
    error: CAUGHT,
  }),
]);

/** What a run keeps and tells of one of its projects. */
export interface ProjectReport {
  name: string;
  dir: string;
  layer: number;
  /** Its Terraform workspace (null: the default one) and var files, as the run had them. */
  workspace: string | null;
  varFiles: string[];
  status: ProjectStatus;
  hasChanges: boolean;
  summary: { add: number; change: number; destroy: number; replace: number; import: number };
  /** The artifacts folder of the project's job (its result.json, log and plan). */
  resultLocation?: string;
  outputs: Record<string, unknown>;
  /** When the project's job ran; null when it left no result to say. */
  startedAt: string | null;
  finishedAt: string | null;
  error?: { name: string; message: string };
  /** Its plan's policy checks (absent: none ran). */
  policy?: ProjectPolicy;
}

export interface CollectedProjects {
  /** Whether any project failed: the run then fails, whatever the others did. */
  failed: boolean;
  hasChanges: boolean;
  /** The counts of every project, added up. */
  summary: ProjectReport['summary'];
  projects: ProjectReport[];
  /** The first failure, in execution order, as the Fail state and the outcome carry it. */
  error?: { Error: string; Cause: string };
  /**
   * Whether a policy set with `on_failure: block` failed on a project's plan: the run stops
   * before its approval (the Choice after HasChanges / AnyPlanFailed), with `policyError`.
   */
  policyBlocked: boolean;
  policyError?: { Error: 'PolicyBlocked'; Cause: string };
  /**
   * When blocked and someone may override: the blocking sets and their common owners. The
   * run then waits for an owner's override (RequestPolicyOverride) instead of ending.
   */
  policyOverride?: { blockedBy: string[]; owners: string[] };
  /**
   * What an approval of the run approves (RequestApproval's `plan`): a project's own plan, or
   * for several one digest over theirs. Absent when no project has a plan.
   */
  plan?: { dir: string; sha256: string };
}

export const ZERO_COUNTS: ProjectReport['summary'] = {
  add: 0,
  change: 0,
  destroy: 0,
  replace: 0,
  import: 0,
};

/**
 * A project's report before anything of it ran (status not_started): its place in the run and
 * its settings (the run's RunProject of that name), no counts, no outputs, no times. The layer
 * loops start from it and fill in what an outcome says.
 */
export function unstartedReport(
  project: { name: string; dir: string; layer: number },
  own: RunProject | undefined,
): ProjectReport {
  return {
    name: project.name,
    dir: project.dir,
    layer: project.layer,
    workspace: own?.workspace ?? null,
    varFiles: [...(own?.varFiles ?? [])],
    status: 'not_started',
    hasChanges: false,
    summary: { ...ZERO_COUNTS },
    outputs: {},
    startedAt: null,
    finishedAt: null,
  };
}

/** A Catch's error as a report keeps it: its name, and its cause (else its name) as message. */
export function reportedError(error: { Error: string; Cause?: string | undefined }): {
  name: string;
  message: string;
} {
  return { name: error.Error, message: error.Cause ?? error.Error };
}

/** A project's error as the run's error: in a run of several, its Cause names the project. */
export function projectError(
  name: string,
  error: { Error: string; Cause?: string | undefined },
  projectCount: number,
): { Error: string; Cause?: string } {
  return {
    Error: error.Error,
    Cause: projectCount > 1 ? `${name}: ${error.Cause ?? error.Error}` : error.Cause,
  };
}

/** The counts of every project, added up. */
export function totalOf(
  projects: readonly Pick<ProjectReport, 'summary'>[],
): ProjectReport['summary'] {
  const summary = { ...ZERO_COUNTS };
  for (const project of projects) {
    for (const key of Object.keys(summary) as (keyof typeof summary)[]) {
      summary[key] += project.summary[key];
    }
  }
  return summary;
}

/** Gathers the iterations' outputs: per project, totals, and whether the run failed. */
export function collectProjects(
  outcomes: unknown,
  runProjects: readonly RunProject[],
  policies: readonly Pick<PolicyConfig, 'name' | 'owners'>[] = [],
): CollectedProjects {
  const parsed = parseInput(z.array(PROJECT_OUTCOME).min(1), outcomes, 'projects');
  const settings = new Map(runProjects.map((p) => [p.name, p]));
  const projects = parsed.map((outcome): ProjectReport => {
    const own = settings.get(outcome.name);
    const base = {
      name: outcome.name,
      dir: outcome.dir,
      layer: outcome.layer,
      workspace: own?.workspace ?? null,
      varFiles: [...(own?.varFiles ?? [])],
    };
    if (outcome.status === 'failed') {
      const { Error: name, Cause: message } = outcome.error;
      return {
        ...base,
        status: 'failed',
        hasChanges: false,
        summary: { ...ZERO_COUNTS },
        outputs: {},
        startedAt: null,
        finishedAt: null,
        error: { name, message: message ?? name },
      };
    }
    const { add, change, destroy, replace, import: imports } = outcome.result.summary;
    return {
      ...base,
      status: outcome.status,
      hasChanges: outcome.result.hasChanges,
      summary: { add, change, destroy, replace, import: imports },
      resultLocation: outcome.result.resultLocation,
      outputs: outcome.result.outputs,
      startedAt: outcome.result.startedAt ?? null,
      finishedAt: outcome.result.finishedAt ?? null,
      ...(outcome.result.policy === undefined ? {} : { policy: outcome.result.policy }),
    };
  });
  const blocked = projects.filter((p) => p.policy?.outcome === 'blocked');
  const summary = totalOf(projects);
  const failures = projects.filter((p) => p.status === 'failed');
  const plans = parsed.flatMap((outcome) =>
    outcome.status === 'planned' && outcome.result.plan !== undefined
      ? [{ name: outcome.name, ...outcome.result.plan }]
      : [],
  );
  const plan = approvalPlanOf(plans, parsed.length);
  const blockedBy = [...new Set(blocked.flatMap((p) => p.policy?.blockedBy ?? []))];
  const owners = overrideOwners(policies, blockedBy);
  return {
    failed: failures.length > 0,
    hasChanges: projects.some((p) => p.hasChanges),
    summary,
    projects,
    ...(failures.length === 0 ? {} : { error: firstFailure(failures, projects.length) }),
    ...(plan === undefined ? {} : { plan }),
    policyBlocked: blocked.length > 0,
    ...(blocked.length === 0 ? {} : { policyError: policyError(blocked) }),
    ...(owners.length === 0 ? {} : { policyOverride: { blockedBy, owners } }),
  };
}

/** Why the run stops: each blocked project, the sets that block it and its counts. */
function policyError(blocked: readonly ProjectReport[]): { Error: 'PolicyBlocked'; Cause: string } {
  const lines = blocked.map((project) => {
    const policy = project.policy;
    const sets = policy?.blockedBy.join(', ') ?? '';
    return `${project.name}: blocked by ${sets} (${policy?.deny ?? 0} deny, ${policy?.warn ?? 0} warn)`;
  });
  return {
    Error: 'PolicyBlocked',
    Cause: `policy checks failed, nothing was applied: ${lines.join('; ')}`,
  };
}

/**
 * A run of one project approves its plan's digest; a run of several one digest over each
 * project's (by name), so that any plan changing changes it. Its folder: the run's artifacts.
 */
export function approvalPlanOf(
  plans: readonly { name: string; dir: string; sha256: string }[],
  projectCount: number,
): { dir: string; sha256: string } | undefined {
  const [first] = plans;
  if (first === undefined) return undefined;
  if (projectCount === 1) return { dir: first.dir, sha256: first.sha256 };
  const lines = [...plans]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((plan) => `${plan.name} ${plan.sha256}\n`);
  return {
    dir: dirname(dirname(first.dir)),
    sha256: createHash('sha256').update(lines.join(''), 'utf8').digest('hex'),
  };
}

/** The first failure as the run's error; in a run of several projects, named by project. */
function firstFailure(
  failures: readonly ProjectReport[],
  projectCount: number,
): { Error: string; Cause: string } {
  const [first, ...others] = failures;
  const error = first?.error ?? { name: 'JobFailed', message: 'a project failed' };
  if (projectCount === 1) return { Error: error.name, Cause: error.message };
  const also = others.length > 0 ? ` (also failed: ${others.map((p) => p.name).join(', ')})` : '';
  return { Error: error.name, Cause: `${first?.name ?? ''}: ${error.message}${also}` };
}
