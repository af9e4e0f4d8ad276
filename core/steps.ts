// The Task states' logic, once: each step parses its input with zod, calls the pure core and
// talks to the world only through ports. The local engine's adapters and the AWS Lambda
// handlers are both thin wrappers over these functions.
import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ENVIRONMENT_NAME, JOB, RUN_ID } from './contracts/job-input.ts';
import {
  APPROVER_NAME,
  type ApprovalAction,
  type ApprovalRecord,
  type ApprovalSubject,
  approvalLink,
  assertStillOpen,
  decideApproval,
  decidersOf,
  linkDecider,
  newApprovalId,
  verifyApprovalLink,
} from './approval.ts';
import {
  ApprovalAlreadyDecided,
  DefaultBranchCheckFailed,
  InvalidInput,
  LockNotOwned,
  NotAnApprover,
  NotFound,
  UnmergedCommit,
  describeError,
} from './errors.ts';
import type { ApprovalChannel } from './decision-actor.ts';
import { DEFAULT_LOCK_TTL_MS, type LockRecord, lockProjectNames } from './locks.ts';
import { overrideOwners } from './policy.ts';
import type {
  ApprovalPort,
  ArtifactPort,
  CodeHostPort,
  LockPort,
  RecordPort,
  RunPort,
  SchedulePort,
  StoredApproval,
  TaskCallbackPort,
} from './ports.ts';
import {
  type CollectedResult,
  type JobSettings,
  OUTCOMES,
  type Outcome,
  type PreparedRun,
  type RollbackPlan,
  collectJobResult,
  environmentStatusAfter,
  planRollback,
  prepareRun,
  setsLastGood,
} from './run.ts';
import {
  RUN_INPUT,
  type RunContext,
  type Workflow,
  runProjects,
} from './contracts/workflow-input.ts';
import { type ApplyProgress, nextLayer } from './apply-layers.ts';
import { type DestroyProgress, nextDestroyLayer } from './destroy-layers.ts';
import { type CreateProgress, nextCreateLayer } from './ephemeral-layers.ts';
import {
  COUNTS,
  type CollectedProjects,
  PROJECT_STATUSES,
  type ProjectStatus,
  collectProjects,
} from './project-results.ts';
import type { NotifyInput } from './notify.ts';
import { COLLECTED_DRIFT, recordDrift } from './drift.ts';
import { resolveCommand } from './terraform-commands.ts';
import { parseInput } from './validation.ts';

/** Lock* and Unlock*: the run, its environment and its projects (PrepareRun's lockProjects). */
const LOCK_INPUT = z.strictObject({
  runId: z.string().min(1),
  environment: z.string().min(1),
  projects: z.array(z.string().min(1)).min(1),
});
const COLLECT_INPUT = z.strictObject({ job: JOB });
const COLLECT_PROJECTS_INPUT = z.strictObject({
  projects: z.array(z.unknown()),
  run: RUN_INPUT,
});
const RECORD_INPUT = z.looseObject({
  run: RUN_INPUT,
  outcome: z.enum(OUTCOMES),
  schedule: z.looseObject({ fireAt: z.string().nullable() }).optional(),
  /** The applied result: its outputs (sensitive ones already masked) are kept with the run. */
  apply: z.looseObject({ outputs: z.record(z.string(), z.unknown()) }).optional(),
  /** A command run's result: what ran and its masked output, kept with the run. */
  command: z
    .strictObject({
      name: z.string(),
      args: z.array(z.string()),
      output: z.string(),
      cut: z.boolean(),
    })
    .optional(),
  rollback: z.unknown().optional(),
  error: z.unknown().optional(),
  /** A drift run (CollectDrift's output): each project's check, and its drift state. */
  drift: COLLECTED_DRIFT.optional(),
  /** A run of projects (CollectProjects' output): each project's report is kept with the run. */
  projects: z
    .looseObject({
      projects: z.array(
        z.looseObject({ name: z.string(), dir: z.string(), status: z.enum(PROJECT_STATUSES) }),
      ),
    })
    .optional(),
});
const ROLLBACK_INPUT = z.looseObject({ run: RUN_INPUT, job: JOB });
const SCHEDULE_INPUT = z.strictObject({ action: z.enum(['upsert', 'delete']), run: RUN_INPUT });
/** What a command run asks to approve: the command and its arguments, as they will run. */
export const APPROVED_COMMAND = z.strictObject({
  name: z.string().min(1),
  args: z.array(z.string()),
});
export type ApprovedCommand = z.output<typeof APPROVED_COMMAND>;

/**
 * An approval is for a plan (plan-apply: its digest is what gets approved), in a command run
 * for the command (its args, as the run input has them: the digest of those is kept), or in
 * a destroy for the destroy job (what it destroys: see destroyDigest).
 */
