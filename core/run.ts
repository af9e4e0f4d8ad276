// A workflow run: its jobs, their results, rollback and outcome, pure steps every Task state calls,
// on AWS through a Lambda handler and locally through the embedded engine.
import { dirname, join } from 'node:path';
import type { Backend, JobInput } from './contracts/job-input.ts';
import type { JobResult } from './contracts/job-result.ts';
import type { DriftCheck } from './drift.ts';
import { JobFailed, JobLost, NothingApplied } from './errors.ts';
import { assertRollbackTarget } from './rollback.ts';
import { lockProjectNames } from './locks.ts';
import { type PolicyOutcome, policyOutcome } from './policy.ts';
import { resolveCommand } from './terraform-commands.ts';
import { cutText } from './text.ts';
import {
  DEFAULT_MAX_PARALLEL,
  MULTI_PROJECT_WORKFLOWS,
  RUN_INPUT,
  type RunContext,
  type RunProject,
  runProjects,
} from './contracts/workflow-input.ts';
import { InvalidInput } from './errors.ts';
import { parseInput } from './validation.ts';

/** Where jobs keep state and artifacts: per deployment (S3 on AWS, the Stepform home locally). */
export interface JobSettings {
  readonly backend: Backend;
  readonly artifactsRoot: string;
}

/** A project's executor jobs in a run. */
export interface ProjectJobs {
  plan: JobInput;
  planApply: JobInput;
  destroy: JobInput;
}

/** One project of a run, as the Map state's iterations get it. */
export interface PreparedProject {
  name: string;
  dir: string;
  layer: number;
  /** The run as this project sees it (its folder, its one project): what its steps record. */
  run: RunContext;
  jobs: ProjectJobs;
  /** A drift run's check of the project (core/drift.ts prepareDrift fills in the commit). */
  drift?: DriftCheck;
}

// Where the CLI and the action check a selection before starting anything.
export { MULTI_PROJECT_WORKFLOWS } from './contracts/workflow-input.ts';

export interface PreparedRun {
  run: RunContext;
  /**
   * The jobs of a run of one project. `command` only in command runs: the allowlisted
   * command as an executor job. Absent in a run of several projects (see `projects`).
   */
  jobs?: ProjectJobs & { command?: JobInput };
  /** Every project of the run, in execution order (by layer), each with its jobs. */
  projects: PreparedProject[];
  /**
   * The projects whose locks the run takes (Lock and Unlock's `projects`): every project's
   * name, sorted (lockProjectNames), so that runs sharing projects take them in one order.
   */
  lockProjects: string[];
  /** How many projects of a layer run at once: the Map states' MaxConcurrencyPath. */
  maxParallel: number;
  /**
   * Whether the run waits for an approval before its change (the command and destroy
   * workflows' Choice): a command that changes the state does, unless the run is auto-approved
   * where the deployment allows it (false for a command that only reads); a destroy does
   * unless the run is auto-approved; both always do in a protected environment.
   */
  needsApproval: boolean;
  /**
   * The environment is protected (the run input says so): plan-apply's NeedsApproval asks for
   * an approval of a plan that deletes or replaces, even when the run is auto-approved.
   */
  protectedEnvironment: boolean;
  /**
   * How long the approval task waits (its TimeoutSecondsPath): the approval's own timeout and
   * APPROVAL_TASK_GRACE_SECONDS. The approval expires counted from when RequestApproval runs,
   * a little after the task started; the grace keeps the task waiting until then, so a link
   * is never accepted by a run that already stopped waiting.
   */
  approvalTaskTimeoutSeconds: number;
}

/** Far longer than a RequestApproval Lambda takes to start (cold) and store the approval. */
export const APPROVAL_TASK_GRACE_SECONDS = 30;

/** A run's folder in its artifacts, `<artifactsRoot>/<runId>`: every job's folder is below it. */
export function runArtifactsFolder(artifactsRoot: string, runId: string): string {
  return join(artifactsRoot, runId);
}

/**
 * The folder of a run's plan job in its artifacts (`<artifactsRoot>/<runId>/plan`): on AWS the
 * only artifacts the plan job role may write (infra/lib/executor-compute.ts).
 */
