// The drift workflow's logic: which projects a drift run plans (each one's last applied
// commit) and which it skips (never applied, or locked by a live run), what each plan says
// (drifted, no drift, drift cleared), and the one code-host issue per environment and project
// that tells of it. Pure, but for the ports it is handed.
import { z } from 'zod';
import { COMMIT_SHA, PROJECT_DIR } from './contracts/job-input.ts';
import { RUN_INPUT, type RunContext } from './contracts/workflow-input.ts';
import type { PlanDiff } from './plan-diff.ts';
import type { PlanSummary } from './plan-summary.ts';
import type { CodeHostPort, LockPort, RecordPort } from './ports.ts';
import { renderPrComment } from './pr-comment.ts';
import {
  CAUGHT,
  COUNTS,
  PROJECT_REF,
  type ProjectReport,
  ZERO_COUNTS,
  totalOf,
} from './project-results.ts';
import type { PreparedRun } from './run.ts';
import { parseInput } from './validation.ts';

/** The label every drift issue carries: how it is found again. */
export const DRIFT_LABEL = 'stepform-drift';

/** One issue per environment and project, found again by this title and DRIFT_LABEL. */
export function driftIssueTitle(project: string, environment: string): string {
  return `Drift: ${project} in ${environment}`;
}

/**
 * How a drift run checks one project (PreparedProject's `drift`): it plans `commit`, the
 * project's last applied commit, or skips it, saying why.
 */
export const DRIFT_CHECK = z.strictObject({
  check: z.enum(['plan', 'skip']),
  commit: COMMIT_SHA.nullable(),
  /** Why it is skipped: never applied in the environment, or its lock held by a live run. */
  skipped: z.enum(['never_applied', 'locked']).optional(),
  /** The skip in words (who holds the lock, until when). */
  note: z.string().max(500).optional(),
});
export type DriftCheck = z.output<typeof DRIFT_CHECK>;

/**
 * PrepareRun of a drift run, after prepareRun: each project's plan job is pointed at its last
 * applied commit (RecordPort), or the project is skipped. A drift check takes no lock (a plan
 * changes nothing) but never plans over a live run's lock: that run may be changing the state.
 */
export async function prepareDrift(
  prepared: PreparedRun,
  ports: {
    readonly records: Pick<RecordPort, 'getLastGood'>;
    readonly locks: Pick<LockPort, 'environmentLocks'>;
  },
  now: Date,
): Promise<PreparedRun> {
  const { run } = prepared;
  const live = (await ports.locks.environmentLocks(run.environment)).filter(
    (lock) => lock.owner !== run.runId && lock.expiresAt > now.toISOString(),
  );
  const projects = await Promise.all(
    prepared.projects.map(async (project) => {
      const held = live.find((lock) => lock.project === project.name);
      if (held !== undefined) {
        const drift: DriftCheck = {
          check: 'skip',
          commit: null,
          skipped: 'locked',
          note: `locked by run ${held.owner} until ${held.expiresAt}`,
        };
        return { ...project, drift };
      }
      const lastGood = await ports.records.getLastGood(run.environment, project.dir);
      if (lastGood === undefined) {
        const drift: DriftCheck = {
          check: 'skip',
          commit: null,
          skipped: 'never_applied',
          note: `never applied in ${run.environment}`,
        };
        return { ...project, drift };
      }
      const drift: DriftCheck = { check: 'plan', commit: lastGood.commit };
      const plan = { ...project.jobs.plan, commit: lastGood.commit };
      return { ...project, jobs: { ...project.jobs, plan }, drift };
    }),
  );
  return { ...prepared, projects };
}

const DRIFT_BASE = {
  name: PROJECT_REF,
  dir: PROJECT_DIR,
  layer: z.number().int().min(0),
  drift: DRIFT_CHECK,
};

