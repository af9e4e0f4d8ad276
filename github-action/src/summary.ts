// What the action reports: the `summary` output (JSON) and the job summary (Markdown), built
// from the execution's status and output. Pure.
import { z } from 'zod';
import type { Workflow } from '../../core/contracts/workflow-input.ts';

const COUNT = z.number().int().nonnegative();

/** A job step's result in the execution output (CollectedResult, read loosely). */
const STEP_RESULT = z.object({
  hasChanges: z.boolean().optional(),
  applied: z.boolean().optional(),
  summary: z
    .object({
      add: COUNT,
      change: COUNT,
      destroy: COUNT,
      replace: COUNT.default(0),
      import: COUNT.default(0),
    })
    .optional(),
});

/** How the projects of a run ended (CollectedProjects, read loosely). */
const PROJECTS_REPORT = z.object({
  hasChanges: z.boolean(),
  summary: STEP_RESULT.shape.summary.unwrap(),
  projects: z.array(z.object({ name: z.string(), status: z.string() })),
});

/** Project statuses after which the run changed that project's state. */
const CHANGED_STATE = new Set(['applied', 'destroyed', 'rolled_back', 'rollback_failed']);

/**
 * Where each workflow keeps its results in the execution's output: the outcome every
 * workflow of projects ends with ($.outcome: its projects, an ephemeral run's schedule), and
 * the single-job results of the others ($.plan, $.apply…).
 */
const EXECUTION_OUTPUT = z.object({
  outcome: z
    .object({
      projects: PROJECTS_REPORT.optional(),
      schedule: z.object({ fireAt: z.string().nullable() }).optional(),
    })
    .optional(),
  plan: STEP_RESULT.optional(),
  apply: STEP_RESULT.optional(),
  destroy: STEP_RESULT.optional(),
  /** ttl: the schedule after the change (fireAt null: cancelled). */
  ttl: z.object({ schedule: z.object({ fireAt: z.string().nullable() }) }).optional(),
  /** command: the command and its masked (and cut) output. */
  command: z
    .object({
      command: z.object({ name: z.string(), args: z.array(z.string()), output: z.string() }),
    })
    .optional(),
});

export interface Changes {
  readonly add: number;
  readonly change: number;
  readonly destroy: number;
  readonly replace: number;
  readonly import: number;
}

/** The `summary` output of the action, as JSON. */
export interface RunSummary {
  readonly status: string;
  readonly workflow: Workflow;
  readonly environment: string;
  readonly project: string;
  readonly commit: string;
  readonly pullRequest: number | null;
  readonly executionArn: string;
  readonly executionUrl: string;
  /** Whether the plan had changes (drift, for a scheduled plan); null when not known. */
  readonly hasChanges: boolean | null;
  readonly changes: Changes | null;
  readonly applied: boolean | null;
  /** Each project of the run and how it ended (planned, applied, not_started…); null: unknown. */
  readonly projects: { name: string; status: string }[] | null;
  /** ttl and ephemeral: when the scheduled destroy fires (null: cancelled, or none). */
  readonly destroyAt: string | null;
  /** command: the command run and its masked output. */
  readonly command: { name: string; args: string[]; output: string } | null;
  readonly error: string | null;
  readonly cause: string | null;
}

export interface SummaryFacts {
  readonly status: string;
  readonly workflow: Workflow;
  readonly environment: string;
  readonly projectDir: string;
  readonly commit: string;
  readonly pullRequest?: number;
  readonly executionArn: string;
  /** The execution's output (JSON), when it succeeded. */
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
}

/** The AWS console page of an execution. */
export function executionUrl(executionArn: string): string {
  const [, partition = 'aws', , region = 'us-east-1'] = executionArn.split(':');
  const host =
    partition === 'aws-cn'
      ? `${region}.console.amazonaws.cn`
      : partition === 'aws-us-gov'
        ? `${region}.console.amazonaws-us-gov.com`
        : `${region}.console.aws.amazon.com`;
  return `https://${host}/states/home?region=${region}#/v2/executions/details/${encodeURIComponent(executionArn)}`;
}

