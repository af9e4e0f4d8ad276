// Each Task state's function, by the name its ASL placeholder gives it (`${LockFunctionArn}`
// → Lock), and the core step it runs. The Lambdas (lambdas/*.ts) and the local engine
// (local/engine/handlers.ts) both run a Task through this table; each side injects its own
// ports (DynamoDB, S3, Secrets Manager… or SQLite, files, child processes).
import { InvalidInput } from './errors.ts';
import { collectDrift, prepareDrift } from './drift.ts';
import { type NotifyPorts, type NotifyReport, notifyStep } from './notify.ts';
import type { CodeHostPort, StorePorts } from './ports.ts';
import { type RepositoryPin, assertPinnedRepository } from './repository-pin.ts';
import type { JobSettings, PreparedRun } from './run.ts';
import { changeTtlStep } from './ttl.ts';
import {
  type ApprovalRequestResult,
  assertOnDefaultBranch,
  collectStep,
  holdLockThroughApproval,
  lockStep,
  prepareStep,
  recordStep,
  requestApprovalStep,
  rollbackStep,
  scheduleStep,
  unlockStep,
} from './steps.ts';

/** What the Task steps talk to; a step reads only the ports it needs. */
export interface TaskPorts extends StorePorts {
  now(): Date;
  /** What every executor job of this deployment gets (its state backend, its artifacts root). */
  readonly jobSettings: JobSettings;
  notifyPorts(): Promise<NotifyPorts>;
  /** Whether a run may skip its approval (autoApprove): a deployment's choice, off on AWS. */
  readonly allowAutoApprove: boolean;
  /**
   * The repositories the runs may be of: any locally (the user's own), on AWS only the one the
   * stack was configured with, and none when it has none (every run is refused).
   */
  readonly repositoryPin: RepositoryPin;
  /**
   * What tells whether a plan-apply's commit is on the default branch, or 'not-required' where
   * every repository is the user's own (the local engine). A deployment that needs the check
   * but cannot make it (no token configured, the secret unreadable) throws
   * DefaultBranchCheckFailed saying what to configure: the plan-apply is refused, never run
   * unchecked. Asked for plan-apply runs only.
   */
  defaultBranchCheck(): Promise<Pick<CodeHostPort, 'isOnDefaultBranch'> | 'not-required'>;
  /**
   * The key that signs approval links, the endpoint the links point at, and the approver
   * list (each approver then gets links of their own).
   */
  approvalSigning(): Promise<{
    signingKey: string | Buffer;
    baseUrl: string;
    approvers?: readonly string[];
  }>;
  /**
   * A token per waiting task, for engines that give one per execution (the local engine);
   * absent, the approval keeps the token Step Functions put in the input.
   */
  readonly taskToken?: () => string;
  /**
   * What the waiting task's own call returns once its approval is requested. On Step
   * Functions the workflow waits for the callback (whose output becomes the task's), so this
   * returns at once; the local engine has no callback and waits here for the decision.
   */
  awaitDecision(request: AnnouncedApproval): Promise<unknown>;
  /** A channel that failed is reported, never fatal to the run. */
  warn(message: string, detail: Record<string, unknown>): void;
}

export type TaskStep = (input: unknown, ports: TaskPorts) => Promise<unknown>;

/**
 * PrepareRun: the run's jobs. The run must be of a repository the deployment runs (on AWS its
 * own); a plan-apply may skip its approval only where the deployment allows it, and must be of
 * a commit on the default branch wherever that is required (on AWS: always, fail closed).
 */
export async function prepareTask(input: unknown, ports: TaskPorts): Promise<PreparedRun> {
  const prepared = prepareStep(input, ports.jobSettings, ports.allowAutoApprove);
  const { run } = prepared;
  assertPinnedRepository(run.repository, ports.repositoryPin);
  if (run.workflow === 'plan-apply' && run.autoApprove && !ports.allowAutoApprove) {
    throw new InvalidInput(
      'input.autoApprove',
      'is not allowed by this deployment: every apply needs an approval',
    );
  }
  if (run.workflow === 'plan-apply') {
    const check = await ports.defaultBranchCheck();
    if (check !== 'not-required') await assertOnDefaultBranch(run, check);
  }
  if (run.workflow === 'drift') return prepareDrift(prepared, ports, ports.now());
  return prepared;
}

