// A deployed stack, as the CLI addresses it with `--stack OUTPUTS.json` (or STEPFORM_STACK):
// the outputs `cdk deploy --outputs-file` writes, read and checked once, and the views the
// verbs render (runs, locks, environments) built from Step Functions and the table, in the
// shapes the local verbs render, so that both print the same.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { commonDir } from '../../../core/config/run-projects.ts';
import { InvalidInput } from '../../../core/errors.ts';
import { assertPinnedRepository } from '../../../core/repository-pin.ts';
import { parseInput } from '../../../core/validation.ts';
import { type OperatorAdapters, operatorAdapters } from '../../../adapters/aws/operator.ts';
import {
  type ExecutionDetail,
  type ExecutionSummary,
  executionArnOf,
  stateEvents,
} from '../../../adapters/aws/sfn.ts';
import type { RunEventRow, RunRow, RunStatus } from '../../engine/store/sqlite-runs.ts';
import type { Io } from '../io.ts';
import type { CliValues } from '../main.ts';
import { type EnvironmentView, type LockView, environmentView } from '../operate.ts';
import { stackFile } from './stack-file.ts';

/** `cdk deploy --outputs-file`: `{ "<StackName>": { "<OutputKey>": "value", ... } }`. */
const OUTPUTS_FILE = z.record(z.string(), z.record(z.string(), z.string()));

const STATE_MACHINE_ARN = /^arn:aws[a-z-]*:states:([a-z0-9-]+):\d{12}:stateMachine:[A-Za-z0-9_-]+$/;
const OWNER_NAME = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

/** What the CLI needs of a stack's outputs, checked. */
export interface StackConfig {
  readonly name: string;
  /** The outputs file, as given (for the commands the CLI prints). */
  readonly file: string;
  readonly region: string;
  readonly tableName: string;
  readonly artifactsBucket: string;
  /** owner/name: every run of the stack is of https://github.com/<repository>. */
  readonly repository: string;
  /** The state machine of each workflow the stack deploys, by workflow name. */
  readonly stateMachines: ReadonlyMap<string, string>;
  /** With an approver list, only these may decide (APPROVERS of the stack). */
  readonly approvers?: readonly string[];
  /** The TTL schedules' group; absent in the outputs of a stack deployed before it was one. */
  readonly scheduleGroup?: string;
  /** The drift schedules' group and role; absent in a stack deployed before they were. */
  readonly driftSchedules?: { readonly groupName: string; readonly roleArn: string };
}

/** `PlanApply` → `plan-apply`. */
function kebabCase(pascal: string): string {
  return pascal.replace(
    /[A-Z]/g,
    (c, index: number) => `${index === 0 ? '' : '-'}${c.toLowerCase()}`,
  );
}