const APPROVAL_REQUEST_INPUT = z
  .looseObject({
    taskToken: z.string().min(1),
    /** The waiting execution: the approval endpoint asks whether it still runs. */
    executionArn: z.string().min(1).optional(),
    run: RUN_INPUT,
    plan: z
      .looseObject({
        plan: z.strictObject({ dir: z.string(), sha256: z.string() }),
        /** CollectPlans' projects: what the approval page lists. */
        projects: z
          .array(
            z.looseObject({
              name: z.string(),
              dir: z.string(),
              hasChanges: z.boolean().optional(),
              summary: COUNTS,
              resultLocation: z.string().min(1).optional(),
            }),
          )
          .optional(),
      })
      .optional(),
    command: z.strictObject({ args: z.array(z.string()).min(1) }).optional(),
    /** A destroy: PrepareRun's projects, each with its destroy job. */
    destroy: z
      .strictObject({
        projects: z
          .array(
            z.looseObject({
              name: z.string().optional(),
              dir: z.string(),
              jobs: z.looseObject({ destroy: JOB }),
            }),
          )
          .min(1),
      })
      .optional(),
    /**
     * A policy override of the plan (CollectPlans' policyOverride): who may give it is
     * worked out again from the run's policies, not taken from here.
     */
    policyOverride: z
      .looseObject({ blockedBy: z.array(z.string().min(1)).min(1).max(16) })
      .optional(),
  })
  .refine(
    (request) =>
      [request.plan, request.command, request.destroy].filter((x) => x !== undefined).length === 1,
    {
      message: 'an approval is for exactly one of a plan, a command and a destroy',
      path: ['plan'],
    },
  )
  .refine((request) => request.policyOverride === undefined || request.plan !== undefined, {
    message: 'a policy override is of a plan',
    path: ['policyOverride'],
  });

/** What a destroy's approval is for: the environment and commit, and each project it destroys. */
export interface ApprovedDestroy {
  readonly environment: string;
  readonly commit: string;
  readonly projects: readonly {
    readonly projectDir: string;
    readonly workspace?: string;
    readonly varFiles: readonly string[];
  }[];
}

/**
 * The digest an approval of a destroy keeps in place of a plan's: of what the destroy jobs
 * destroy (environment, commit, and each project's folder, workspace and var files), so an
 * approval is never good for another environment, project or commit.
 */
export function destroyDigest(destroy: ApprovedDestroy): string {
  const covered = {
    kind: 'destroy',
    environment: destroy.environment,
    commit: destroy.commit,
    projects: [...destroy.projects]
      .map((project) => ({
        projectDir: project.projectDir,
        workspace: project.workspace ?? null,
        varFiles: [...project.varFiles],
      }))
      .sort((a, b) => (a.projectDir < b.projectDir ? -1 : a.projectDir > b.projectDir ? 1 : 0)),
  };
  return createHash('sha256').update(JSON.stringify(covered), 'utf8').digest('hex');
}

/** The digest an approval of a command keeps in place of a plan's: of its exact arguments. */
export function commandDigest(args: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(args), 'utf8').digest('hex');
}

/** PrepareRun. */
export function prepareStep(
  input: unknown,
  settings: JobSettings,
  allowAutoApprove = false,
): PreparedRun {
  const { input: runInput } = parseInput(z.strictObject({ input: z.unknown() }), input, 'prepare');
  return prepareRun(runInput, settings, allowAutoApprove);
}

/**
 * A plan-apply runs only code that is on the default branch, so that a pull-request workflow
 * can never start an apply of unmerged code. Fails closed: a check that cannot be made stops
 * the run (DefaultBranchCheckFailed), as does an unmerged commit (UnmergedCommit).
 */
export async function assertOnDefaultBranch(
  run: RunContext,
  codeHost: Pick<CodeHostPort, 'isOnDefaultBranch'>,
): Promise<void> {
  if (run.workflow !== 'plan-apply') return;
  let merged: boolean;
  try {
    merged = await codeHost.isOnDefaultBranch(run.commit);
  } catch (error) {
    throw new DefaultBranchCheckFailed(
      `cannot check that ${run.commit} is on the default branch: ${describeError(error).message}`,
      { cause: error },
    );
  }
  if (!merged) {
    throw new UnmergedCommit(
      `commit ${run.commit} is not on the default branch: plan-apply runs only merged code`,
    );
  }
}

/**
 * Takes (or renews) the locks of every project, all or none: in lockProjectNames' order, so
 * two runs sharing projects cannot each hold one the other waits for. When one is held by
 * another run, the locks taken in this attempt are released again (those it already held and
 * only renewed stay held) and LockHeld, naming the project and its holder, is thrown.
 */