export const PLAN_STEP = 'plan';

/** The folder of a command run's job in its artifacts (`<artifactsRoot>/<runId>/command`). */
export const COMMAND_STEP = 'command';

/**
 * A project's folder in a run's artifacts, when the run has several: a segment that is never a
 * step's name (`project-plan` for a project named plan), so that the plan role's artifacts
 * (`<prefix>/<any>/plan/<any>`) stay the plan steps' only.
 */
export function projectArtifactsFolder(name: string): string {
  return `project-${name}`;
}

/**
 * The most of a command's output that travels in the workflow's state (UTF-16 units): the
 * state stays far below Step Functions' 256 KB; the whole output is in the job's log.
 */
export const COMMAND_OUTPUT_LIMIT = 16 * 1024;

/** A command's masked output, cut to COMMAND_OUTPUT_LIMIT with a note saying where the rest is. */
export function commandOutput(output: string, logLocation: string): string {
  if (output.length <= COMMAND_OUTPUT_LIMIT) return output;
  const note = `\n[output cut at ${COMMAND_OUTPUT_LIMIT} characters: the whole output is in the job log, ${logLocation}]\n`;
  return `${cutText(output, COMMAND_OUTPUT_LIMIT - note.length)}${note}`;
}

/**
 * PrepareRun: validates the execution input and builds the executor jobs of the run.
 * `allowAutoApprove` is the deployment's: whether a run may skip its approval at all.
 */
export function prepareRun(
  input: unknown,
  settings: JobSettings,
  allowAutoApprove = false,
): PreparedRun {
  const run = parseInput(RUN_INPUT, input, 'input');
  // Only an owner's decision, mid-run, writes it: a run cannot start overridden.
  if (run.policyOverride !== undefined)
    throw new InvalidInput('input.policyOverride', 'is written by the workflow, never given');
  const projects = runProjects(run);
  const several = projects.length > 1;
  if (several && !MULTI_PROJECT_WORKFLOWS.includes(run.workflow)) {
    throw new InvalidInput(
      'input.projects',
      `a ${run.workflow} run covers one project; this deployment runs several only in ${MULTI_PROJECT_WORKFLOWS.join(', ')}`,
    );
  }
  // Every plan a run stands on is checked against the policies: a plan or plan-apply run's
  // plan job (the workflow stops on a block, or an owner overrides it), and the jobs that plan
  // and apply at once, an ephemeral environment's and a destroy's (the job stops on a block).
  // Not a rollback's or a cleanup's: they put back what was, or undo what this run did.
  const policyChecksOf = (project: RunProject, checked: boolean) =>
    checked && run.policies !== undefined
      ? {
          policyChecks: {
            sets: run.policies,
            project: project.name,
            protected: run.protectedEnvironment === true,
          },
        }
      : {};
  const jobsOf = (project: RunProject, folder: string) => {
    const job = (verb: 'plan' | 'plan-apply' | 'destroy', step: string) => ({
      runId: run.runId,
      verb,
      repository: run.repository,
      commit: run.commit,
      projectDir: project.dir,
      environment: run.environment,
      backend: settings.backend,
      artifactsDir: join(folder, step),
      ...(project.workspace === undefined ? {} : { workspace: project.workspace }),
      varFiles: [...project.varFiles],
    });
    return {
      plan: {
        ...job('plan', PLAN_STEP),
        ...policyChecksOf(project, run.workflow === 'plan' || run.workflow === 'plan-apply'),
      },
      planApply: {
        ...job('plan-apply', 'apply'),
        ...policyChecksOf(project, run.workflow === 'ephemeral'),
      },
      destroy: {
        ...job('destroy', 'destroy'),
        ...policyChecksOf(project, run.workflow === 'destroy'),
      },
    };
  };
  const runFolder = runArtifactsFolder(settings.artifactsRoot, run.runId);
  const prepared = projects.map((project): PreparedProject => ({
    name: project.name,
    dir: project.dir,
    layer: project.layer,
    // Alone in its view, the project is its first layer (a run's layers start at 0). A run of
    // its one folder names no project (runProjects names it by the folder, which may hold a
    // "/" that a project name may not): its view names none either.
    run: {
      ...run,
      projectDir: project.dir,
      ...(run.projects === undefined ? {} : { projects: [{ ...project, layer: 0 }] }),
    },
    jobs: jobsOf(
      project,
      several ? join(runFolder, projectArtifactsFolder(project.name)) : runFolder,
    ),
    // Planned at the run's commit until PrepareRun finds the last applied one (prepareDrift).
    ...(run.workflow === 'drift' ? { drift: { check: 'plan' as const, commit: run.commit } } : {}),
  }));
  const only = several ? undefined : prepared[0];
  const changesState =
    run.workflow === 'command' && run.args !== undefined && resolveCommand(run.args).changesState;
  // A destroy waits unless auto-approved, and always in a protected environment. Unlike an
  // apply's, a destroy's autoApprove is not the deployment's to refuse: the unattended
  // destroys (the TTL schedule's, a closed pull request's) have always run without one.
  const destroyWaits =
    run.workflow === 'destroy' && (run.protectedEnvironment === true || !run.autoApprove);
  return {
    run,
    ...(only === undefined
      ? {}
      : {
          jobs: {
            ...only.jobs,
            ...(run.workflow === 'command' && run.args !== undefined
              ? {
                  command: {
                    // The plan job's checkout, backend and workspace (no policy checks: a
                    // command run has no plan).
                    ...only.jobs.destroy,
                    verb: 'command' as const,
                    artifactsDir: join(runFolder, COMMAND_STEP),
                    args: run.args,
                  },
                }
              : {}),
          },
        }),
    projects: prepared,
    lockProjects: lockProjectNames(projects.map((project) => project.name)),
    maxParallel: run.maxParallel ?? DEFAULT_MAX_PARALLEL,
    needsApproval:
      destroyWaits ||
      (changesState &&
        (run.protectedEnvironment === true || !(run.autoApprove && allowAutoApprove))),
    protectedEnvironment: run.protectedEnvironment === true,
    approvalTaskTimeoutSeconds: run.approvalTimeoutSeconds + APPROVAL_TASK_GRACE_SECONDS,
  };
}

