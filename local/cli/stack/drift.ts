// drift against a deployed stack. Without --schedule: the local verb's drift runs (one per
// environment: --env, else every environment the stack has a record of), each started on the
// stack's drift workflow and followed to its end, then the same report and exit codes (0 no
// drift, 3 drift, 1 failed). With --schedule: stepform.yaml's drift.schedule at the clone's
// HEAD written to the stack's EventBridge Scheduler, one schedule per environment, and the
// ones the file no longer has removed; the stack then checks drift by itself.
import { RUN_ID_LIMIT } from '../../../core/contracts/job-input.ts';
import type { RunContext } from '../../../core/contracts/workflow-input.ts';
import { driftEnvironments } from '../../../core/config/stepform-config.ts';
import { scheduledDriftRunId } from '../../../core/drift-schedule.ts';
import { InvalidInput } from '../../../core/errors.ts';
import { configAtCommit } from '../../../adapters/git/repository-at-commit.ts';
import { resolveCommit, resolveRepository } from '../context.ts';
import { type EndedDriftRun, driftInput, renderDriftRuns } from '../drift.ts';
import type { Io } from '../io.ts';
import type { CliValues } from '../main.ts';
import { newStackRunId, startAndFollow } from './run.ts';
import { type StackOperator, withStack } from './stack.ts';

export function stackDriftVerb(values: CliValues, io: Io): Promise<number> {
  return withStack(values, io, (stack) =>
    values.schedule === true
      ? writeDriftSchedule(stack, values, io)
      : checkDrift(stack, values, io),
  );
}

/** The environments a check covers: --env, else those the stack has a live record of. */
async function environmentsOf(stack: StackOperator, values: CliValues): Promise<string[]> {
  if (values.env !== undefined) return [values.env];
  const records = await stack.aws.records.listEnvironments();
  const live = records.filter((record) => record.status !== 'destroyed');
  return [...new Set(live.map((record) => record.environment))].sort();
}

async function checkDrift(stack: StackOperator, values: CliValues, io: Io): Promise<number> {
  const stateMachineArn = stack.stateMachineOf('drift');
  const clone = await resolveRepository(values.repo, io.cwd);
  const commit = await resolveCommit(clone, undefined);
  const runs: EndedDriftRun[] = [];
  for (const environment of await environmentsOf(stack, values)) {
    const input = await driftInput(values, io, clone, commit, environment, {
      runId: newStackRunId(),
      repository: stack.repositoryUrl,
    });
    if (input === undefined) continue;
    const ended = await startAndFollow(stack, stateMachineArn, input, values, io);
    runs.push({
      row: ended.row,
      // The row's status is the local engine's: succeeded, failed or cancelled.
      status: ended.cancelled ? 'cancelled' : ended.row.status,
      ...(ended.error === undefined ? {} : { error: ended.error }),
    });
    if (ended.cancelled) break;
  }
  return renderDriftRuns(runs, commit, values, io);
}

/**
 * Writes the drift schedules from stepform.yaml at HEAD (which must be pushed: each fire
 * plans the last applied commits, and takes its project list from this commit's file).
 */
async function writeDriftSchedule(
  stack: StackOperator,
  values: CliValues,
  io: Io,
): Promise<number> {
  for (const flag of ['env', 'project', 'dir', 'all'] as const) {
    if (values[flag] !== undefined) {
      throw new InvalidInput(
        `--${flag}`,
        'is not for --schedule: stepform.yaml says what is checked',
      );
    }
  }
  const target = stack.config.driftSchedules;
  if (target === undefined) {
    throw new InvalidInput(
      '--stack',
      `${stack.config.file}: ${stack.config.name} has no output DriftScheduleGroupName and DriftSchedulerRoleArn (deploy the stack again)`,
    );
  }
  const stateMachineArn = stack.stateMachineOf('drift');
  const clone = await resolveRepository(values.repo, io.cwd);
  const commit = await resolveCommit(clone, undefined);
  const config = await configAtCommit(clone, commit);
  const expression = config?.drift?.schedule;
  const runs: RunContext[] = [];
  if (config !== undefined && expression !== undefined) {
    for (const environment of driftEnvironments(config)) {
      const run = await driftInput({}, io, clone, commit, environment, {
        runId: scheduledDriftRunId(environment, RUN_ID_LIMIT),
        repository: stack.repositoryUrl,
      });
      if (run !== undefined) runs.push(run);
    }
  }
  const schedules = stack.aws.driftSchedules({ ...target, stateMachineArn });
  const { written, removed } = await schedules.reconcile(expression, runs);
  if (values.json === true) {
    const result = {
      schedule: expression ?? null,
      group: target.groupName,
      commit,
      written,
      removed,
    };
    io.out(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  }
  if (expression === undefined) io.out('stepform.yaml has no drift.schedule\n');
  for (const { name, expression: when, environment } of written)
    io.out(`drift schedule ${name}: ${when} (UTC) checks ${environment}\n`);
  for (const name of removed) io.out(`drift schedule ${name}: removed\n`);
  return 0;
}