export async function acquireProjectLocks(
  locks: LockPort,
  request: {
    readonly environment: string;
    readonly projects: readonly string[];
    readonly owner: string;
    readonly now: Date;
    readonly ttlMs: number;
  },
): Promise<LockRecord[]> {
  const { environment, owner, now, ttlMs } = request;
  const projects = lockProjectNames(request.projects);
  // What the run held before this attempt (a renewal) is not given back on a failure.
  const before = new Set(
    (await locks.environmentLocks(environment))
      .filter((lock) => lock.owner === owner)
      .map((lock) => lock.project),
  );
  const taken: string[] = [];
  const held: LockRecord[] = [];
  try {
    for (const project of projects) {
      const lock = await locks.acquire(environment, project, owner, now, ttlMs);
      if (!before.has(project)) taken.push(project);
      held.push(lock);
    }
  } catch (error) {
    for (const project of taken.reverse()) {
      // Best effort: a lock left behind here expires, and the run's end releases it.
      await locks.release(environment, project, owner, now).catch(() => false);
    }
    throw error;
  }
  return held;
}

/** What Lock and holdLockThroughApproval hand on: the owner and the first of the expiries. */
function heldSummary(held: readonly LockRecord[], owner: string) {
  const expiresAt = held.map((lock) => lock.expiresAt).sort()[0] ?? '';
  return { owner, expiresAt };
}

/**
 * LockEnvironment: the locks of all the run's projects in the environment; LockHeld when
 * another run holds one (the workflow retries with backoff).
 */
export async function lockStep(
  input: unknown,
  locks: LockPort,
  now: Date,
): Promise<{ owner: string; expiresAt: string }> {
  const { runId, environment, projects } = parseInput(LOCK_INPUT, input, 'lock');
  const held = await acquireProjectLocks(locks, {
    environment,
    projects,
    owner: runId,
    now,
    ttlMs: DEFAULT_LOCK_TTL_MS,
  });
  return heldSummary(held, runId);
}

const APPROVAL_LOCK_INPUT = z.looseObject({
  run: z.looseObject({
    runId: RUN_ID,
    environment: ENVIRONMENT_NAME,
    approvalTimeoutSeconds: z.number().int().positive(),
    projectDir: z.string().min(1),
    projects: z.array(z.looseObject({ name: z.string().min(1) })).optional(),
  }),
});

/**
 * Before an approval is requested: the run's locks (every project's) are renewed until the
 * approval can no longer be decided, and then for as long as the apply may take. LockHeld
 * when another run took one meanwhile: then nobody is asked to approve.
 */
export async function holdLockThroughApproval(
  input: unknown,
  locks: LockPort,
  now: Date,
): Promise<{ owner: string; expiresAt: string }> {
  const { run } = parseInput(APPROVAL_LOCK_INPUT, input, 'approval');
  const held = await acquireProjectLocks(locks, {
    environment: run.environment,
    // The projects PrepareRun's lockProjects named (runProjects: the list, or the one dir).
    projects: run.projects?.map((project) => project.name) ?? [run.projectDir],
    owner: run.runId,
    now,
    ttlMs: run.approvalTimeoutSeconds * 1000 + DEFAULT_LOCK_TTL_MS,
  });
  return heldSummary(held, run.runId);
}

const EXECUTION_ENDED = z.looseObject({
  detail: z.looseObject({
    status: z.string(),
    input: z.string(),
    /** What Step Functions says ended it (FAILED, TIMED_OUT); absent or null otherwise. */
    error: z.string().nullish(),
    cause: z.string().nullish(),
  }),
});

/**
 * Releases every lock (one per project) a run still holds in its environment after its
 * execution ended without reaching its Unlock state: true when it held any. A lock another
 * run holds by now is left alone.
 */
export async function releaseLeftoverLock(
  locks: LockPort,
  run: { readonly environment: string; readonly runId: string },
  now: Date,
): Promise<boolean> {
  let released = false;
  for (const lock of await locks.environmentLocks(run.environment)) {
    if (lock.owner !== run.runId) continue;
    try {
      if (await locks.release(run.environment, lock.project, run.runId, now)) released = true;
    } catch (error) {
      if (!(error instanceof LockNotOwned)) throw error;
    }
  }
  return released;
}

/**
 * What a run leaves behind when it ends without its own tail (cancelled, interrupted, an error
 * no Catch matches): its lock released (unless another run holds it by now) and its pending
 * approval expired, so that nobody can approve a run that no longer waits. The local engine
 * calls it when a run ends; on AWS, settleEndedExecution does.
 */
export async function releaseRunLeftovers(
  run: { readonly environment: string; readonly runId: string },
  ports: { readonly locks: LockPort; readonly approvals: ApprovalPort },
  now: Date,
): Promise<{ released: boolean; approvalExpired: boolean }> {
  const released = await releaseLeftoverLock(ports.locks, run, now);
  const approval = await ports.approvals.latestForRun(run.runId);
  const approvalExpired =
    approval?.status === 'pending' &&
    (await ports.approvals.decide(approval.id, 'expired', null, now.toISOString()));
  return { released, approvalExpired };
}

