// The Step Functions side: the execution's deterministic name and input, starting it (or
// following the one a re-run of this attempt already started), following it to the end while
// printing the states it enters, and stopping it when the job is cancelled.
import { createHash } from 'node:crypto';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  type ExecutionStatus,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { awsErrorName } from '../../adapters/aws/aws-errors.ts';
import type { RunProjects } from '../../core/config/run-projects.ts';
import { StepformError } from '../../core/errors.ts';
import { RUN_INPUT, type RunContext } from '../../core/contracts/workflow-input.ts';
import { parseInput } from '../../core/validation.ts';
import type { GitHubRun } from './event.ts';
import type { Inputs } from './inputs.ts';

/** Step Functions' limit on an execution name. */
export const EXECUTION_NAME_LIMIT = 80;
/** The characters this action uses in names (a subset of what Step Functions allows). */
export const EXECUTION_NAME_PATTERN = /^[A-Za-z0-9_-]{1,80}$/;

/** The run, per attempt, the workflow, environment and project that one execution serves. */
export interface ExecutionKey {
  readonly runId: string;
  readonly runAttempt: string;
  readonly workflow: string;
  readonly environment: string;
  readonly projectDir: string;
  /** The names of the run's projects, when stepform.yaml selected them. */
  readonly projects?: readonly string[];
}

/**
 * `gh-<run id>-<attempt>-<workflow>-<environment>-<hash>`, at most 80 characters of
 * A-Z a-z 0-9 _ -: the same for every start within one attempt of a workflow run, so a second
 * start finds the first execution instead of making another; a new attempt (a re-run) gets a
 * new name. The hash (of environment and project) tells apart the steps of one job or matrix
 * that run the same workflow for other environments or projects (the names too when
 * stepform.yaml selected them: two selections may share a folder); the environment is shortened
 * when the name would be too long.
 */
export function executionName(key: ExecutionKey): string {
  const hash = createHash('sha256')
    .update(
      `${key.environment}\n${key.projectDir}${key.projects === undefined ? '' : `\n${key.projects.join(',')}`}`,
      'utf8',
    )
    .digest('hex')
    .slice(0, 10);
  const head = `gh-${key.runId}-${key.runAttempt}-${key.workflow}`;
  const room = EXECUTION_NAME_LIMIT - head.length - hash.length - 2;
  const environment = key.environment.slice(0, Math.max(0, room)).replace(/[-_]+$/, '');
  const name = environment === '' ? `${head}-${hash}` : `${head}-${environment}-${hash}`;
  return name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, EXECUTION_NAME_LIMIT);
}

/**
 * The execution input (RUN_INPUT), validated here so a bad one is never sent. `selection`: the
 * projects stepform.yaml selected; absent, the one folder `project` names.
 */
export function runInput(
  runId: string,
  inputs: Inputs,
  github: GitHubRun,
  selection: Partial<RunProjects> = {},
): RunContext {
  return parseInput(
    RUN_INPUT,
    {
      runId,
      workflow: inputs.workflow,
      repository: github.repository,
      commit: github.commit,
      projectDir: selection.projectDir ?? inputs.projectDir,
      ...(selection.projects === undefined ? {} : { projects: selection.projects }),
      ...(selection.maxParallel === undefined ? {} : { maxParallel: selection.maxParallel }),
      ...(selection.protectedEnvironment ? { protectedEnvironment: true } : {}),
      ...(selection.afterApply === undefined ? {} : { afterApply: selection.afterApply }),
      ...(selection.policies === undefined ? {} : { policies: selection.policies }),
      environment: inputs.environment,
      // A destroy from a workflow (a closed pull request's) is unattended, as the TTL
      // schedule's: auto-approved, except in a protected environment, where PrepareRun makes
      // it wait for an approval (Slack, the approval page) all the same. Applies and commands
      // never skip theirs here.
      autoApprove: inputs.workflow === 'destroy',
      ...(inputs.approvalTimeoutSeconds === undefined
        ? {}
        : { approvalTimeoutSeconds: inputs.approvalTimeoutSeconds }),
      ...(inputs.ttlSeconds === undefined ? {} : { ttlSeconds: inputs.ttlSeconds }),
      ...(inputs.cancelTtl ? { cancelTtl: true } : {}),
      ...(inputs.args === undefined ? {} : { args: [...inputs.args] }),
      ...(github.pullRequest === undefined ? {} : { pullRequest: github.pullRequest }),
    },
    'input',
  );
}