/** The stack's outputs from the file; InvalidInput naming --stack when something is missing. */
export async function loadStack(file: string, cwd: string): Promise<StackConfig> {
  let text: string;
  try {
    text = await readFile(resolve(cwd, file), 'utf8');
  } catch (error) {
    throw new InvalidInput('--stack', `cannot read ${file}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InvalidInput(
      '--stack',
      `${file} is not JSON (the file cdk deploy --outputs-file writes)`,
    );
  }
  const stacks = Object.entries(parseInput(OUTPUTS_FILE, json, '--stack'));
  const stepform = stacks.filter(([, outputs]) => outputs.TableName !== undefined);
  const [found, ...others] = stepform;
  if (!found || others.length > 0) {
    throw new InvalidInput(
      '--stack',
      `${file} must hold exactly one Stepform stack's outputs (with TableName); it has ${stepform.length}`,
    );
  }
  const [name, outputs] = found;
  const need = (key: string): string => {
    const value = outputs[key];
    if (value === undefined || value === '')
      throw new InvalidInput(
        '--stack',
        `${file}: ${name} has no output ${key} (deploy the stack again)`,
      );
    return value;
  };
  const stateMachines = new Map<string, string>();
  let region: string | undefined;
  for (const [key, value] of Object.entries(outputs)) {
    const workflow = /^(.+)StateMachineArn$/.exec(key)?.[1];
    if (workflow === undefined) continue;
    const match = STATE_MACHINE_ARN.exec(value);
    if (!match) throw new InvalidInput('--stack', `${file}: ${key} is not a state machine ARN`);
    region = match[1];
    stateMachines.set(kebabCase(workflow), value);
  }
  if (region === undefined)
    throw new InvalidInput('--stack', `${file}: ${name} has no state machines`);
  const repository = need('GitHubRepository');
  if (!OWNER_NAME.test(repository))
    throw new InvalidInput('--stack', `${file}: GitHubRepository must be owner/name`);
  const approvers = outputs.Approvers?.split(',')
    .map((approver) => approver.trim())
    .filter((approver) => approver !== '');
  return {
    name,
    file,
    region,
    tableName: need('TableName'),
    artifactsBucket: need('ArtifactsBucketName'),
    repository,
    stateMachines,
    ...(approvers && approvers.length > 0 ? { approvers } : {}),
    ...(outputs.ScheduleGroupName ? { scheduleGroup: outputs.ScheduleGroupName } : {}),
    ...(outputs.DriftScheduleGroupName && outputs.DriftSchedulerRoleArn
      ? {
          driftSchedules: {
            groupName: outputs.DriftScheduleGroupName,
            roleArn: outputs.DriftSchedulerRoleArn,
          },
        }
      : {}),
  };
}

/** The loose run input every execution of a Stepform workflow has (any workflow). */
const EXECUTION_INPUT = z.looseObject({
  runId: z.string(),
  workflow: z.string(),
  repository: z.string(),
  commit: z.string(),
  projectDir: z.string(),
  environment: z.string(),
  /** A run of several projects (or of one named project): their names and folders. */
  projects: z.array(z.looseObject({ name: z.string(), dir: z.string() })).optional(),
});
type ExecutionInput = z.output<typeof EXECUTION_INPUT>;

const STATUS: Record<ExecutionSummary['status'], RunStatus> = {
  RUNNING: 'running',
  PENDING_REDRIVE: 'running',
  SUCCEEDED: 'succeeded',
  FAILED: 'failed',
  TIMED_OUT: 'failed',
  ABORTED: 'cancelled',
};

/** A run of the stack: its execution and the input it was started with. */
export interface StackRun {
  readonly execution: ExecutionDetail;
  readonly input: ExecutionInput;
}

/** How many runs `runs --stack` shows (each costs a DescribeExecution and a GetItem). */
export const STACK_RUNS_SHOWN = 50;

/** The stack's stores and executions, for one command. */
export class StackOperator {
  readonly config: StackConfig;
  readonly aws: OperatorAdapters;
  /** What the commands the CLI prints add: ` --stack FILE` (nothing when STEPFORM_STACK says it). */
  readonly flag: string;
  /**
   * Executions that had ended when described, by ARN: described again only when a listing
   * shows them otherwise (a redrive runs a failed one again).
   */
  readonly #ended = new Map<string, ExecutionDetail>();
  /**
   * The state machine each run was found in (a run's is fixed at its start): a run is looked
   * for among all of them once, then described there alone.
   */
  readonly #machineOf = new Map<string, string>();

  constructor(config: StackConfig, aws: OperatorAdapters, flag: string) {
    this.config = config;
    this.aws = aws;
    this.flag = flag;
  }

  static async open(values: CliValues, io: Io): Promise<StackOperator> {
    const file = stackFile(values, io.env);
    if (file === undefined) throw new InvalidInput('--stack', 'is required');
    const config = await loadStack(file, io.cwd);
    const aws = operatorAdapters({
      region: config.region,
      tableName: config.tableName,
      artifactsBucket: config.artifactsBucket,
      ...(config.scheduleGroup === undefined ? {} : { scheduleGroup: config.scheduleGroup }),
      // What the executor honours too, for an S3 emulator on loopback.
      s3ForcePathStyle: io.env.STEPFORM_S3_FORCE_PATH_STYLE === 'true',
    });
    return new StackOperator(config, aws, values.stack === undefined ? '' : ` --stack ${file}`);
  }