/** What settleEndedExecution needs: the stores, and the Notify step over its ports. */
export interface EndedExecutionPorts {
  readonly locks: LockPort;
  readonly approvals: ApprovalPort;
  readonly runs: RunPort & {
    /** The run's merged details ({} when none): its `outcome` once its tail recorded one. */
    getRunDetails(runId: string): Promise<Record<string, unknown>>;
  };
  readonly notify: (input: NotifyInput) => Promise<unknown>;
}

export interface SettledExecution {
  readonly released: boolean;
  readonly runId?: string;
  readonly approvalExpired?: boolean;
  /** The outcome recorded and told here; absent when the run's own tail had recorded one. */
  readonly outcome?: 'cancelled' | 'failed';
}

/**
 * An execution ended ABORTED (`stepform cancel`, StopExecution), TIMED_OUT or FAILED: run by
 * an EventBridge rule on every workflow's status changes. Its lock is released and its pending
 * approval expired; then, unless the run's own tail already recorded an outcome (a workflow
 * ends FAILED after telling of a rejection or a failed apply), the run is recorded `cancelled`
 * (aborted) or `failed` (with the reason) and everyone is told through the Notify step. An
 * abort is told even after an outcome: it stopped whatever the run was doing. A second
 * delivery of the event (EventBridge retries) releases and tells nothing again.
 */
export async function settleEndedExecution(
  event: unknown,
  ports: EndedExecutionPorts,
  now: Date,
): Promise<SettledExecution> {
  const { detail } = parseInput(EXECUTION_ENDED, event, 'event');
  if (!['FAILED', 'TIMED_OUT', 'ABORTED'].includes(detail.status)) return { released: false };
  let input: unknown;
  try {
    input = JSON.parse(detail.input);
  } catch {
    throw new InvalidInput('event.detail.input', 'is not JSON');
  }
  const owner = parseInput(
    z.looseObject({ runId: z.string().min(1), environment: z.string().min(1) }),
    input,
    'event.detail.input',
  );
  const { released, approvalExpired } = await releaseRunLeftovers(owner, ports, now);
  const settled = { released, runId: owner.runId, approvalExpired };
  // An input PrepareRun refused is no run anybody can be told about.
  const run = RUN_INPUT.safeParse(input);
  if (!run.success) return settled;
  const aborted = detail.status === 'ABORTED';
  // A cancel is told even after the run's own outcome (it stopped what came after); a retried
  // delivery of the same event finds it recorded and tells nobody twice.
  const recorded = (await ports.runs.getRunDetails(owner.runId)).outcome;
  if (aborted ? recorded === 'cancelled' : recorded !== undefined) return settled;
  const error = aborted
    ? { Error: 'RunCancelled', Cause: 'the execution was stopped (stepform cancel)' }
    : {
        Error: detail.error ?? (detail.status === 'TIMED_OUT' ? 'States.Timeout' : 'Failed'),
        Cause: detail.cause ?? `the execution ended ${detail.status}`,
      };
  const outcome = aborted ? 'cancelled' : 'failed';
  // Told first, recorded last: the outcome is what a watching CLI waits for, and by then the
  // phase the status event wrote is there too. A notify that throws still records it.
  try {
    await ports.notify({ run: run.data, phase: outcome, error });
  } finally {
    await ports.runs.addRunDetails(owner.runId, { outcome, error });
  }
  return { ...settled, outcome };
}

/** Unlock*: releases the locks of all the run's projects. */
export async function unlockStep(
  input: unknown,
  locks: LockPort,
  now: Date,
): Promise<{ released: true }> {
  const { runId, environment, projects } = parseInput(LOCK_INPUT, input, 'unlock');
  for (const project of lockProjectNames(projects)) {
    await locks.release(environment, project, runId, now);
  }
  return { released: true };
}

/**
 * Collect*: the executor's result.json as the step's output, or JobFailed / NothingApplied /
 * JobLost. Given a Map state's `projects` (each iteration's outcome) instead of a `job`: those
 * gathered (CollectProjects), which fails nothing itself: the workflow's Choice decides. Given
 * `applying` (NextLayer): the layer just applied folded in, and the next one (apply-layers.ts);
 * `destroying` (NextDestroyLayer): the same for a destroy, layers in reverse (destroy-layers.ts);
 * `creating` (NextCreateLayer): an ephemeral environment's projects, layer by layer
 * (ephemeral-layers.ts).
 */
export async function collectStep(
  input: unknown,
  artifacts: ArtifactPort,
): Promise<CollectedResult | CollectedProjects | ApplyProgress | DestroyProgress | CreateProgress> {
  if (typeof input === 'object' && input !== null && 'applying' in input) return nextLayer(input);
  if (typeof input === 'object' && input !== null && 'destroying' in input)
    return nextDestroyLayer(input);
  if (typeof input === 'object' && input !== null && 'creating' in input)
    return nextCreateLayer(input);
  if (typeof input === 'object' && input !== null && 'projects' in input) {
    const { projects, run } = parseInput(COLLECT_PROJECTS_INPUT, input, 'collect');
    return collectProjects(projects, runProjects(run), run.policies);
  }
  const { job } = parseInput(COLLECT_INPUT, input, 'collect');
  return collectJobResult(job, await artifacts.readResult(job.artifactsDir));
}