/** What a job step hands on: counts only, so that state stays far below the 256 KB limit. */
export interface CollectedResult {
  status: 'succeeded';
  verb: JobResult['verb'];
  hasChanges: boolean;
  applied: boolean;
  summary: { add: number; change: number; destroy: number; replace: number; import: number };
  outputs: Record<string, { sensitive: boolean; value: unknown }>;
  /** The job's artifacts folder: result.json, the log, the plan. */
  resultLocation: string;
  /** When the job started and ended (the executor's clock). */
  startedAt: string;
  finishedAt: string;
  plan?: { dir: string; sha256: string };
  /** After a plan with changes: the job that applies exactly that plan. */
  applyJob?: JobInput;
  /** A command job: what ran and its masked output (cut: see COMMAND_OUTPUT_LIMIT). */
  command?: { name: string; args: string[]; output: string; cut: boolean };
  /**
   * A checked plan's policy outcome, counted (the violations stay in result.json):
   * `blockedBy` names the sets with `on_failure: block` that failed.
   */
  policy?: { outcome: PolicyOutcome['outcome']; blockedBy: string[]; deny: number; warn: number };
}

/**
 * CollectJobResult: turns the executor's result.json into the step's output, or the typed
 * error the state machine catches: JobLost when there is none, NothingApplied when the job
 * failed without changing the state, JobFailed when it failed otherwise.
 */
