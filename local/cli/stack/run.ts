// plan, apply, ephemeral, destroy against a deployed stack: the run input the local verb builds
// (of the stack's GitHub repository, at a commit of the local clone), started as an execution
// named by its run id, then watched: the progress lines, the approval commands and the summary
// the local verbs print, from the execution's history and the run's item.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Workflow } from '../../../core/contracts/workflow-input.ts';
import { InvalidInput } from '../../../core/errors.ts';
import { stateEvents } from '../../../adapters/aws/sfn.ts';
import { confirmDestroy } from '../confirm-destroy.ts';
import { RUN_INPUT } from '../../../core/contracts/workflow-input.ts';
import { parseInput } from '../../../core/validation.ts';
import { type CommandLineToken, commandArguments, commandRunInput } from '../command.ts';
import {
  checkProjectDirAtCommit,
  hasUncommittedChanges,
  resolveCommit,
  resolveProjectDir,
  resolveRepository,
} from '../context.ts';
import { ttlArguments } from '../ttl.ts';
import type { Io } from '../io.ts';
import type { CliValues } from '../main.ts';
import {
  CANCEL_SIGNALS,
  EXIT_CODES,
  approvalNeeded,
  progressLine,
  renderRunEnd,
  renderNothing,
  runHeader,
  runInputFromFlags,
} from '../run-verbs.ts';
import type { RunRow } from '../../engine/store/sqlite-runs.ts';
import { stackPolicyResults } from './policy-results.ts';
import { type StackOperator, scheduleFolders, withStack } from './stack.ts';

/**
 * The prefix of the run ids (= execution names) the CLI starts on a stack: `cli-` and the
 * local engine's form (UTC stamp, random suffix); the GitHub Action's are `gh-`
 * (ACTION_EXECUTION_PREFIX), so whoever reads the executions knows who started each.
 */
export const CLI_EXECUTION_PREFIX = 'cli-';