/** Record*: last good commit, environment status and the run's details, by outcome. */
export async function recordStep(
  input: unknown,
  ports: { readonly records: RecordPort; readonly runs: RunPort },
  now: Date,
): Promise<{ recorded: string }> {
  const { run, outcome, schedule, apply, command, rollback, error, projects, drift } = parseInput(
    RECORD_INPUT,
    input,
    'record',
  );
  const { records, runs } = ports;
  const at = now.toISOString();
  // A drift check changes no environment: it keeps each project's drift state, and its report.
  if (drift !== undefined) {
    await recordDrift(run, drift.projects, records, at);
    await runs.addRunDetails(run.runId, {
      outcome,
      projects: drift.projects,
      ...(error === undefined ? {} : { error }),
    });
    return { recorded: outcome };
  }
  // Each project's record by how it ended: in a run of several, one may have applied while
  // another rolled back, and a project of a later layer that never started keeps its own.
  const ended =
    projects === undefined
      ? [{ dir: run.projectDir, outcome }]
      : projects.projects.flatMap((project) => {
          const own = projectOutcome(project.status, outcome, run.workflow);
          return own === undefined ? [] : [{ dir: project.dir, outcome: own }];
        });
  for (const project of ended) {
    if (setsLastGood(project.outcome)) {
      await records.setLastGood(run.environment, project.dir, {
        commit: run.commit,
        runId: run.runId,
        at,
      });
    }
    const status = environmentStatusAfter(project.outcome);
    if (status) {
      await records.setEnvironment({
        environment: run.environment,
        projectDir: project.dir,
        status,
        ttlExpiresAt: schedule?.fireAt ?? null,
        lastRunId: run.runId,
        updatedAt: at,
      });
    }
  }
  await runs.addRunDetails(run.runId, {
    outcome,
    // Who overrode a blocking policy, when, where and why: kept with the run it let through.
    ...(run.policyOverride === undefined ? {} : { policyOverride: run.policyOverride }),
    ...(apply === undefined ? {} : { outputs: apply.outputs }),
    ...(command === undefined ? {} : { command }),
    ...(schedule === undefined ? {} : { schedule }),
    ...(rollback === undefined ? {} : { rollback }),
    ...(error === undefined ? {} : { error }),
    // A run of one project without reports: what it covered, under its name in stepform.yaml.
    ...(projects !== undefined
      ? { projects: projects.projects }
      : run.projects === undefined
        ? {}
        : { covered: run.projects }),
  });
  return { recorded: outcome };
}

/**
 * How a project's part of a run ended, as Record keeps it: its own status after an apply, the
 * run's outcome otherwise (a plan's projects share it); nothing for one that never started.
 * An ephemeral run's applied projects are live ephemeral environments (`active`, no last good
 * commit, as a run of one project records them); a failed one reports the cleanup, where a
 * project whose cleanup never started still holds what its apply created (failed-destroy).
 */
function projectOutcome(
  status: ProjectStatus,
  outcome: Outcome,
  workflow: Workflow,
): Outcome | undefined {
  switch (status) {
    case 'applied':
      return workflow === 'ephemeral' && outcome === 'active' ? 'active' : status;
    case 'no_changes':
    case 'rolled_back':
    case 'rollback_failed':
    case 'destroyed':
    case 'destroy_failed':
      return status;
    case 'not_started':
      return workflow === 'ephemeral' && outcome === 'destroy_failed'
        ? 'destroy_failed'
        : undefined;
    case 'planned':
    case 'failed':
      return outcome;
  }
}

/** DecideRollback: the last good commit's plan-apply job, or NoRollbackTarget. */
export async function rollbackStep(input: unknown, records: RecordPort): Promise<RollbackPlan> {
  const { run, job } = parseInput(ROLLBACK_INPUT, input, 'rollback');
  const lastGood = await records.getLastGood(run.environment, run.projectDir);
  return planRollback(run, job, lastGood?.commit);
}

/** ScheduleDestroy / DeleteSchedule: a one-time destroy at now + TTL. */
export async function scheduleStep(
  input: unknown,
  schedules: SchedulePort,
  now: Date,
): Promise<{ fireAt: string } | { deleted: true }> {
  const { action, run } = parseInput(SCHEDULE_INPUT, input, 'schedule');
  if (action === 'delete') {
    await schedules.remove(run.environment, run.projectDir);
    return { deleted: true };
  }
  if (run.ttlSeconds === undefined)
    throw new InvalidInput('schedule.run.ttlSeconds', 'is required to schedule');
  const fireAt = new Date(now.getTime() + run.ttlSeconds * 1000).toISOString();
  await schedules.upsert({
    environment: run.environment,
    projectDir: run.projectDir,
    repository: run.repository,
    commit: run.commit,
    fireAt,
    createdBy: run.runId,
    ...(run.protectedEnvironment === true ? { protectedEnvironment: true } : {}),
    // Their names, workspaces, var files and layers: the scheduled destroy covers exactly them.
    ...(run.projects === undefined ? {} : { projects: run.projects }),
  });
  return { fireAt };
}