export function collectJobResult(job: JobInput, result: JobResult | undefined): CollectedResult {
  if (!result) throw new JobLost(`the ${job.verb} job of run ${job.runId} ended without a result`);
  if (result.status !== 'succeeded') {
    const error = result.error ?? { name: 'Error', message: 'unknown failure' };
    const message = `${job.verb} failed: ${error.name}: ${error.message}`;
    // Only a job that says it left the state as it was is spared a rollback.
    if (result.stateChanged === false) throw new NothingApplied(message);
    throw new JobFailed(message);
  }
  const s = result.summary;
  const collected: CollectedResult = {
    status: 'succeeded',
    verb: result.verb,
    hasChanges: result.hasChanges ?? false,
    applied: result.applied ?? false,
    summary: {
      add: s?.add ?? 0,
      change: s?.change ?? 0,
      destroy: s?.destroy ?? 0,
      replace: s?.replace ?? 0,
      import: s?.import ?? 0,
    },
    outputs: result.outputs ?? {},
    resultLocation: job.artifactsDir,
    startedAt: result.startedAt,
    finishedAt: result.finishedAt,
  };
  if (result.command) {
    const { name, args, output } = result.command;
    const shown = commandOutput(output, result.artifacts.log);
    collected.command = { name, args: [...args], output: shown, cut: shown !== output };
  }
  if (result.policy !== undefined) {
    const outcome = policyOutcome(result.policy);
    const violations = result.policy.flatMap((checked) => checked.violations);
    collected.policy = {
      outcome: outcome.outcome,
      blockedBy: outcome.outcome === 'blocked' ? [...outcome.blockedBy] : [],
      deny: violations.filter((v) => v.rule === 'deny').length,
      warn: violations.filter((v) => v.rule === 'warn').length,
    };
  }
  if (result.plan) {
    collected.plan = { dir: job.artifactsDir, sha256: result.plan.sha256 };
    if (job.verb === 'plan' && collected.hasChanges) {
      // The apply checks nothing again: it applies the very plan that was checked.
      collected.applyJob = {
        ...withoutPolicyChecks(job),
        verb: 'apply',
        plan: collected.plan,
        artifactsDir: join(dirname(job.artifactsDir), 'apply'),
      };
    }
  }
  return collected;
}

/** A job without its policy checks. */
function withoutPolicyChecks<T extends object>(job: T): Omit<T, 'policyChecks'> {
  return Object.fromEntries(Object.entries(job).filter(([key]) => key !== 'policyChecks')) as Omit<
    T,
    'policyChecks'
  >;
}

export interface RollbackPlan {
  commit: string;
  failedCommit: string;
  job: JobInput;
  message: string;
}

/**
 * DecideRollback: re-apply the last commit that applied cleanly, never the failed one.
 * Throws NoRollbackTarget when there is none.
 */
export function planRollback(
  run: RunContext,
  planJob: JobInput,
  lastGood: string | undefined,
): RollbackPlan {
  const lastGoodCommit = assertRollbackTarget({
    failedCommit: run.commit,
    lastGoodCommit: lastGood ?? null,
  });
  return {
    commit: lastGoodCommit,
    failedCommit: run.commit,
    job: {
      ...planJob,
      verb: 'plan-apply',
      commit: lastGoodCommit,
      artifactsDir: join(dirname(planJob.artifactsDir), 'rollback'),
    },
    message: `apply of ${run.commit} failed; rolled back to the last good commit ${lastGoodCommit}`,
  };
}

/** The outcomes RecordResult knows, and what each does to the environment. */
export const OUTCOMES = [
  'planned',
  'no_changes',
  'applied',
  'rolled_back',
  'rollback_failed',
  'rejected',
  'expired',
  'failed',
  'active',
  'destroyed',
  'destroy_failed',
  // The ttl and command workflows: neither changes what the environment's record says
  // through Record (a TTL change writes the record itself, in ChangeTtl).
  'ttl_changed',
  'command_completed',
  // The drift workflow: neither changes the environment's record (Record keeps each
  // project's drift state apart, core/drift.ts).
  'drifted',
  'no_drift',
  // A blocking policy failed on a plan: nothing applied, the environment left as it was.
  'policy_failed',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Outcomes after which the run's commit is the environment's last good commit. */
export function setsLastGood(outcome: Outcome): boolean {
  return outcome === 'applied' || outcome === 'no_changes';
}

/** The environment status an outcome leaves, if it changes it. */
export function environmentStatusAfter(outcome: Outcome): string | undefined {
  switch (outcome) {
    case 'applied':
    case 'no_changes':
    case 'active':
      return 'active';
    case 'rolled_back':
      return 'rolled_back';
    case 'rollback_failed':
      return 'rollback_failed';
    case 'destroyed':
      return 'destroyed';
    case 'destroy_failed':
      return 'failed-destroy';
    default:
      return undefined;
  }
}