export function newStackRunId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${CLI_EXECUTION_PREFIX}${stamp}-${randomBytes(3).toString('hex')}`;
}

/** How often the history is read while a run is watched. */
const POLL_MS = 1_000;
/** How long the summary waits for ExecutionEnded to record a run that ended without its tail. */
const SETTLE_MS = 20_000;

export async function stackRunVerb(workflow: Workflow, values: CliValues, io: Io): Promise<number> {
  // The stack never skips an apply's approval (its allowAutoApprove is off): refused before
  // anything starts, rather than failing in PrepareRun. A destroy may skip its own, as the TTL
  // schedule's and a closed pull request's do, except in a protected environment (PrepareRun).
  if (values['auto-approve'] === true && workflow !== 'destroy') {
    throw new InvalidInput(
      '--auto-approve',
      'a deployed stack never skips its approval: approve the run (stepform approve RUN_ID --stack …)',
    );
  }
  return withStack(values, io, async (stack) => {
    const stateMachineArn = stack.stateMachineOf(workflow);
    const run = await runInputFromFlags(workflow, values, io, {
      repository: stack.repositoryUrl,
      runId: newStackRunId(),
    });
    if ('nothing' in run) return renderNothing(run, values, io);
    const clone = await resolveRepository(values.repo, io.cwd);
    if (await hasUncommittedChanges(clone, run.projectDir)) {
      io.err(
        `warning: ${run.projectDir} has uncommitted changes; the stack runs commit ${run.commit.slice(0, 12)} as pushed to GitHub\n`,
      );
    }
    if (workflow === 'destroy') await confirmDestroy(run, { yes: values.yes === true }, io);
    return startAndWatch(stack, stateMachineArn, run, values, io);
  });
}

/** What a run started on the stack needs to be watched. */
interface StackRunInput {
  readonly runId: string;
  readonly workflow: string;
  readonly projectDir: string;
  readonly environment: string;
  readonly commit: string;
}

/**
 * Starts the run input on the stack (any workflow: the caller built and checked the input)
 * and watches it to its end; Ctrl-C stops the execution and exits 130.
 */
export async function startAndWatch(
  stack: StackOperator,
  stateMachineArn: string,
  run: StackRunInput,
  values: CliValues,
  io: Io,
): Promise<number> {
  const { row, error, cancelled } = await startAndFollow(stack, stateMachineArn, run, values, io);
  // Each set's verdict, as locally: a result that cannot be read leaves them out, said so.
  const policy = await stackPolicyResults(stack.aws.artifacts, run.runId).catch(
    (failure: unknown) => {
      io.err(`warning: policy results not read: ${(failure as Error).message}\n`);
      return [];
    },
  );
  renderRunEnd(row, error ? { error } : undefined, values, io, stack.flag, policy);
  // Stopped here (Ctrl-C) or by `stepform cancel` elsewhere: 130, as locally.
  if (cancelled) return EXIT_CODES.cancelled;
  return EXIT_CODES[row.status === 'running' ? 'failed' : row.status];
}

/**
 * Starts the run on the stack and follows it to its end, printing its progress lines (and
 * the approve / reject commands when it waits): its row as the run's item records it, and
 * its execution's error. Ctrl-C stops the execution (`cancelled`).
 */
export async function startAndFollow(
  stack: StackOperator,
  stateMachineArn: string,
  run: StackRunInput,
  values: CliValues,
  io: Io,
): Promise<{ row: RunRow; error?: { name: string; message: string }; cancelled: boolean }> {
  const json = values.json === true;
  const say = json ? io.err : io.out;
  const { executions } = stack.aws;
  say(runHeader(run));
  const executionArn = await executions.start(stateMachineArn, run.runId, run);
  let cancelling: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (cancelling) return;
    io.err(`\n${signal}: cancelling run ${run.runId}: stopping its execution\n`);
    cancelling = executions
      .stop(executionArn, `cancelled by ${signal} in the terminal that started it`)
      .catch((error: unknown) => {
        io.err(`could not stop ${executionArn}: ${(error as Error).message}\n`);
      });
  };
  for (const signal of CANCEL_SIGNALS) process.on(signal, onSignal);
  try {
    let shown = 0;
    // Each approval once: a policy override, then the plans' approval.
    const asked = new Set<string>();
    for (;;) {
      const execution = await executions.describe(executionArn);
      const steps = stateEvents(await executions.history(executionArn));
      for (const step of steps.filter((s) => s.id > shown)) {
        const line = progressLine({
          runId: run.runId,
          ...step,
          // The name only: the run's end shows the error whole, once.
          ...(step.error === undefined ? {} : { errorName: step.error.split(': ')[0] ?? '' }),
        });
        if (line) say(`${line}\n`);
        shown = step.id;
      }
      const waiting = steps.at(-1);
      if (
        waiting?.type === 'entered' &&
        (waiting.state === 'RequestApproval' || waiting.state === 'RequestPolicyOverride')
      ) {
        const approval = await stack.aws.approvals.latestForRun(run.runId);
        if (approval?.status === 'pending' && !asked.has(approval.id)) {
          asked.add(approval.id);
          const override = approval.subject?.policy;
          say(
            approvalNeeded(
              {
                runId: run.runId,
                expiresAt: approval.expiresAt,
                ...(override === undefined ? {} : { policyOverride: override }),
              },
              stack.flag,
            ),
          );
        }
      }
      if (execution && execution.status !== 'RUNNING') {
        await cancelling;
        // An execution that ended without its tail (stopped, or an error no Catch matched) is
        // recorded by ExecutionEnded a moment later: its summary waits for that, briefly.
        await stack.awaitDetails(run.runId, (details) => details.outcome !== undefined, SETTLE_MS);
        const row = await stack.row({
          execution,
          input: { ...run, repository: stack.repositoryUrl },
        });
        const cancelled = cancelling !== undefined;
        if (execution.error === undefined) return { row, cancelled };
        return { row, error: { name: execution.error, message: execution.cause ?? '' }, cancelled };
      }
      await sleep(POLL_MS);
    }
  } finally {
    for (const signal of CANCEL_SIGNALS) process.off(signal, onSignal);
  }
}

/** The projects of an environment the stack has a record of, by the views `envs` shows. */
async function projectsOf(stack: StackOperator, environment: string) {
  return (await stack.environments()).filter((view) => view.environment === environment);
}

/**
 * One project of the environment: --dir (which must be among them, or among a candidate's
 * `dirs`), else the only one; exit 2 naming the flag otherwise. `what` says which projects count, for the messages.
 */
async function oneProject(
  candidates: readonly { projectDir: string; dirs?: readonly string[] }[],
  environment: string,
  values: CliValues,
  io: Io,
  what: string,
): Promise<string> {
  if (values.dir !== undefined) {
    const clone = await resolveRepository(values.repo, io.cwd);
    const projectDir = await resolveProjectDir(clone, values.dir, io.cwd);
    // A project of a run of several stands for the run (one schedule covers them all).
    const found = candidates.find(
      (c) => c.projectDir === projectDir || c.dirs?.includes(projectDir) === true,
    );
    if (found === undefined)
      throw new InvalidInput('--dir', `${environment} has no ${what} ${projectDir} on the stack`);
    return found.projectDir;
  }
  const [only, ...others] = candidates;
  if (only === undefined)
    throw new InvalidInput('ENV', `the stack has no ${what} environment named ${environment}`);
  if (others.length > 0) {
    const dirs = candidates.map((c) => c.projectDir).join(', ');
    throw new InvalidInput('--dir', `${environment} has several (${dirs}): say which with --dir`);
  }
  return only.projectDir;
}

/** ttl ENV DURATION | ENV --cancel on the stack: its live ephemeral project's schedule. */
export async function stackTtlVerb(
  positionals: readonly string[],
  values: CliValues,
  io: Io,
): Promise<number> {
  const { environment, change } = ttlArguments(positionals, values);
  return withStack(values, io, async (stack) => {
    const stateMachineArn = stack.stateMachineOf('ttl');
    const live = (await projectsOf(stack, environment)).filter(
      (view) => view.status === 'active' && view.destroyAt !== null,
    );
    const candidates = scheduleFolders(live);
    const projectDir = await oneProject(candidates, environment, values, io, 'live ephemeral');
    const clone = await resolveRepository(values.repo, io.cwd);
    const run = parseInput(
      RUN_INPUT,
      {
        runId: newStackRunId(),
        workflow: 'ttl',
        repository: stack.repositoryUrl,
        commit: await resolveCommit(clone, values.commit),
        projectDir,
        environment,
        ...change,
      },
      'input',
    );
    return startAndWatch(stack, stateMachineArn, run, values, io);
  });
}

/** command --env ENV [--dir DIR] -- ARGS on the stack: a project it has applied there. */
export async function stackCommandVerb(
  tokens: readonly CommandLineToken[],
  values: CliValues,
  io: Io,
): Promise<number> {
  const { args, environment } = commandArguments(tokens, values);
  if (values['auto-approve'] === true) {
    throw new InvalidInput(
      '--auto-approve',
      'a deployed stack never skips its approval: approve the run (stepform approve RUN_ID --stack …)',
    );
  }
  return withStack(values, io, async (stack) => {
    const stateMachineArn = stack.stateMachineOf('command');
    const applied = (await projectsOf(stack, environment)).filter(
      (view) => view.status !== 'destroyed',
    );
    const projectDir = await oneProject(applied, environment, values, io, 'applied');
    const clone = await resolveRepository(values.repo, io.cwd);
    const commit = await resolveCommit(clone, values.commit);
    await checkProjectDirAtCommit(clone, commit, projectDir);
    const run = commandRunInput({
      runId: newStackRunId(),
      repository: stack.repositoryUrl,
      commit,
      projectDir,
      environment,
      args,
      values,
    });
    return startAndWatch(stack, stateMachineArn, run, values, io);
  });
}