/** One approver's own approve / reject links: whoever holds them decides as that approver. */
export interface ApproverLinks {
  readonly approver: string;
  readonly approve: string;
  readonly reject: string;
}

export interface ApprovalRequestResult {
  readonly run: RunContext;
  readonly approval: StoredApproval;
  /** The bare links, for anyone who holds them: only when there is no approver list. */
  readonly links?: { approve: string; reject: string };
  /**
   * With an approver list, one link pair per approver, each signed with its approver's name.
   * Private to each approver: never put them where the others can read them.
   */
  readonly approverLinks?: readonly ApproverLinks[];
  /** A policy override: the blocking sets, and the owners who were sent links. */
  readonly policyOverride?: { readonly blockedBy: string[]; readonly owners: string[] };
  /** The collected plan the approval is for (its result location, for the notification). */
  readonly plan?: z.output<typeof APPROVAL_REQUEST_INPUT>['plan'];
  /** Or, in a command run, the command it is for. */
  readonly command?: ApprovedCommand;
  /** Or, in a destroy, what it destroys. */
  readonly destroy?: ApprovedDestroy;
}

/**
 * RequestApproval: stores the approval with the waiting task's token and makes the signed
 * approve / reject links: bare ones without an approver list, one pair per approver with one.
 * The token stays in the store; links carry only id, action, expiry (and approver).
 */
export async function requestApprovalStep(
  input: unknown,
  approvals: ApprovalPort,
  options: {
    now: Date;
    signingKey: string | Buffer;
    baseUrl: string;
    taskToken?: string;
    /** When set, only these may decide, each with the links made for them. */
    approvers?: readonly string[];
  },
): Promise<ApprovalRequestResult> {
  const request = parseInput(APPROVAL_REQUEST_INPUT, input, 'approval');
  const { run, plan, taskToken, executionArn } = request;
  let command: ApprovedCommand | undefined;
  if (request.command !== undefined) {
    // Only the run's own command may be approved in its name.
    if (JSON.stringify(request.command.args) !== JSON.stringify(run.args))
      throw new InvalidInput('approval.command.args', "are not the run's command");
    const resolved = resolveCommand(request.command.args);
    command = { name: resolved.name, args: [...resolved.userArgs] };
  }
  let destroy: ApprovedDestroy | undefined;
  if (request.destroy !== undefined) {
    // Only the run's own destroy jobs may be approved in its name: one per project of the run.
    const dirs = new Set(runProjects(run).map((project) => project.dir));
    const projects = request.destroy.projects.map(({ dir, jobs: { destroy: job } }, index) => {
      const mismatch = (['runId', 'environment', 'commit'] as const).find(
        (field) => job[field] !== run[field],
      );
      const field =
        job.verb !== 'destroy'
          ? 'verb'
          : (mismatch ?? (job.projectDir !== dir || !dirs.has(dir) ? 'projectDir' : undefined));
      if (field !== undefined)
        throw new InvalidInput(
          `approval.destroy.projects.${index}.jobs.destroy.${field}`,
          "is not the run's destroy job",
        );
      return {
        projectDir: job.projectDir,
        ...(job.workspace === undefined ? {} : { workspace: job.workspace }),
        varFiles: [...job.varFiles],
      };
    });
    destroy = { environment: run.environment, commit: run.commit, projects };
  }
  const override = policyOverrideOf(request);
  const subject = approvalSubject(request, command, override);
  const id = newApprovalId();
  const expiresAt = new Date(options.now.getTime() + run.approvalTimeoutSeconds * 1000);
  const approval: StoredApproval = {
    id,
    runId: run.runId,
    taskToken: options.taskToken ?? taskToken,
    ...(executionArn === undefined ? {} : { executionArn }),
    environment: run.environment,
    projectDir: run.projectDir,
    commit: run.commit,
    planSha256: plan
      ? plan.plan.sha256
      : destroy
        ? destroyDigest(destroy)
        : commandDigest(request.command?.args ?? []),
    subject,
    status: 'pending',
    requestedAt: options.now.toISOString(),
    expiresAt: expiresAt.toISOString(),
  };
  // An override is decided by the blocking policies' owners, each with links of their own.
  const approvers = (override?.owners ?? options.approvers)?.map((name, index) =>
    parseInput(APPROVER_NAME, name.trim(), `approvers.${index}`),
  );
  const link = (action: ApprovalAction, approver?: string) =>
    approvalLink(
      options.baseUrl,
      { id, action, expiresAt, ...(approver === undefined ? {} : { approver }) },
      options.signingKey,
    );
  // Made before the approval is stored, so a bad base URL or name stores nothing.
  const made =
    approvers === undefined
      ? { links: { approve: link('approve'), reject: link('reject') } }
      : {
          approverLinks: approvers.map((approver) => ({
            approver,
            approve: link('approve', approver),
            reject: link('reject', approver),
          })),
        };
  await approvals.create(approval);
  return {
    run,
    approval,
    ...(override === undefined ? {} : { policyOverride: override }),
    ...(plan === undefined ? {} : { plan }),
    ...(command === undefined ? {} : { command }),
    ...(destroy === undefined ? {} : { destroy }),
    ...made,
  };
}