  close(): void {
    this.aws.close();
  }

  get repositoryUrl(): string {
    return `https://github.com/${this.config.repository}`;
  }

  /** The state machine of a workflow; InvalidInput when the stack does not deploy it. */
  stateMachineOf(workflow: string): string {
    const arn = this.config.stateMachines.get(workflow);
    if (arn === undefined) {
      throw new InvalidInput(
        'workflow',
        `the stack ${this.config.name} has no ${workflow} workflow (no ${workflow} StateMachineArn output)`,
      );
    }
    return arn;
  }

  /** The run's execution, found among the stack's state machines; undefined when none. */
  async find(runId: string): Promise<StackRun | undefined> {
    const known = this.#machineOf.get(runId);
    for (const stateMachineArn of known === undefined
      ? this.config.stateMachines.values()
      : [known]) {
      const execution = await this.aws.executions.describe(executionArnOf(stateMachineArn, runId));
      if (execution) {
        this.#machineOf.set(runId, stateMachineArn);
        return { execution, input: this.#inputOf(execution) };
      }
    }
    return undefined;
  }

  /**
   * The run, of this stack's repository: InvalidInput naming RUN_ID when there is none, or
   * when it is a run of another repository (nothing is done to it).
   */
  async run(runId: string): Promise<StackRun> {
    const found = await this.find(runId);
    if (!found)
      throw new InvalidInput('RUN_ID', `no run ${runId} in the stack ${this.config.name}`);
    try {
      assertPinnedRepository(found.input.repository, {
        kind: 'github',
        repository: this.config.repository,
      });
    } catch {
      throw new InvalidInput(
        'RUN_ID',
        `run ${runId} is of ${found.input.repository}, not of ${this.repositoryUrl} (this stack's repository)`,
      );
    }
    return found;
  }

  #inputOf(execution: ExecutionDetail): ExecutionInput {
    let json: unknown;
    try {
      json = JSON.parse(execution.input);
    } catch {
      json = undefined;
    }
    const parsed = EXECUTION_INPUT.safeParse(json);
    // An execution not started by Stepform (or with a broken input) shows what it has.
    return parsed.success
      ? parsed.data
      : {
          runId: execution.name,
          workflow: '?',
          repository: '?',
          commit: '?',
          projectDir: '?',
          environment: '?',
        };
  }

  /** The run as the verbs render it: its execution's status, its item's details and phase. */
  async row({ execution, input }: StackRun): Promise<RunRow> {
    const details = await this.aws.runs.getRunDetails(execution.name);
    const phase = typeof details.phase === 'string' ? details.phase : null;
    const error =
      execution.error === undefined
        ? null
        : `${execution.error}${execution.cause ? `: ${execution.cause}` : ''}`;
    return {
      runId: execution.name,
      workflow: input.workflow,
      environment: input.environment,
      projectDir: input.projectDir,
      repository: input.repository,
      commit: input.commit,
      status: STATUS[execution.status],
      phase,
      startedAt: execution.startDate,
      finishedAt: execution.stopDate ?? null,
      error,
      details,
    };
  }