/** One iteration of the drift workflow's Map (its Pass states build it). */
const DRIFT_OUTCOME = z.discriminatedUnion('status', [
  z.looseObject({
    ...DRIFT_BASE,
    status: z.literal('planned'),
    result: z.looseObject({
      hasChanges: z.boolean(),
      summary: COUNTS,
      resultLocation: z.string().min(1),
    }),
  }),
  z.looseObject({ ...DRIFT_BASE, status: z.literal('failed'), error: CAUGHT }),
  z.looseObject({ ...DRIFT_BASE, status: z.literal('skipped') }),
]);

export const DRIFT_STATUSES = ['drifted', 'no_drift', 'skipped', 'failed'] as const;
export type DriftStatus = (typeof DRIFT_STATUSES)[number];

/** What a drift run keeps and tells of one project. */
export interface DriftReport {
  name: string;
  dir: string;
  layer: number;
  status: DriftStatus;
  /** The commit planned (its last applied one); null when it was skipped. */
  commit: string | null;
  /** The previous check had drift and this one has none. */
  cleared: boolean;
  hasChanges: boolean;
  summary: ProjectReport['summary'];
  resultLocation?: string;
  /** Why it was skipped. */
  note?: string;
  error?: { name: string; message: string };
}

export interface CollectedDrift {
  failed: boolean;
  /** Some project drifted. */
  drifted: boolean;
  /** Some project's drift is gone (and none drifted). */
  cleared: boolean;
  summary: ProjectReport['summary'];
  projects: DriftReport[];
  /** The first failure, as the Fail state carries it. */
  error?: { Error: string; Cause: string };
}

export const DRIFT_REPORT = z.looseObject({
  name: PROJECT_REF,
  dir: PROJECT_DIR,
  layer: z.number().int().min(0),
  status: z.enum(DRIFT_STATUSES),
  commit: COMMIT_SHA.nullable(),
  cleared: z.boolean(),
  hasChanges: z.boolean(),
  summary: COUNTS,
  resultLocation: z.string().min(1).optional(),
  note: z.string().optional(),
  error: z.looseObject({ name: z.string(), message: z.string() }).optional(),
});

/** CollectDrift's output, as Notify and Record read it. */
export const COLLECTED_DRIFT = z.looseObject({
  failed: z.boolean(),
  drifted: z.boolean(),
  cleared: z.boolean(),
  projects: z.array(DRIFT_REPORT),
});

const COLLECT_DRIFT_INPUT = z.strictObject({ drift: z.array(z.unknown()).min(1), run: RUN_INPUT });

/**
 * CollectDrift: each project's plan read as drift (its plan of the last applied commit has
 * changes), drift cleared when the previous check (RecordPort) had drift and this one none.
 */
export async function collectDrift(
  input: unknown,
  records: Pick<RecordPort, 'getDrift'>,
): Promise<CollectedDrift> {
  const { drift, run } = parseInput(COLLECT_DRIFT_INPUT, input, 'collect');
  const outcomes = parseInput(z.array(DRIFT_OUTCOME), drift, 'collect.drift');
  const projects = await Promise.all(
    outcomes.map(async (outcome): Promise<DriftReport> => {
      const base = {
        name: outcome.name,
        dir: outcome.dir,
        layer: outcome.layer,
        commit: outcome.drift.commit,
        summary: { ...ZERO_COUNTS },
        hasChanges: false,
        cleared: false,
      };
      switch (outcome.status) {
        case 'skipped':
          return {
            ...base,
            status: 'skipped',
            ...(outcome.drift.note === undefined ? {} : { note: outcome.drift.note }),
          };
        case 'failed':
          return {
            ...base,
            status: 'failed',
            error: {
              name: outcome.error.Error,
              message: outcome.error.Cause ?? outcome.error.Error,
            },
          };
        case 'planned': {
          const { add, change, destroy, replace, import: imports } = outcome.result.summary;
          const drifted = outcome.result.hasChanges;
          const previous = drifted ? undefined : await records.getDrift(run.environment, base.dir);
          return {
            ...base,
            status: drifted ? 'drifted' : 'no_drift',
            hasChanges: drifted,
            cleared: previous?.drifted === true,
            summary: { add, change, destroy, replace, import: imports },
            resultLocation: outcome.result.resultLocation,
          };
        }
      }
    }),
  );
  const failures = projects.filter((project) => project.status === 'failed');
  const [first] = failures;
  const drifted = projects.some((project) => project.status === 'drifted');
  return {
    failed: first !== undefined,
    drifted,
    cleared: !drifted && projects.some((project) => project.cleared),
    summary: totalOf(projects),
    projects,
    ...(first?.error === undefined
      ? {}
      : {
          error: {
            Error: first.error.name,
            Cause:
              projects.length > 1 ? `${first.name}: ${first.error.message}` : first.error.message,
          },
        }),
  };
}