function parseOutput(output: string | undefined): z.output<typeof EXECUTION_OUTPUT> {
  if (output === undefined) return {};
  try {
    const parsed = EXECUTION_OUTPUT.safeParse(JSON.parse(output));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

export function runSummary(facts: SummaryFacts): RunSummary {
  const output = parseOutput(facts.output);
  const report = output.outcome?.projects;
  // A run of one job keeps it under $.plan, $.apply or $.destroy.
  const result = output.plan ?? output.apply ?? output.destroy;
  return {
    status: facts.status,
    workflow: facts.workflow,
    environment: facts.environment,
    project: facts.projectDir,
    commit: facts.commit,
    pullRequest: facts.pullRequest ?? null,
    executionArn: facts.executionArn,
    executionUrl: executionUrl(facts.executionArn),
    hasChanges: report?.hasChanges ?? result?.hasChanges ?? null,
    changes: report?.summary ?? result?.summary ?? null,
    applied: report
      ? report.projects.some((project) => CHANGED_STATE.has(project.status))
      : ((output.apply ?? output.destroy)?.applied ?? null),
    projects: report?.projects.map(({ name, status }) => ({ name, status })) ?? null,
    destroyAt: output.ttl?.schedule.fireAt ?? output.outcome?.schedule?.fireAt ?? null,
    command: output.command?.command ?? null,
    error: facts.error ?? null,
    cause: facts.cause ?? null,
  };
}

/**
 * The step outputs besides `summary`, one value each so that later steps need no `fromJSON`:
 * `run-id` (the execution's name, the run id `stepform logs` takes), `has-changes` (`true` or
 * `false`, empty while unknown) and the plan's counts (empty while unknown).
 */
export const STEP_OUTPUT_NAMES = [
  'run-id',
  'has-changes',
  'add',
  'change',
  'destroy',
  'replace',
  'import',
  'destroy-at',
  'command-output',
] as const;

export function stepOutputs(
  summary: RunSummary,
): Record<(typeof STEP_OUTPUT_NAMES)[number], string> {
  const known = (value: boolean | number | null | undefined) =>
    value === null || value === undefined ? '' : String(value);
  return {
    'run-id': summary.executionArn.split(':').at(-1) ?? '',
    'has-changes': known(summary.hasChanges),
    add: known(summary.changes?.add),
    change: known(summary.changes?.change),
    destroy: known(summary.changes?.destroy),
    replace: known(summary.changes?.replace),
    import: known(summary.changes?.import),
    'destroy-at': summary.destroyAt ?? '',
    'command-output': summary.command?.output ?? '',
  };
}

const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const ICONS: Readonly<Record<string, string>> = {
  SUCCEEDED: '✅',
  RUNNING: '⏳',
  FAILED: '❌',
  TIMED_OUT: '⌛',
  ABORTED: '⛔',
};

/** `a`, `b` */
const codeList = (names: readonly string[]) => names.map((name) => `\`${name}\``).join(', ');

/**
 * The job summary: status, the plan's counts, and links to the execution and the PR.
 * `projects`: the names stepform.yaml selected (absent: the one folder).
 */
export function jobSummaryMarkdown(
  summary: RunSummary,
  pullRequestUrl?: string,
  projects?: readonly string[],
): string {
  const which =
    projects === undefined
      ? `project \`${summary.project}\``
      : `project${projects.length === 1 ? '' : 's'} ${codeList(projects)}`;
  const lines = [
    `### ${ICONS[summary.status] ?? '•'} Stepform ${summary.workflow}: ${summary.status}`,
    '',
    `Environment \`${summary.environment}\`, ${which}, commit \`${summary.commit.slice(0, 12)}\``,
    '',
  ];
  if (summary.changes !== null) {
    const c = summary.changes;
    lines.push(
      '| add | change | destroy | replace | import |',
      '| ---: | ---: | ---: | ---: | ---: |',
      `| ${c.add} | ${c.change} | ${c.destroy} | ${c.replace} | ${c.import} |`,
      '',
    );
  } else if (summary.hasChanges === false) {
    lines.push('No changes.', '');
  }
  if (summary.workflow === 'ttl' && summary.status === 'SUCCEEDED') {
    lines.push(
      summary.destroyAt === null
        ? 'No scheduled destroy: the environment is kept until it is destroyed by hand.'
        : `The scheduled destroy fires at ${summary.destroyAt}.`,
      '',
    );
  }
  if (summary.command !== null) {
    const { name, args, output } = summary.command;
    lines.push(
      `\`terraform ${escapeHtml([name, ...args].join(' '))}\``,
      '',
      `<pre>${escapeHtml(output)}</pre>`,
      '',
    );
  }
  if (summary.error !== null) {
    lines.push(
      `**${escapeHtml(summary.error)}**`,
      '',
      ...(summary.cause === null
        ? []
        : [`<pre>${escapeHtml(summary.cause.slice(0, 4_000))}</pre>`, '']),
    );
  }
  const links = [`[Execution in the AWS console](${summary.executionUrl})`];
  if (summary.pullRequest !== null && pullRequestUrl !== undefined) {
    links.push(`[Pull request #${summary.pullRequest}](${pullRequestUrl}) (the plan comment)`);
  }
  lines.push(links.join(' · '));
  return `${lines.join('\n')}\n`;
}

/** The job summary of a step that started nothing: no project was selected. */
export function skippedSummaryMarkdown(facts: {
  readonly workflow: Workflow;
  readonly environment: string;
  readonly commit: string;
  readonly reason: string;
}): string {
  return [
    `### ⏭️ Stepform ${facts.workflow}: SKIPPED`,
    '',
    `Environment \`${facts.environment}\`, commit \`${facts.commit.slice(0, 12)}\``,
    '',
    `${escapeHtml(facts.reason)}: no execution was started.`,
    '',
  ].join('\n');
}