  /**
   * The run's details once `recorded` holds for them (ExecutionEnded settles an ended
   * execution within seconds of its end), or as they are after `timeoutMs`.
   */
  async awaitDetails(
    runId: string,
    recorded: (details: Record<string, unknown>) => boolean,
    timeoutMs: number,
  ): Promise<Record<string, unknown>> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const details = await this.aws.runs.getRunDetails(runId);
      if (recorded(details) || performance.now() > deadline) return details;
      await sleep(500);
    }
  }

  /** The newest runs of every workflow, newest first. */
  async runs(limit = STACK_RUNS_SHOWN): Promise<RunRow[]> {
    const lists = await Promise.all(
      [...this.config.stateMachines.values()].map(async (arn) =>
        this.aws.executions.list(arn, limit),
      ),
    );
    const newest = lists
      .flat()
      .sort((a, b) => b.startDate.localeCompare(a.startDate))
      .slice(0, limit);
    for (const summary of newest) this.#machineOf.set(summary.name, summary.stateMachineArn);
    return Promise.all(
      newest.map(async (summary) => {
        const execution = await this.#describe(summary);
        return this.row({ execution, input: this.#inputOf(execution) });
      }),
    );
  }

  async #describe(summary: ExecutionSummary): Promise<ExecutionDetail> {
    const known = this.#ended.get(summary.executionArn);
    if (known?.status === summary.status && known.stopDate === summary.stopDate) return known;
    const execution = await this.aws.executions.describe(summary.executionArn);
    if (!execution) throw new Error(`execution ${summary.executionArn} vanished`);
    if (execution.status !== 'RUNNING' && execution.status !== 'PENDING_REDRIVE')
      this.#ended.set(execution.executionArn, execution);
    return execution;
  }

  /** The state steps of the run's execution, as the local engine records its own. */
  async events(executionArn: string): Promise<Omit<RunEventRow, 'runId' | 'seq'>[]> {
    const history = await this.aws.executions.history(executionArn);
    return stateEvents(history).map((e) => ({
      at: e.at,
      type: e.type,
      state: e.state,
      durationMs: e.durationMs ?? null,
      detail: e.error ?? null,
    }));
  }

  /**
   * Every lock (one per environment and project); `held` while its run's execution is
   * RUNNING, `stale` otherwise. Its project's folder is the run input's.
   */
  async locks(): Promise<LockView[]> {
    const locks = await this.aws.locks.list();
    return Promise.all(
      locks.map(async (lock) => {
        const owner = await this.find(lock.owner);
        const alive = owner?.execution.status === 'RUNNING';
        const dir =
          owner?.input.projects?.find((project) => project.name === lock.project)?.dir ??
          lock.project;
        return {
          ...lock,
          dir,
          holder: owner ? { executionArn: owner.execution.executionArn } : null,
          state: alive ? ('held' as const) : ('stale' as const),
        };
      }),
    );
  }

  /** Every environment and project, with its last good commit, TTL and lock. */
  async environments(): Promise<EnvironmentView[]> {
    const [records, locks] = await Promise.all([this.aws.records.listEnvironments(), this.locks()]);
    return Promise.all(
      records.map(async (record) => {
        const lastGood = await this.aws.records.getLastGood(record.environment, record.projectDir);
        // The destroy the TTL scheduled, as the run that scheduled (or moved) it recorded.
        const destroyAt = record.status === 'active' ? record.ttlExpiresAt : null;
        return environmentView(record, lastGood, destroyAt, locks);
      }),
    );
  }
}

/**
 * Where the TTL schedules of live ephemeral projects are: one per ephemeral run (the records
 * name it), kept under its one project's folder or under the folder its projects share;
 * `dirs` are the projects it covers.
 */
export function scheduleFolders(
  live: readonly { environment: string; projectDir: string; lastRunId: string }[],
): { environment: string; projectDir: string; dirs: string[] }[] {
  const runs = new Map<string, { environment: string; dirs: string[] }>();
  for (const project of live) {
    const run = runs.get(project.lastRunId) ?? { environment: project.environment, dirs: [] };
    run.dirs.push(project.projectDir);
    runs.set(project.lastRunId, run);
  }
  return [...runs.values()].map(({ environment, dirs }) => ({
    environment,
    projectDir: dirs.length === 1 && dirs[0] !== undefined ? dirs[0] : commonDir(dirs),
    dirs,
  }));
}

/** Runs `work` with the stack's operator, closed after. */
export async function withStack<T>(
  values: CliValues,
  io: Io,
  work: (stack: StackOperator) => Promise<T>,
): Promise<T> {
  const stack = await StackOperator.open(values, io);
  try {
    return await work(stack);
  } finally {
    stack.close();
  }
}