/**
 * Record of a drift run: each checked project's drift state, so that the next check can tell
 * drift_cleared. A skipped or failed project keeps the state it had.
 */
export async function recordDrift(
  run: Pick<RunContext, 'environment' | 'runId'>,
  projects: readonly z.output<typeof DRIFT_REPORT>[],
  records: Pick<RecordPort, 'setDrift'>,
  at: string,
): Promise<void> {
  for (const project of projects) {
    if ((project.status !== 'drifted' && project.status !== 'no_drift') || project.commit === null)
      continue;
    await records.setDrift(run.environment, project.dir, {
      drifted: project.status === 'drifted',
      commit: project.commit,
      runId: run.runId,
      at,
    });
  }
}

/** The code host's issue operations a drift report uses. */
export type DriftIssueHost = Pick<
  CodeHostPort,
  'findOpenIssue' | 'createIssue' | 'updateIssue' | 'commentOnIssue'
>;

export interface DriftIssueAction {
  readonly project: string;
  readonly issue: number;
  readonly action: 'opened' | 'updated' | 'closed';
}

/** What the issue of a drifted project shows: its plan, as the PR comment renders one. */
export interface DriftedPlan {
  readonly summary?: PlanSummary;
  readonly diff?: PlanDiff;
}

/**
 * The issue of one project after its check: opened on drift, its body replaced with the
 * latest plan while the drift lasts (the one open issue, never a second), closed with a
 * comment once the drift is gone. Nothing for a project that was skipped or failed, or had
 * no drift and no open issue.
 */
export async function reportDriftIssue(
  host: DriftIssueHost,
  run: Pick<RunContext, 'environment' | 'runId'>,
  project: z.output<typeof DRIFT_REPORT>,
  plan: DriftedPlan,
): Promise<DriftIssueAction | undefined> {
  if (project.status !== 'drifted' && project.status !== 'no_drift') return undefined;
  const title = driftIssueTitle(project.name, run.environment);
  const open = await host.findOpenIssue(DRIFT_LABEL, title);
  if (project.status === 'no_drift') {
    if (open === undefined) return undefined;
    await host.commentOnIssue(
      open.number,
      `No drift any more: run \`${run.runId}\` planned ${project.commit ?? 'the last applied commit'} with no changes.`,
    );
    await host.updateIssue(open.number, { state: 'closed' });
    return { project: project.name, issue: open.number, action: 'closed' };
  }
  const body = renderPrComment({
    workflow: 'drift',
    environment: run.environment,
    projectDir: project.dir,
    commit: project.commit ?? '',
    runId: run.runId,
    status: 'drifted',
    ...(plan.summary === undefined ? {} : { summary: plan.summary }),
    ...(plan.diff === undefined ? {} : { diff: plan.diff }),
    ...(project.resultLocation === undefined ? {} : { artifactLocation: project.resultLocation }),
  });
  if (open !== undefined) {
    await host.updateIssue(open.number, { body });
    return { project: project.name, issue: open.number, action: 'updated' };
  }
  const created = await host.createIssue({ title, body, labels: [DRIFT_LABEL] });
  return { project: project.name, issue: created.number, action: 'opened' };
}
