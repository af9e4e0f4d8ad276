// The ports of DESIGN.md, as the core steps see them. Each has a local adapter (SQLite, files,
// child processes: local/engine/) and an AWS adapter (DynamoDB, S3, SQS, Scheduler, Step
// Functions: adapters/). Every method is async, whatever the adapter underneath.
import type { JobResult } from './contracts/job-result.ts';
import type { PlanDiff } from './plan-diff.ts';
import type { ApprovalRecord, DecidedStatus } from './approval.ts';
import type { ApprovalChannel } from './decision-actor.ts';
import type { LockRecord } from './locks.ts';
import type { StatusEvent } from './contracts/status-event.ts';
import type { RunProject } from './contracts/workflow-input.ts';

/**
 * Locks per (environment, project), owned by a run, with an expiry (conditional writes on
 * AWS). A run takes one per project (core/steps.ts acquireProjectLocks).
 */
export interface LockPort {
  /** Takes or renews the lock for `owner`; throws LockHeld when another run holds it. */
  acquire(
    environment: string,
    project: string,
    owner: string,
    now: Date,
    ttlMs: number,
  ): Promise<LockRecord>;
  /**
   * Releases `owner`'s lock: true when it held one, false when there was none (a release is
   * idempotent); throws LockNotOwned for another run's lock.
   */
  release(environment: string, project: string, owner: string, now: Date): Promise<boolean>;
  /** The environment's locks as stored (expired ones too), by project. */
  environmentLocks(environment: string): Promise<LockRecord[]>;
}

export interface LastGoodCommit {
  readonly commit: string;
  readonly runId: string;
  readonly at: string;
}

export interface EnvironmentRecord {
  readonly environment: string;
  readonly projectDir: string;
  readonly status: string;
  readonly ttlExpiresAt: string | null;
  readonly lastRunId: string;
  readonly updatedAt: string;
}

/** The last drift check of an environment and project: what made drift_cleared true. */
export interface DriftState {
  /** Whether the plan of the last applied commit had changes. */
  readonly drifted: boolean;
  /** The commit that was planned (the last applied one at the time). */
  readonly commit: string;
  readonly runId: string;
  readonly at: string;
}

/**
 * What runs leave behind: the last good commit per environment and project, environments,
 * and each one's last drift check.
 */
export interface RecordPort {
  getLastGood(environment: string, projectDir: string): Promise<LastGoodCommit | undefined>;
  /** Only moves forward: a commit older (by `at`) than the stored one leaves it in place. */
  setLastGood(environment: string, projectDir: string, good: LastGoodCommit): Promise<void>;
  /** Replaces the record of the environment and project. */
  setEnvironment(record: EnvironmentRecord): Promise<void>;
  /** The record of the environment and project, if a run left one. */
  readEnvironment(environment: string, projectDir: string): Promise<EnvironmentRecord | undefined>;
  /** The last drift check of the environment and project, if one was recorded. */
  getDrift(environment: string, projectDir: string): Promise<DriftState | undefined>;
  /** Only moves forward, as setLastGood: an older check (by `at`) leaves the stored one. */
  setDrift(environment: string, projectDir: string, state: DriftState): Promise<void>;
}

/** A run's own record (the run item on AWS, the runs table locally), as the steps write it. */
export interface RunPort {
  /** Merges keys into the run's details (summary, outputs, rollback...), later keys winning. */
  addRunDetails(runId: string, details: Record<string, unknown>): Promise<void>;
}

/** An approval with the task token the workflow waits on (never sent in a link). */
export interface StoredApproval extends ApprovalRecord {
  readonly taskToken: string;
  /** The execution that waits (Step Functions' $$.Execution.Id); absent on older records. */
  readonly executionArn?: string;
}

export interface ApprovalPort {
  /** Stores it as pending; InvalidInput when an approval with its id exists. */
  create(approval: StoredApproval): Promise<void>;
  get(id: string): Promise<StoredApproval | undefined>;
  /**
   * The run's newest approval (a run asks for one at most once per apply, after at most one
   * policy override); undefined if none.
   */
  latestForRun(runId: string): Promise<StoredApproval | undefined>;
  /**
   * Single use: writes the decision only while the approval is pending, and an approval or
   * rejection only up to its expiry (`at` <= expiresAt); false otherwise. `via`: where;
   * `reason`: why, in the decider's words (a policy override's).
   */
  decide(
    id: string,
    status: DecidedStatus,
    by: string | null,
    at: string,
    via?: ApprovalChannel,
    reason?: string,
  ): Promise<boolean>;
}