export interface AnnouncedApproval extends ApprovalRequestResult {
  /** The awaiting_approval notification, links included. */
  readonly notified: NotifyReport;
}

/**
 * RequestApproval: stores the approval with the waiting task's token, then announces it with
 * the plan (phase awaiting_approval). The shared channels get the bare links only where there
 * is no approver list; with one they get the approval id alone (Slack's interactive buttons,
 * which Slack signs with who clicked), never an approver's own links: anyone in the channel
 * could follow another's. Those stay in the result, for the side that can hand them privately.
 */
export async function requestApproval(
  input: unknown,
  ports: Pick<
    TaskPorts,
    'now' | 'approvals' | 'approvalSigning' | 'taskToken' | 'notifyPorts' | 'warn'
  >,
): Promise<AnnouncedApproval> {
  const now = ports.now();
  const request = await requestApprovalStep(input, ports.approvals, {
    now,
    ...(await ports.approvalSigning()),
    ...(ports.taskToken ? { taskToken: ports.taskToken() } : {}),
  });
  const { run, approval, links, plan, command, policyOverride } = request;
  const notified = await notifyStep(
    {
      run,
      phase: policyOverride === undefined ? 'awaiting_approval' : 'awaiting_policy_override',
      ...(policyOverride === undefined ? {} : { policyOverride }),
      // A run of several projects is approved as one: the request lists each one's plan.
      ...(plan === undefined ? {} : 'projects' in plan ? { projects: plan } : { result: plan }),
      ...(command === undefined ? {} : { command }),
      ...(links === undefined ? {} : { links }),
      // The buttons name the approval. An override's one button sends the owner who clicks
      // their own links: Slack's buttons cannot say why, the page asks.
      approvalId: approval.id,
    },
    await ports.notifyPorts(),
    now,
  );
  if (notified.failed.length > 0)
    ports.warn('approval request notifications failed', { failed: notified.failed });
  return { ...request, notified };
}

/** Notify: status event, chat and code host, each channel failing alone (reported). */
async function notifyTask(input: unknown, ports: TaskPorts): Promise<NotifyReport> {
  // The approvals tell who decided the run's approval (the actor of every later notice).
  const report = await notifyStep(
    input,
    { ...(await ports.notifyPorts()), approvals: ports.approvals },
    ports.now(),
  );
  if (report.failed.length > 0) ports.warn('some notifications failed', { failed: report.failed });
  return report;
}

/** The function of each Task state, by its name in the ASL files, and the step it runs. */
export const TASK_STEPS = {
  PrepareRun: prepareTask,
  Lock: async (input, ports) => lockStep(input, ports.locks, ports.now()),
  Unlock: async (input, ports) => unlockStep(input, ports.locks, ports.now()),
  // A drift run's collector reads the previous drift checks; every other reads job results.
  CollectJobResult: async (input, ports) =>
    typeof input === 'object' && input !== null && 'drift' in input
      ? collectDrift(input, ports.records)
      : collectStep(input, ports.artifacts),
  Notify: notifyTask,
  RequestApproval: async (input, ports) => {
    await holdLockThroughApproval(input, ports.locks, ports.now());
    return ports.awaitDecision(await requestApproval(input, ports));
  },
  Record: async (input, ports) => recordStep(input, ports, ports.now()),
  Rollback: async (input, ports) => rollbackStep(input, ports.records),
  Schedule: async (input, ports) => scheduleStep(input, ports.schedules, ports.now()),
  ChangeTtl: async (input, ports) => changeTtlStep(input, ports, ports.now()),
} satisfies Record<string, TaskStep>;

export type TaskFunction = keyof typeof TASK_STEPS;
export type TaskOutput<F extends TaskFunction> = ReturnType<(typeof TASK_STEPS)[F]>;

/** The Task functions, in the table's order. */
export const TASK_FUNCTIONS = Object.keys(TASK_STEPS) as TaskFunction[];

export function isTaskFunction(name: string): name is TaskFunction {
  return Object.hasOwn(TASK_STEPS, name);
}
