// plan, apply, ephemeral, destroy (and ttl, command: ttl.ts, command.ts): one workflow run
// each, on the embedded engine, with a progress line per state as it happens.
import { approvalDiffs } from './show.ts';
import { join } from 'node:path';
import { z } from 'zod';
import { CHANGE_COUNTS, formatCounts } from '../../core/contracts/job-result.ts';
import { InvalidInput } from '../../core/errors.ts';
import { DEFAULT_TTL_BOUNDS, parseTtl } from '../../core/duration.ts';
import {
  MAX_APPROVAL_TIMEOUT_SECONDS,
  RUN_INPUT,
  type RunContext,
  type Workflow,
  POLICY_OVERRIDE,
  type PolicyOverride,
} from '../../core/contracts/workflow-input.ts';
import { parseInput } from '../../core/validation.ts';
import type { RunOutcome, StateProgress } from '../engine/engine.ts';
import type { ApprovalRequest } from '../engine/handlers.ts';
import { homeLayout } from '../engine/home.ts';
import { LocalEngine } from '../engine/local-engine.ts';
import type { RunRow } from '../engine/store/sqlite-runs.ts';
import {
  flagFor,
  hasUncommittedChanges,
  resolveHome,
  resolveCommit,
  resolveRepository,
} from './context.ts';
import { MULTI_PROJECT_WORKFLOWS } from '../../core/run.ts';
import { type PolicyResult, summarizePolicies } from '../../core/policy.ts';
import { overrideActor, overrideSentence } from '../../core/decision-actor.ts';
import { runPolicyResults } from '../engine/policy-results.ts';
import { policyLines } from './policy-lines.ts';
import { selectRun } from './selection.ts';
import { confirmDestroy } from './confirm-destroy.ts';
import type { Io } from './io.ts';
import type { CliValues } from './main.ts';
import { type DescribedError, errorHint, errorLabel } from '../../core/error-hints.ts';
import { errorText, parseErrorString } from './error-text.ts';

const DEFAULT_APPROVAL_TIMEOUT = '1h';
export const CANCEL_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
/** 130: what a shell reports for a command stopped by Ctrl-C. */
export const EXIT_CODES = { succeeded: 0, failed: 1, cancelled: 130 } as const;
const APPROVAL_TIMEOUT_BOUNDS = { minMs: 1000, maxMs: MAX_APPROVAL_TIMEOUT_SECONDS * 1000 };