/** arn:…:stateMachine:<machine> and a name → arn:…:execution:<machine>:<name>. */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

/** An execution with this action's name exists but serves another run: it is not followed. */
export class ForeignExecution extends StepformError {
  override readonly name = 'ForeignExecution';
  readonly kind = 'failure';
}

/** The execution ended other than SUCCEEDED, or was still running at the timeout. */
export class ExecutionNotSucceeded extends StepformError {
  override readonly name = 'ExecutionNotSucceeded';
  readonly kind = 'failure';
}

export interface Started {
  readonly executionArn: string;
  /** False when an execution of this name already existed and is followed instead. */
  readonly startedHere: boolean;
}

const IDENTITY = [
  'runId',
  'workflow',
  'repository',
  'commit',
  'projectDir',
  'environment',
] as const;

/**
 * StartExecution with the deterministic name. When that name is taken (ExecutionAlreadyExists:
 * a re-run of this attempt started it, and it has ended or its input differs), the existing
 * execution is described and followed, after checking that it is this run's.
 */
export async function startOrFollow(
  sfn: SFNClient,
  stateMachineArn: string,
  input: RunContext,
  log: (line: string) => void,
): Promise<Started> {
  const name = input.runId;
  try {
    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }),
    );
    if (started.executionArn === undefined) throw new Error('StartExecution returned no ARN');
    log(`started execution ${name}`);
    return { executionArn: started.executionArn, startedHere: true };
  } catch (error) {
    if (awsErrorName(error) !== 'ExecutionAlreadyExists') throw error;
  }
  const executionArn = executionArnOf(stateMachineArn, name);
  const existing = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  let theirs: Record<string, unknown> = {};
  try {
    theirs = JSON.parse(existing.input ?? '{}') as Record<string, unknown>;
  } catch {
    // an input that is not JSON is no run's input: the check below refuses it
  }
  const differs = IDENTITY.filter((field) => theirs[field] !== input[field]);
  if (differs.length > 0) {
    throw new ForeignExecution(
      `an execution named ${name} already exists with another ${differs.join(', ')}: ` +
        executionArn,
    );
  }
  log(
    `execution ${name} already exists (${existing.status ?? 'unknown status'}): ` +
      'this attempt started it before, following it instead of starting another',
  );
  return { executionArn, startedHere: false };
}

/** Statuses after which an execution changes no more (PENDING_REDRIVE is about to run again). */
export function isFinal(status: ExecutionStatus | undefined): boolean {
  return status !== undefined && status !== 'RUNNING' && status !== 'PENDING_REDRIVE';
}

/** One line for the events worth showing as they happen, or undefined. */
export function describeEvent(event: HistoryEvent): string | undefined {
  const type = event.type ?? '';
  if (type.endsWith('StateEntered')) {
    const kind = type.slice(0, -'StateEntered'.length);
    return `→ ${event.stateEnteredEventDetails?.name ?? '?'} (${kind})`;
  }
  const failure =
    event.taskFailedEventDetails ??
    event.lambdaFunctionFailedEventDetails ??
    event.taskTimedOutEventDetails ??
    event.lambdaFunctionTimedOutEventDetails;
  if (failure !== undefined) {
    const cause = (failure.cause ?? '').slice(0, 500);
    return `  ✗ ${failure.error ?? type}${cause === '' ? '' : `: ${cause}`}`;
  }
  return undefined;
}

/**
 * The events after `afterId`, oldest first. Reads newest first and stops at the first page
 * that reaches an event already seen, so a long execution costs few calls per poll.
 */