/**
 * The blocking sets a policy override is asked for, and who may give it: the owners, in the
 * run's policies, of every one of them. InvalidInput on `approval.policyOverride.blockedBy`
 * when nobody may (the workflow asks only when someone may).
 */
function policyOverrideOf(
  request: z.output<typeof APPROVAL_REQUEST_INPUT>,
): { blockedBy: string[]; owners: string[] } | undefined {
  if (request.policyOverride === undefined) return undefined;
  const blockedBy = [...new Set(request.policyOverride.blockedBy)];
  const owners = overrideOwners(request.run.policies ?? [], blockedBy);
  if (owners.length === 0) {
    throw new InvalidInput(
      'approval.policyOverride.blockedBy',
      `names policies no one may override (${blockedBy.join(', ')}): none of the run's policies lists owners for all of them`,
    );
  }
  return { blockedBy, owners };
}

/** What the approval page lists: each project's plan counts, the destroyed projects, the command. */
function approvalSubject(
  request: z.output<typeof APPROVAL_REQUEST_INPUT>,
  command: ApprovedCommand | undefined,
  override: { blockedBy: string[]; owners: string[] } | undefined,
): ApprovalSubject {
  const { run, plan, destroy } = request;
  const names = new Map(runProjects(run).map((project) => [project.dir, project.name]));
  if (plan !== undefined) {
    const projects = plan.projects ?? [{ name: run.projectDir, dir: run.projectDir }];
    return {
      kind: override === undefined ? 'plan' : 'policy_override',
      ...(override === undefined ? {} : { policy: override }),
      projects: projects.map((project) => {
        const counts = 'summary' in project ? project.summary : undefined;
        const changes = counts !== undefined && !('hasChanges' in project && !project.hasChanges);
        const location = 'resultLocation' in project ? project.resultLocation : undefined;
        return {
          name: project.name,
          dir: project.dir,
          ...(location === undefined ? {} : { planLocation: location }),
          ...(changes
            ? {
                summary: {
                  add: counts.add,
                  change: counts.change,
                  destroy: counts.destroy,
                  replace: counts.replace,
                },
              }
            : {}),
        };
      }),
    };
  }
  if (destroy !== undefined) {
    return {
      kind: 'destroy',
      projects: destroy.projects.map(({ name, dir }) => ({
        name: name ?? names.get(dir) ?? dir,
        dir,
      })),
    };
  }
  return {
    kind: 'command',
    projects: [{ name: names.get(run.projectDir) ?? run.projectDir, dir: run.projectDir }],
    ...(command === undefined ? {} : { command: [command.name, ...command.args].join(' ') }),
  };
}

/** A per-task token for engines that give one token per execution (the local engine). */
export function newTaskToken(): string {
  return randomUUID();
}

/**
 * A decision, from a signed link (the approval endpoint) or from a trusted caller (the CLI):
 * checks, writes it once (conditional), then resumes or fails the waiting workflow.
 */
export async function decideStep(
  decision: {
    approvalId: string;
    action: ApprovalAction;
    by: string;
    now: Date;
    /** Where it is decided: the actor every later notice shows names it. */
    via: ApprovalChannel;
    approvers?: readonly string[];
    /** Why: required to approve a policy override (kept with the decision). */
    reason?: string;
  },
  ports: { approvals: ApprovalPort; callbacks: TaskCallbackPort },
): Promise<StoredApproval> {
  const stored = await ports.approvals.get(decision.approvalId);
  if (!stored) throw new NotFound(`no approval ${decision.approvalId}`);
  return decideStored(stored, decision, ports);
}

/**
 * decideStep on the approval as just read. Another decision between that read and this one's
 * write loses at the write: it is conditional on the approval still pending.
 */