/** Resumes a workflow waiting on a task token (SendTaskSuccess / SendTaskFailure). */
export interface TaskCallbackPort {
  /**
   * Throws RunNotWaiting unless the workflow still waits on the approval's task (its run
   * ended, or its process died): asked before a decision is recorded, so none is recorded for
   * a run that cannot act on it.
   */
  ensureWaiting(approval: StoredApproval): Promise<void>;
  succeed(taskToken: string, output: unknown): Promise<void>;
  fail(taskToken: string, error: string, cause: string): Promise<void>;
}

/** Where executor results and plans are kept (S3 on AWS, .stepform/artifacts locally). */
export interface ArtifactPort {
  readResult(location: string): Promise<JobResult | undefined>;
  /**
   * The plan diff a plan job left in its artifacts folder `location` (PLAN_DIFF_FILE);
   * undefined when it left none (an older executor, or a plan that failed).
   */
  readPlanDiff(location: string): Promise<PlanDiff | undefined>;
}

export interface DestroySchedule {
  readonly environment: string;
  readonly projectDir: string;
  readonly repository: string;
  readonly commit: string;
  readonly fireAt: string;
  readonly createdBy: string;
  /**
   * The environment was protected (stepform.yaml) when its run set the schedule: the destroy
   * it starts then waits for an approval, as every destroy of a protected environment does.
   */
  readonly protectedEnvironment?: true;
  /**
   * The projects the destroy covers (the ephemeral run's, with their workspaces, var files
   * and layers): absent, the one project at projectDir. A run of several keeps one schedule
   * under the folder its projects share, so that they are destroyed together, in reverse layers.
   */
  readonly projects?: readonly RunProject[];
}

/** One-time destroy schedules (EventBridge Scheduler `at()` on AWS, store rows locally). */
export interface SchedulePort {
  /** One schedule per environment and project: a second upsert moves it. */
  upsert(schedule: DestroySchedule): Promise<void>;
  /** It never fires after this; removing one that is gone is fine. */
  remove(environment: string, projectDir: string): Promise<void>;
  /** The schedule that will still fire for the environment and project, if any. */
  pending(environment: string, projectDir: string): Promise<DestroySchedule | undefined>;
}

/** Status events (SQS FIFO on AWS, the outbox table locally). */
export interface StatusPort {
  publish(event: StatusEvent): Promise<void>;
}

/** A chat message: plain text for every client, Block Kit blocks for Slack. */
export interface ChatMessage {
  readonly text: string;
  readonly blocks?: readonly unknown[];
}

/** Slack (incoming webhook on AWS and locally when configured; printed otherwise). */
export interface ChatPort {
  post(message: ChatMessage): Promise<void>;
}

export type CommitState = 'pending' | 'success' | 'failure' | 'error';
export type DeploymentState = 'in_progress' | 'success' | 'failure' | 'error' | 'inactive';

/** An issue as the code host keeps it (the drift workflow's one per environment and project). */
export interface CodeHostIssue {
  readonly number: number;
  readonly title: string;
  readonly state: 'open' | 'closed';
}

/** GitHub (Octokit) on AWS and locally with a token; files in the run's folder otherwise. */
export interface CodeHostPort {
  /** One sticky comment per marker (environment and project), updated in place. */
  upsertPullRequestComment(pullRequest: number, marker: string, body: string): Promise<void>;
  setCommitStatus(
    commit: string,
    status: { state: CommitState; context: string; description: string; targetUrl?: string },
  ): Promise<void>;
  /** A deployment per apply or destroy, and its status: the audit trail on GitHub. */
  recordDeployment(
    commit: string,
    deployment: { environment: string; state: DeploymentState; description: string; runId: string },
  ): Promise<void>;
  /** Whether the commit is reachable from the default branch (no apply of unmerged code). */
  isOnDefaultBranch(commit: string): Promise<boolean>;
  /** A repository_dispatch to `repository` (owner/name), which may be another repository. */
  dispatchRepositoryEvent(
    repository: string,
    eventType: string,
    clientPayload: Record<string, unknown>,
  ): Promise<void>;
  /** The open issue with exactly this title and label (the oldest, if ever several). */
  findOpenIssue(label: string, title: string): Promise<CodeHostIssue | undefined>;
  createIssue(issue: { title: string; body: string; labels: string[] }): Promise<CodeHostIssue>;
  /** Replaces the body, or opens or closes the issue. */
  updateIssue(number: number, change: { body?: string; state?: 'open' | 'closed' }): Promise<void>;
  commentOnIssue(number: number, body: string): Promise<void>;
}

/** Secrets (Secrets Manager, cached, on AWS; environment variables or a 0600 file locally). */
export interface SecretPort {
  get(name: string): Promise<string>;
}

/** The stores and artifacts a run's steps read and write, one port each. */
export interface StorePorts {
  readonly locks: LockPort;
  readonly records: RecordPort;
  readonly runs: RunPort;
  readonly approvals: ApprovalPort;
  readonly artifacts: ArtifactPort;
  readonly schedules: SchedulePort;
}