export async function newEvents(
  sfn: SFNClient,
  executionArn: string,
  afterId: number,
): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({
        executionArn,
        reverseOrder: true,
        maxResults: 200,
        includeExecutionData: false,
        ...(nextToken === undefined ? {} : { nextToken }),
      }),
    );
    const batch = page.events ?? [];
    events.push(...batch);
    if (batch.some((event) => (event.id ?? 0) <= afterId)) break;
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return events
    .filter((event) => (event.id ?? 0) > afterId)
    .sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
}

export interface FollowOptions {
  readonly timeoutMs: number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  readonly log: (line: string) => void;
  readonly warn: (line: string) => void;
  /** First pause between polls; it grows by half each time up to `maxDelayMs`. */
  readonly firstDelayMs?: number;
  readonly maxDelayMs?: number;
}

export interface Followed {
  readonly execution: DescribeExecutionCommandOutput;
  /** True when `timeoutMs` ran out while the execution was still running. */
  readonly timedOut: boolean;
}

/**
 * Polls DescribeExecution with backoff until the execution ends or `timeoutMs` runs out,
 * printing each state the execution enters (GetExecutionHistory) as it happens.
 */
export async function followExecution(
  sfn: SFNClient,
  executionArn: string,
  options: FollowOptions,
): Promise<Followed> {
  const deadline = options.now() + options.timeoutMs;
  const maxDelayMs = options.maxDelayMs ?? 20_000;
  let delayMs = options.firstDelayMs ?? 2_000;
  let lastEventId = 0;
  let history = true;
  for (;;) {
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (history) {
      try {
        for (const event of await newEvents(sfn, executionArn, lastEventId)) {
          lastEventId = Math.max(lastEventId, event.id ?? 0);
          const line = describeEvent(event);
          if (line !== undefined) options.log(line);
        }
      } catch (error) {
        // The phases are a courtesy: without states:GetExecutionHistory, only the end is told.
        history = false;
        options.warn(
          `cannot read the execution history (${awsErrorName(error) ?? String(error)}): ` +
            'only the final status will be shown',
        );
      }
    }
    if (isFinal(execution.status)) return { execution, timedOut: false };
    const left = deadline - options.now();
    if (left <= 0) return { execution, timedOut: true };
    await options.sleep(Math.min(delayMs, left));
    delayMs = Math.min(Math.round(delayMs * 1.5), maxDelayMs);
  }
}

export type StopDecision =
  | { readonly stop: true; readonly executionArn: string }
  | { readonly stop: false; readonly reason: string };

/** What the main step left in the step's state (core.saveState) for the post step. */
export interface SavedState {
  readonly executionArn: string;
  /** "true" when the main step followed the execution (wait: true). */
  readonly follow: string;
  /** The status the main step saw last: empty while it was still following. */
  readonly outcome: string;
  /** "true" when the runner cancelled the main step (the job was cancelled). */
  readonly cancelled: string;
}

/** The post step stops only an execution that the cancelled main step was still following. */
export function decideStop(saved: SavedState): StopDecision {
  if (saved.executionArn === '') return { stop: false, reason: 'no execution was started' };
  if (saved.follow !== 'true') {
    return { stop: false, reason: 'wait was false: the execution is not tied to this job' };
  }
  if (saved.outcome !== '') {
    return { stop: false, reason: `the step saw the execution end (${saved.outcome})` };
  }
  if (saved.cancelled !== 'true') return { stop: false, reason: 'the job was not cancelled' };
  return { stop: true, executionArn: saved.executionArn };
}

/** StopExecution, unless the execution has already ended. Returns whether it stopped it. */
export async function stopIfRunning(
  sfn: SFNClient,
  executionArn: string,
  cause: string,
): Promise<{ stopped: boolean; status: ExecutionStatus | undefined }> {
  const { status } = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  if (status !== 'RUNNING') return { stopped: false, status };
  await sfn.send(new StopExecutionCommand({ executionArn, error: 'JobCancelled', cause }));
  return { stopped: true, status };
}