async function decideStored(
  stored: StoredApproval,
  decision: Omit<Parameters<typeof decideStep>[0], 'approvalId'>,
  ports: { approvals: ApprovalPort; callbacks: TaskCallbackPort },
): Promise<StoredApproval> {
  // A pending approval of a run that waits for nothing (it ended, its process died) gets
  // nothing recorded; one already decided or expired says so below.
  if (stored.status === 'pending') await ports.callbacks.ensureWaiting(stored);
  const decided = decideApproval(stored, decision);
  const status = decided.status === 'approved' ? 'approved' : 'rejected';
  const { reason } = decided;
  const at = decision.now.toISOString();
  if (!(await ports.approvals.decide(stored.id, status, decision.by, at, decision.via, reason))) {
    throw new ApprovalAlreadyDecided(`approval ${stored.id} was decided meanwhile`);
  }
  const result: StoredApproval = {
    ...stored,
    status,
    decidedBy: decision.by,
    decidedAt: at,
    decidedVia: decision.via,
    ...(reason === undefined ? {} : { reason }),
  };
  if (status === 'approved')
    await ports.callbacks.succeed(stored.taskToken, approvedOutput(result));
  else await ports.callbacks.fail(stored.taskToken, 'ApprovalRejected', rejectedCause(result));
  return result;
}

/** What the waiting task returns once approved (its ResultPath: $.approval, $.policyOverride). */
export function approvedOutput(decided: ApprovalRecord): {
  approvedBy: string;
  decidedAt: string;
  via?: ApprovalChannel;
  reason?: string;
} {
  return {
    approvedBy: decided.decidedBy ?? 'someone',
    decidedAt: decided.decidedAt ?? '',
    ...(decided.decidedVia === undefined ? {} : { via: decided.decidedVia }),
    ...(decided.reason === undefined ? {} : { reason: decided.reason }),
  };
}

/** The Cause of the waiting task's ApprovalRejected: who, and why when they said. */
export function rejectedCause(decided: ApprovalRecord): string {
  const refused = decided.subject?.kind === 'policy_override' ? 'override refused' : 'rejected';
  const why = decided.reason === undefined ? '' : `: ${decided.reason}`;
  return `${refused} by ${decided.decidedBy ?? 'someone'} at ${decided.decidedAt ?? '?'}${why}`;
}

/**
 * The approval endpoint's POST: the link's signature and expiry first, then who it decides
 * as (its signed approver; with an approver list a bare link is refused), then the decision.
 */
export async function decideFromLink(
  fields: unknown,
  ports: { approvals: ApprovalPort; callbacks: TaskCallbackPort },
  options: { signingKey: string | Buffer; now: Date; approvers?: readonly string[] },
): Promise<StoredApproval> {
  const link = verifyApprovalLink(fields, options.signingKey, options.now);
  // Checked as text here, and as a reason by decideApproval.
  const { reason } = parseInput(z.looseObject({ reason: z.string().optional() }), fields, 'form');
  const stored = await ports.approvals.get(link.id);
  if (!stored) throw new NotFound(`no approval ${link.id}`);
  // Read once: who the link decides as depends on it, and so does the decision.
  return decideStored(
    stored,
    {
      action: link.action,
      by: linkDecider(link, decidersOf(stored, options.approvers)),
      now: options.now,
      via: 'web',
      ...(options.approvers ? { approvers: options.approvers } : {}),
      ...(reason === undefined ? {} : { reason }),
    },
    ports,
  );
}

/** An owner's own links to a policy override, and the request they are for. */
export interface OwnerOverrideLinks {
  readonly approval: StoredApproval;
  /** The owners' list entry the links decide as. */
  readonly owner: string;
  readonly blockedBy: readonly string[];
  readonly approve: string;
  readonly reject: string;
}

/**
 * An owner asks for their own links to a pending policy override, through a channel that
 * vouches for who they are (Slack signs who clicked): `owner` picks their entry from the
 * owners, or undefined (NotAnApprover). Refused once decided (ApprovalAlreadyDecided) or
 * past its expiry (ApprovalExpired). Links, not a decision: the override needs a reason,
 * given on the page.
 */
export async function ownerLinksStep(
  request: {
    approvalId: string;
    /** Who asks, for the messages. */
    who: string;
    owner: (owners: readonly string[]) => string | undefined;
    now: Date;
  },
  approvals: ApprovalPort,
  signing: { baseUrl: string; signingKey: string | Buffer },
): Promise<OwnerOverrideLinks> {
  const approval = await approvals.get(request.approvalId);
  const policy = approval?.subject?.policy;
  if (!approval || approval.subject?.kind !== 'policy_override' || policy === undefined) {
    throw new NotFound(`no policy override ${request.approvalId}`);
  }
  const owner = request.owner(policy.owners);
  if (owner === undefined) {
    throw new NotAnApprover(
      `${request.who} may not override ${policy.blockedBy.join(', ')}: only ${policy.owners.join(', ') || 'nobody'} may (the owners of every blocking policy)`,
    );
  }
  const expiresAt = assertStillOpen(approval, request.now);
  const link = (action: ApprovalAction) =>
    approvalLink(
      signing.baseUrl,
      { id: approval.id, action, expiresAt, approver: owner },
      signing.signingKey,
    );
  return {
    approval,
    owner,
    blockedBy: policy.blockedBy,
    approve: link('approve'),
    reject: link('reject'),
  };
}