function seconds(ms: number | undefined): string {
  return ms === undefined ? '' : ` (${ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`})`;
}

/** The first line of a run verb: what runs where, and its run id. */
export function runHeader(
  run: Pick<RunContext, 'projectDir' | 'environment' | 'commit' | 'runId'> & { workflow: string },
): string {
  return `${run.workflow} ${run.projectDir} in ${run.environment} at ${run.commit.slice(0, 12)} (run ${run.runId})\n`;
}

/** Long states say when they start; every state says how it ended. */
const LONG_STATES = /^(Run.*Job|RequestApproval)( \[[^\]]+\])?$/;

export function progressLine(progress: StateProgress): string | undefined {
  switch (progress.type) {
    case 'entered':
      return LONG_STATES.test(progress.state) ? `  … ${progress.state}` : undefined;
    case 'exited':
      return `  ✓ ${progress.state}${seconds(progress.durationMs)}`;
    case 'failed':
      // A state's error by its names (the run's end shows it whole); anything else as it is.
      return `  ✗ ${progress.state}${seconds(progress.durationMs)}: ${
        progress.errorName === undefined
          ? (progress.error ?? '')
          : errorLabel(parseErrorString(progress.error ?? progress.errorName))
      }`;
    case 'retried':
      return `  ↻ ${progress.state}: retrying`;
    case 'caught':
      return `  ↪ ${progress.state}: error caught`;
  }
}

const RUN_COMMAND = z.looseObject({
  name: z.string(),
  args: z.array(z.string()),
  output: z.string(),
});

/** A command run's command and its masked output, as its Record step kept them. */
export function commandOf(
  row: RunRow,
): { name: string; args: string[]; output: string } | undefined {
  const parsed = RUN_COMMAND.safeParse(row.details.command);
  if (!parsed.success) return undefined;
  const { name, args, output } = parsed.data;
  return { name, args, output };
}

const PROJECT_REPORT = z.looseObject({
  name: z.string(),
  dir: z.string(),
  layer: z.number(),
  workspace: z.string().nullable().default(null),
  status: z.string(),
  summary: z
    .looseObject({ add: z.number(), change: z.number(), destroy: z.number() })
    .nullable()
    .default(null),
  outputs: z.record(z.string(), z.unknown()).default({}),
  startedAt: z.string().nullable().default(null),
  finishedAt: z.string().nullable().default(null),
  error: z.looseObject({ name: z.string(), message: z.string() }).optional(),
});
export type ProjectJson = z.output<typeof PROJECT_REPORT>;

/**
 * Each project the run covered, in execution order: what its Record step kept, or for a run
 * of one project without reports, that project as Record named it (else as the run's folder).
 */
export function projectsOf(row: RunRow): ProjectJson[] {
  const reports = z.array(PROJECT_REPORT).safeParse(row.details.projects);
  if (reports.success) {
    return reports.data.map((p) => ({
      name: p.name,
      dir: p.dir,
      layer: p.layer,
      workspace: p.workspace,
      status: p.status,
      summary: p.summary ?? null,
      outputs: p.outputs,
      startedAt: p.startedAt,
      finishedAt: p.finishedAt,
      ...(p.error ? { error: p.error } : {}),
    }));
  }
  const covered = z
    .array(z.looseObject({ name: z.string(), dir: z.string(), workspace: z.string().optional() }))
    .safeParse(row.details.covered);
  const only = covered.success && covered.data.length === 1 ? covered.data[0] : undefined;
  return [
    {
      name: only?.name ?? row.projectDir,
      dir: only?.dir ?? row.projectDir,
      layer: 0,
      workspace: only?.workspace ?? null,
      status: row.status,
      summary: CHANGE_COUNTS.safeParse(row.details.summary).data ?? null,
      outputs: (row.details.outputs as Record<string, unknown> | undefined) ?? {},
      startedAt: row.startedAt,
      finishedAt: row.finishedAt,
    },
  ];
}

const DISPATCH_REPORT = z.looseObject({
  repository: z.string(),
  eventType: z.string(),
  status: z.enum(['sent', 'failed']),
  error: z.string().optional(),
});

/** The after_apply dispatches Notify made for the run, as it kept them. */
export function dispatchesOf(row: RunRow): z.output<typeof DISPATCH_REPORT>[] {
  const parsed = z.array(DISPATCH_REPORT).safeParse(row.details.dispatches);
  return parsed.success ? parsed.data : [];
}

/**
 * The errors a run's end shows, each once: the run's own, then a project's whose message the
 * run's does not already carry (the run names its first failed project's error).
 */
export function runErrors(
  row: RunRow,
  outcome: Pick<RunOutcome, 'error'> | undefined,
): DescribedError[] {
  const own = outcome?.error ?? (row.error ? parseErrorString(row.error) : undefined);
  const shown: DescribedError[] = own ? [own] : [];
  for (const project of projectsOf(row)) {
    const error = project.error;
    if (error && !shown.some((e) => e.message.includes(error.message))) shown.push(error);
  }
  return shown;
}

/** The one JSON object a run verb prints with --json. */
export function runJson(
  row: RunRow,
  outcome?: Pick<RunOutcome, 'error'>,
  policy: readonly PolicyResult[] = [],
): Record<string, unknown> {
  const failure: DescribedError | undefined =
    outcome?.error ?? (row.error === null ? undefined : parseErrorString(row.error));
  // What to do next, as the terminal prints it under the error.
  const hint = failure === undefined ? undefined : errorHint(failure);
  const override = policyOverrideOf(row);
  return {
    runId: row.runId,
    workflow: row.workflow,
    status: row.status,
    environment: row.environment,
    projectDir: row.projectDir,
    commit: row.commit,
    phase: row.phase,
    summary: row.details.summary ?? null,
    ...(row.details.outputs ? { outputs: row.details.outputs } : {}),
    ...(row.details.rollback ? { rollback: row.details.rollback } : {}),
    ...(row.details.command ? { command: commandOf(row) } : {}),
    ...(row.details.schedule ? { schedule: row.details.schedule } : {}),
    ...(row.details.dispatches ? { dispatches: dispatchesOf(row) } : {}),
    ...(outcome?.error ? { error: outcome.error } : row.error ? { error: row.error } : {}),
    ...(hint === undefined ? {} : { hint }),
    ...(policy.length === 0 && override === undefined
      ? {}
      : {
          policy: {
            ...summarizePolicies(policy),
            ...(override === undefined ? {} : { override }),
          },
        }),
    projects: projectsOf(row),
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
}

/** --approval-timeout (default 1h) in seconds. */
export function approvalTimeoutSeconds(values: CliValues): number {
  // Whole seconds from 1 s to the longest an approval may wait: `0s` is refused, not rounded up.
  const approvalMs = parseTtl(
    values['approval-timeout'] ?? DEFAULT_APPROVAL_TIMEOUT,
    APPROVAL_TIMEOUT_BOUNDS,
    '--approval-timeout',
  );
  return approvalMs / 1000;
}

/**
 * What a run waiting for its approval prints: the commands that decide it (with `--stack`
 * when it runs on a stack), and locally the links `stepform serve` answers.
 */
export function approvalNeeded(
  request: Pick<
    ApprovalRequest,
    'runId' | 'expiresAt' | 'approveUrl' | 'approverLinks' | 'policyOverride'
  >,
  stackFlag = '',
): string {
  const override = request.policyOverride;
  if (override !== undefined) {
    const [owner = 'OWNER'] = override.owners;
    return [
      `  blocked by ${override.blockedBy.join(', ')}: an owner may override (expires ${request.expiresAt}):`,
      `    owners: ${override.owners.join(', ')}`,
      `    override: npx stepform approve ${request.runId} --by ${owner} --reason "why"${stackFlag}`,
      `    refuse:   npx stepform reject ${request.runId} --by ${owner}${stackFlag}`,
      ...linkLines(request, ['override', 'refuse'], stackFlag),
      '',
    ].join('\n');
  }
  return [
    `  approval needed (expires ${request.expiresAt}):`,
    `    approve: npx stepform approve ${request.runId}${stackFlag}`,
    `    reject:  npx stepform reject ${request.runId}${stackFlag}`,
    // Printed to the terminal that ran the run, never to a shared channel.
    ...(request.approveUrl === undefined ? [] : [`    or open ${request.approveUrl}`]),
    ...linkLines(request, ['approve', 'reject'], stackFlag),
    '',
  ].join('\n');
}

/** Each approver's own pair of links, and locally who answers them. */
function linkLines(
  request: Pick<ApprovalRequest, 'approverLinks'>,
  [yes, no]: readonly [string, string],
  stackFlag: string,
): string[] {
  const width = Math.max(yes.length, no.length);
  return [
    ...(request.approverLinks ?? []).flatMap((links) => [
      `    as ${links.approver}: ${yes.padEnd(width)} ${links.approve}`,
      `    as ${links.approver}: ${no.padEnd(width)} ${links.reject}`,
    ]),
    ...(stackFlag === '' ? ['    (links are answered by `npx stepform serve`)'] : []),
  ];
}

/** The owner's override of a blocking policy the run recorded, if any. */
function policyOverrideOf(row: RunRow): PolicyOverride | undefined {
  const parsed = POLICY_OVERRIDE.safeParse(row.details.policyOverride);
  return parsed.success ? parsed.data : undefined;
}

/** The end of a run verb: the JSON result, or the status line, rollback or error, logs hint. */
export function renderRunEnd(
  row: RunRow,
  outcome: Pick<RunOutcome, 'error'> | undefined,
  values: CliValues,
  io: Io,
  stackFlag = '',
  policy: readonly PolicyResult[] = [],
): void {
  const errors = runErrors(row, outcome);
  const rollback = row.details.rollback as { message?: string } | undefined;
  // The error goes to stderr, once and whole (the progress lines named it only); a rollback's
  // message says what failed and what became of it instead.
  const showErrors = () => {
    if (rollback?.message) return;
    for (const error of errors)
      io.err(errorText(error, { prefix: 'error: ', repository: row.repository }));
  };
  if (values.json === true) {
    io.out(`${JSON.stringify(runJson(row, outcome, policy), null, 2)}\n`);
    showErrors();
    return;
  }
  const summary = CHANGE_COUNTS.safeParse(row.details.summary);
  const counts = summary.success ? ` ${formatCounts(summary.data)}` : '';
  io.out(`run ${row.runId}: ${row.status} (${row.phase ?? 'no phase'})${counts}\n`);
  const projects = projectsOf(row);
  if (projects.length > 1) {
    const width = Math.max(...projects.map((p) => p.name.length));
    for (const project of projects) {
      const own = project.summary;
      // Its error's name: the message is shown once, below.
      const what = project.error ? project.error.name : own ? formatCounts(own) : '';
      io.out(
        `  layer ${project.layer}  ${project.name.padEnd(width)}  ${project.status.padEnd(8)} ${what}\n`,
      );
    }
  }
  if (rollback?.message) io.out(`  ${rollback.message.split('\n').join('\n    ')}\n`);
  for (const line of policyLines(policy)) io.out(`${line}\n`);
  const override = policyOverrideOf(row);
  if (override !== undefined)
    io.out(`  ${overrideSentence('approved', overrideActor(override))}\n`);
  showErrors();
  const schedule = row.details.schedule as { fireAt?: string | null } | undefined;
  if (schedule?.fireAt === null) io.out(`  no scheduled destroy: kept until destroyed by hand\n`);
  else if (schedule?.fireAt) io.out(`  destroy scheduled at ${schedule.fireAt}\n`);
  for (const sent of dispatchesOf(row)) {
    io.out(
      sent.status === 'sent'
        ? `  dispatched ${sent.eventType} to ${sent.repository}${stackFlag === '' ? ' (recorded in the run, not sent: local runs never call GitHub)' : ''}\n`
        : `  dispatch ${sent.eventType} to ${sent.repository} failed: ${sent.error ?? 'unknown error'}\n`,
    );
  }
  const command = commandOf(row);
  if (command) io.out(`\n${command.output}${command.output.endsWith('\n') ? '' : '\n'}\n`);
  io.out(`  logs: npx stepform logs ${row.runId}${stackFlag}\n`);
}

/**
 * Builds and checks the run input; a bad value names the flag that set it. The commit and the
 * project folder come from the local clone; `target` names the repository the run is of and
 * its run id when that is not the clone (a stack runs its GitHub repository).
 */
export async function runInputFromFlags(
  workflow: Workflow,
  values: CliValues,
  io: Io,
  target: { repository?: string; runId?: string } = {},
): Promise<RunContext | Nothing> {
  const repository = await resolveRepository(values.repo, io.cwd);
  const commit = await resolveCommit(repository, values.commit);
  if (workflow === 'ephemeral' && values.ttl === undefined)
    throw new InvalidInput('--ttl', 'is required for an ephemeral environment');
  // Only a plan has a default environment: what changes an environment names it.
  if (workflow !== 'plan' && values.env === undefined)
    throw new InvalidInput('--env', `is required: ${workflow} changes the environment it names`);
  const environment = values.env ?? 'dev';
  const selection = await selectRun(values, repository, commit, environment, io.cwd);
  if (selection.nothing !== undefined) {
    return { nothing: selection.nothing, workflow, environment, commit, base: selection.base };
  }
  const {
    projectDir,
    projects,
    maxParallel,
    afterApply,
    policies,
    environmentConfig: settings,
  } = selection;
  // stepform.yaml's `approval.required`: every apply and destroy there waits, whatever
  // --auto-approve says; so does every destroy of a protected environment (PrepareRun).
  const approvalRequired = settings?.approval?.required === true;
  if (approvalRequired && values['auto-approve'] === true) {
    io.err(
      `warning: ${environment} requires an approval (stepform.yaml): --auto-approve is ignored\n`,
    );
  } else if (
    workflow === 'destroy' &&
    selection.protectedEnvironment === true &&
    values['auto-approve'] === true
  ) {
    io.err(
      `warning: ${environment} is protected (stepform.yaml): its destroy waits for an approval, whatever --auto-approve says\n`,
    );
  }
  const timeoutFlag = values['approval-timeout'] ?? settings?.approval?.timeout;
  if (
    projects !== undefined &&
    projects.length > 1 &&
    !MULTI_PROJECT_WORKFLOWS.includes(workflow)
  ) {
    throw new InvalidInput(
      '--project',
      `${workflow} runs one project at a time (${projects.map((p) => p.name).join(', ')} are selected): name one with --project`,
    );
  }
  const ttlMs =
    values.ttl === undefined ? undefined : parseTtl(values.ttl, DEFAULT_TTL_BOUNDS, '--ttl');
  try {
    return parseInput(
      RUN_INPUT,
      {
        runId: target.runId ?? LocalEngine.newRunId(),
        workflow,
        repository: target.repository ?? repository,
        commit,
        projectDir,
        environment,
        autoApprove: values['auto-approve'] === true && !approvalRequired,
        approvalTimeoutSeconds: approvalTimeoutSeconds({
          ...values,
          ...(timeoutFlag === undefined ? {} : { 'approval-timeout': timeoutFlag }),
        }),
        ...(selection.protectedEnvironment ? { protectedEnvironment: true } : {}),
        ...(afterApply === undefined ? {} : { afterApply }),
        ...(policies === undefined ? {} : { policies }),
        ...(ttlMs === undefined ? {} : { ttlSeconds: Math.round(ttlMs / 1000) }),
        ...(projects === undefined ? {} : { projects }),
        ...(maxParallel === undefined ? {} : { maxParallel }),
      },
      'input',
    );
  } catch (error) {
    if (error instanceof InvalidInput) {
      throw new InvalidInput(flagFor(error.field), error.message.slice(error.field.length + 2));
    }
    throw error;
  }
}

/** A run verb whose selection covers no project: nothing runs, and it says why. */
export interface Nothing {
  readonly nothing: string;
  readonly workflow: Workflow;
  readonly environment: string;
  readonly commit: string;
  readonly base: string;
}

/** What a run verb prints when nothing runs; exit 0. */
export function renderNothing(nothing: Nothing, values: CliValues, io: Io): number {
  if (values.json === true) {
    io.out(
      `${JSON.stringify(
        {
          runId: null,
          workflow: nothing.workflow,
          status: 'skipped',
          environment: nothing.environment,
          commit: nothing.commit,
          base: nothing.base,
          projects: [],
          message: nothing.nothing,
        },
        null,
        2,
      )}\n`,
    );
  } else io.out(`nothing to ${nothing.workflow}: ${nothing.nothing}\n`);
  return 0;
}

export async function runVerb(workflow: Workflow, values: CliValues, io: Io): Promise<number> {
  const input = await runInputFromFlags(workflow, values, io);
  if ('nothing' in input) return renderNothing(input, values, io);
  return executeRun(input, values, io);
}

/**
 * Runs a checked run input to its end on the engine: progress as it goes, then the result
 * (one JSON object with --json), and the exit code of its outcome.
 */
export async function executeRun(run: RunContext, values: CliValues, io: Io): Promise<number> {
  const json = values.json === true;
  const { workflow } = run;
  // Progress goes to stdout, except with --json, where stdout holds only the result.
  const say = json ? io.err : io.out;
  if (await hasUncommittedChanges(run.repository, run.projectDir)) {
    io.err(
      `warning: ${run.projectDir} has uncommitted changes; Stepform runs commit ${run.commit.slice(0, 12)} as committed\n`,
    );
  }
  const home = await resolveHome(run.repository, io);
  if (workflow === 'destroy') {
    await confirmDestroy(run, { yes: values.yes === true, stateDir: homeLayout(home).state }, io);
  }
  const engine = new LocalEngine({
    home,
    env: io.env,
    print: (line) => say(`${line}\n`),
  });
  // Ctrl-C (or SIGTERM, or a closed terminal) cancels the run: Terraform stops gracefully,
  // the lock is released and the approval expired. A second one stops the job at once.
  const cancel = new AbortController();
  const force = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!cancel.signal.aborted) {
      io.err(
        `\n${signal}: cancelling run ${run.runId}; Terraform stops gracefully (${signal} again stops it at once)\n`,
      );
      cancel.abort(`cancelled by ${signal}`);
    } else if (!force.signal.aborted) {
      io.err(`\n${signal}: stopping run ${run.runId} at once\n`);
      force.abort();
    }
  };
  for (const signal of CANCEL_SIGNALS) process.on(signal, onSignal);
  let lockShown = false;
  try {
    say(runHeader(run));
    const outcome = await engine.run(run, {
      cancel: cancel.signal,
      force: force.signal,
      onProgress: (progress) => {
        const line = progressLine(progress);
        if (line) say(`${line}\n`);
        // A held lock is retried for a long while: say once whose it is and what can be done.
        if (progress.errorName === 'LockHeld' && progress.error !== undefined && !lockShown) {
          lockShown = true;
          say(errorText(parseErrorString(progress.error), { prefix: 'waiting: ', indent: '    ' }));
        }
      },
      onApprovalRequested: (request: ApprovalRequest) => {
        // What would be applied first, then how to decide (both on stderr with --json).
        const colour = io.interactive && (io.env.NO_COLOR ?? '') === '';
        say(approvalDiffs(engine.home.artifacts, request.runId, colour));
        say(approvalNeeded(request));
      },
    });
    const policy = runPolicyResults(join(engine.home.artifacts, outcome.run.runId));
    renderRunEnd(outcome.run, outcome, values, io, '', policy);
    return EXIT_CODES[outcome.status];
  } finally {
    for (const signal of CANCEL_SIGNALS) process.off(signal, onSignal);
    engine.close();
  }
}
