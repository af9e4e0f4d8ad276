// The run console's pages, rendered on the server from plain data: the runs list (with its
// filters), a run (its workflow graph, states, approval, plan diffs and job logs), and the
// environments (locks, TTL schedules, last good commits). Every value is escaped; styles and
// the live-update script are served files (console.css, console.js), so the pages' CSP
// allows nothing but this server.
import { z } from 'zod';
import { type ApprovalRecord, escapeHtml, htmlHead } from '../../core/approval.ts';
import { renderPlanHtml } from '../../core/plan-diff.ts';
import { InvalidInput } from '../../core/errors.ts';
import { parseInput } from '../../core/validation.ts';
import type { AslDefinition } from '../../state-machines/workflows.ts';
import type { ShownPlan } from '../engine/plan-diffs.ts';
import type { RunRow } from '../engine/store/sqlite-runs.ts';
import { OUTCOME_TEXT, elapsed, renderGraphSvg, runStates } from './graph.ts';
import type { EnvironmentsView, RunEvent } from './source.ts';

const e = escapeHtml;

export const RUN_STATUSES = ['running', 'succeeded', 'failed', 'cancelled'] as const;

/** Printable text, as a filter's value may be: no control characters. */
const FILTER_TEXT = z
  .string()
  .max(1024, 'must be at most 1024 characters')
  .regex(/^[^\p{Cc}]*$/u, 'must hold no control characters');

/** The runs list's query: each filter once at most, nothing else. */
export const RUNS_QUERY = z.strictObject({
  environment: FILTER_TEXT.optional(),
  project: FILTER_TEXT.optional(),
  status: z.enum(RUN_STATUSES).optional(),
});
export type RunsFilter = z.output<typeof RUNS_QUERY>;

/** The filters of a query; an empty field (the form's "any") filters nothing. */
export function parseRunsFilter(query: Readonly<Record<string, string>>): RunsFilter {
  const known = Object.keys(RUNS_QUERY.shape);
  const unknown = Object.keys(query).find((name) => !known.includes(name));
  if (unknown !== undefined)
    throw new InvalidInput(`query.${unknown}`, `is not a filter (${known.join(', ')})`);
  const given = Object.fromEntries(Object.entries(query).filter(([, value]) => value !== ''));
  return parseInput(RUNS_QUERY, given, 'query');
}

export function filterRuns(runs: readonly RunRow[], filter: RunsFilter): RunRow[] {
  return runs.filter(
    (r) =>
      (filter.environment === undefined || r.environment === filter.environment) &&
      (filter.project === undefined || r.projectDir === filter.project) &&
      (filter.status === undefined || r.status === filter.status),
  );
}

type Section = 'runs' | 'environments';

/**
 * The page around a body. `events` is the stream console.js listens to: on each change it
 * fetches the page again and swaps each changed `data-live` element.
 */
/** A console over a deployed stack (`serve --stack`): what it shows, and how to decide there. */
export interface ReadOnlyFrame {
  /** What the pages are of, e.g. `the stack Stepform`. */
  readonly label: string;
  /** The commands that decide a waiting run: the console holds no signing key. */
  readonly decideCommands: (runId: string) => { readonly approve: string; readonly reject: string };
}

export function layout(
  title: string,
  body: string,
  options: { section?: Section; events?: string; readOnly?: ReadOnlyFrame } = {},
): string {
  const link = (href: string, label: string, section: Section) =>
    `<a href="${href}"${options.section === section ? ' aria-current="page"' : ''}>${label}</a>`;
  return [
    ...htmlHead([
      `<title>${e(title)} · Stepform</title>`,
      '<link rel="stylesheet" href="/console.css">',
      '<script src="/console.js" defer></script>',
    ]),
    `<body${options.events === undefined ? '' : ` data-events="${e(options.events)}"`}>`,
    '<a class="skip" href="#main">Skip to content</a>',
    '<header class="top"><span class="brand">Stepform</span>',
    `<nav aria-label="Console">${link('/', 'Runs', 'runs')} ${link('/environments', 'Environments', 'environments')}</nav>`,
    '</header>',
    ...(options.readOnly === undefined
      ? []
      : [
          `<p class="read-only" role="note">Read-only view of ${e(options.readOnly.label)}: nothing is decided or changed from these pages.</p>`,
        ]),
    '<main id="main" tabindex="-1">',
    body,
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** A table in a wrapper that scrolls sideways on a narrow screen. */
function table(caption: string, head: readonly string[], rows: readonly string[], empty: string) {
  if (rows.length === 0) return `<p class="empty">${e(empty)}</p>`;
  return [
    '<div class="table-wrap" tabindex="0" role="region" aria-label="' + e(caption) + '">',
    `<table>\n<caption>${e(caption)}</caption>`,
    `<thead><tr>${head.map((h) => `<th scope="col">${e(h)}</th>`).join('')}</tr></thead>`,
    `<tbody>\n${rows.join('\n')}\n</tbody>`,
    '</table>',
    '</div>',
  ].join('\n');
}

const td = (text: string) => `<td>${e(text)}</td>`;
const code = (text: string) => `<td><code>${e(text)}</code></td>`;

/** A run's status as a badge: its word, coloured (the word alone tells it too). */
export function statusBadge(status: string): string {
  return `<span class="status status-${e(status)}">${e(status)}</span>`;
}

export function runHref(runId: string): string {
  return `/runs/${encodeURIComponent(runId)}`;
}

function runDuration(run: RunRow, now: Date): string {
  const end = run.finishedAt === null ? now.getTime() : Date.parse(run.finishedAt);
  const ms = end - Date.parse(run.startedAt);
  return Number.isFinite(ms) && ms >= 0 ? elapsed(ms) : '';
}

function select(
  name: string,
  label: string,
  values: readonly string[],
  chosen: string | undefined,
): string {
  const options = ['', ...new Set([...values, ...(chosen === undefined ? [] : [chosen])])].map(
    (v) =>
      `<option value="${e(v)}"${v === (chosen ?? '') ? ' selected' : ''}>${v === '' ? 'any' : e(v)}</option>`,
  );
  return `<p class="field"><label for="f-${name}">${e(label)}</label> <select id="f-${name}" name="${name}">${options.join('')}</select></p>`;
}

export interface RunsPageInput {
  /** The runs to list, already filtered. */
  readonly runs: readonly RunRow[];
  readonly filter: RunsFilter;
  /** What the filters offer: the values the recent runs hold. */
  readonly environments: readonly string[];
  readonly projects: readonly string[];
  readonly now: Date;
  readonly readOnly?: ReadOnlyFrame;
}

export function renderRunsPage(input: RunsPageInput): string {
  const { filter } = input;
  const rows = input.runs.map(
    (r) =>
      `<tr data-run="${e(r.runId)}"><td><a href="${runHref(r.runId)}">${e(r.runId)}</a></td>` +
      `${td(r.workflow)}${td(r.environment)}${td(r.projectDir)}${code(r.commit.slice(0, 12))}` +
      `<td>${statusBadge(r.status)}</td>${td(r.phase ?? '')}${td(r.startedAt)}${td(runDuration(r, input.now))}</tr>`,
  );
  const filtered = Object.keys(filter).length > 0;
  const form = [
    '<form class="filters" method="get" action="/" aria-label="Filter runs">',
    select('environment', 'Environment', input.environments, filter.environment),
    select('project', 'Project', input.projects, filter.project),
    select('status', 'Status', RUN_STATUSES, filter.status),
    '<p class="field"><button type="submit">Filter</button>',
    ...(filtered ? [' <a href="/">Clear filters</a>'] : []),
    '</p>',
    '</form>',
  ].join('\n');
  return layout(
    'Runs',
    [
      '<h1>Runs</h1>',
      form,
      `<div id="runs" data-live>`,
      `<p class="count">${input.runs.length} run${input.runs.length === 1 ? '' : 's'}${filtered ? ' match' : ''}</p>`,
      table(
        'Runs, newest first',
        [
          'Run',
          'Workflow',
          'Environment',
          'Project',
          'Commit',
          'Status',
          'Phase',
          'Started',
          'Took',
        ],
        rows,
        filtered ? 'No run matches these filters.' : 'No runs yet.',
      ),
      '</div>',
    ].join('\n'),
    {
      section: 'runs',
      events: '/events',
      ...(input.readOnly === undefined ? {} : { readOnly: input.readOnly }),
    },
  );
}

/** Links to the approval page, as a run's approvers get them (Slack, the CLI). */
export interface ApprovalLinks {
  /** Absent: a bare link (no approver list). */
  readonly approver?: string;
  readonly approve: string;
  readonly reject: string;
}

export interface RunPageInput {
  readonly run: RunRow;
  /** The workflow's ASL; absent when the run names none this version knows. */
  readonly definition?: AslDefinition;
  readonly events: readonly RunEvent[];
  readonly approval?: ApprovalRecord;
  /** Made only while the run waits for this approval. */
  readonly approvalLinks: readonly ApprovalLinks[];
  readonly plans: readonly ShownPlan[];
  readonly logs: readonly { name: string; text: string }[];
  readonly now: Date;
  readonly readOnly?: ReadOnlyFrame;
}

function approvalSection(input: RunPageInput): string {
  const { approval, approvalLinks } = input;
  if (approval === undefined) return '';
  if (approval.status !== 'pending') {
    const by = approval.decidedBy === undefined ? '' : ` by ${approval.decidedBy}`;
    const at = approval.decidedAt === undefined ? '' : ` at ${approval.decidedAt}`;
    return `<p class="decided">Approval ${e(approval.status)}${e(by)}${e(at)}.</p>`;
  }
  const { readOnly } = input;
  if (readOnly !== undefined && input.run.status === 'running') {
    const commands = readOnly.decideCommands(input.run.runId);
    return [
      '<section class="approval" aria-labelledby="approval-title">',
      '<h2 id="approval-title">Waiting for approval</h2>',
      `<p>Requested ${e(approval.requestedAt)}; expires ${e(approval.expiresAt)}. This console is read-only: decide through the signed links the approvers were sent, or from a terminal with the stack's AWS credentials:</p>`,
      `<pre class="commands">${e(commands.approve)}\n${e(commands.reject)}</pre>`,
      '</section>',
    ].join('\n');
  }
  if (approvalLinks.length === 0) {
    return `<p class="decided">An approval was requested; this run no longer waits for it.</p>`;
  }
  const items = approvalLinks.map((links) => {
    const as = links.approver === undefined ? '' : ` as ${links.approver}`;
    return (
      `<li><a class="button approve" href="${e(links.approve)}">Approve${e(as)}</a> ` +
      `<a class="button reject" href="${e(links.reject)}">Reject${e(as)}</a></li>`
    );
  });
  return [
    '<section class="approval" aria-labelledby="approval-title">',
    '<h2 id="approval-title">Waiting for approval</h2>',
    `<p>Requested ${e(approval.requestedAt)}; expires ${e(approval.expiresAt)}. Each link opens the confirmation page: nothing is decided until it is confirmed there.</p>`,
    `<ul class="decide">${items.join('')}</ul>`,
    '</section>',
  ].join('\n');
}

export function renderRunPage(input: RunPageInput): string {
  const { run } = input;
  const running = run.status === 'running';
  const states = input.definition ? runStates(input.events, input.definition, running) : undefined;
  const facts: [string, string][] = [
    ['Workflow', run.workflow],
    ['Environment', run.environment],
    ['Project', run.projectDir],
    ['Commit', run.commit],
    ['Phase', run.phase ?? ''],
    ['Started', run.startedAt],
    ['Finished', run.finishedAt ?? '—'],
    [running ? 'Running for' : 'Took', runDuration(run, input.now)],
    ...(run.error === null ? [] : [['Error', run.error] as [string, string]]),
  ];
  const summary = [
    `<div id="summary" data-live>`,
    `<p class="run-status">Status ${statusBadge(run.status)}${run.phase ? ` <span class="phase">${e(run.phase)}</span>` : ''}</p>`,
    `<dl class="facts">${facts.map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(v)}</dd>`).join('')}</dl>`,
    '</div>',
  ].join('\n');
  const graph =
    input.definition && states
      ? [
          '<ul class="legend" aria-label="Legend">',
          ...(['succeeded', 'failed', 'running', 'not-reached'] as const).map(
            (o) => `<li><span class="swatch state-${o}"></span>${e(OUTCOME_TEXT[o])}</li>`,
          ),
          '</ul>',
          '<div class="graph-wrap" tabindex="0" role="region" aria-label="Workflow graph">',
          renderGraphSvg(
            input.definition,
            states,
            `The ${run.workflow} workflow of run ${run.runId}`,
          ),
          '</div>',
        ].join('\n')
      : `<p class="empty">No workflow file for ${e(run.workflow)}.</p>`;
  const stateRows = (states ? [...states.states] : []).map(([label, r]) =>
    [
      `<tr class="row-${r.outcome}"><th scope="row">${e(label)}</th>`,
      `<td>${e(OUTCOME_TEXT[r.outcome])}</td>`,
      td(r.durationMs === null ? '' : elapsed(r.durationMs)),
      td(String(r.entries)),
      td(String(r.retries)),
      td(r.detail ?? ''),
      '</tr>',
    ].join(''),
  );
  const plans = input.plans.map(
    (plan) =>
      `<section class="plan" aria-label="Plan of ${e(plan.project ?? run.projectDir)}"><h3>${e(plan.project ?? run.projectDir)}</h3>\n${renderPlanHtml(plan.diff, { maxChars: 200_000 })}</section>`,
  );
  const logs = input.logs.map(
    (log) =>
      `<section class="log"><h3>${e(log.name)}</h3><pre data-log="${e(log.name)}" tabindex="0" aria-label="Log of ${e(log.name)}">${e(log.text)}</pre></section>`,
  );
  return layout(
    `Run ${run.runId}`,
    [
      `<p class="back"><a href="/">← All runs</a></p>`,
      `<h1>Run <code>${e(run.runId)}</code></h1>`,
      summary,
      `<div id="approval" data-live>${approvalSection(input)}</div>`,
      '<h2>Workflow</h2>',
      `<div id="graph" data-live>${graph}</div>`,
      '<h2>States</h2>',
      `<div id="states" data-live>${table('Each state, as far as the run got', ['State', 'Outcome', 'Took', 'Entered', 'Retries', 'Error'], stateRows, 'No state has run yet.')}</div>`,
      '<h2>Plan</h2>',
      `<div id="plans" data-live>${plans.length > 0 ? plans.join('\n') : '<p class="empty">No plan diff (yet): a destroy, a command, or a plan still running.</p>'}</div>`,
      '<h2>Job logs</h2>',
      `<div id="logs">${logs.length > 0 ? logs.join('\n') : ''}<p class="empty" data-no-logs${logs.length > 0 ? ' hidden' : ''}>${input.readOnly === undefined ? 'No job has written a log yet.' : 'No job log yet: on AWS a job’s log reaches the artifacts bucket when the job ends.'}</p></div>`,
    ].join('\n'),
    {
      events: `${runHref(run.runId)}/events`,
      ...(input.readOnly === undefined ? {} : { readOnly: input.readOnly }),
    },
  );
}

export function renderEnvironmentsPage(view: EnvironmentsView, readOnly?: ReadOnlyFrame): string {
  const runLink = (runId: string) => `<td><a href="${runHref(runId)}">${e(runId)}</a></td>`;
  const locks = view.locks.map(
    (l) =>
      `<tr>${td(l.environment)}${td(l.project)}${runLink(l.owner)}${td(l.acquiredAt)}${td(l.expiresAt)}</tr>`,
  );
  const schedules = view.schedules.map(
    (s) =>
      `<tr>${td(s.environment)}${td(s.projectDir)}${td(s.status)}${td(s.fireAt)}${code(s.commit.slice(0, 12))}${td(s.createdBy)}</tr>`,
  );
  const good = view.lastGood.map(
    (g) =>
      `<tr>${td(g.environment)}${td(g.projectDir)}${code(g.commit.slice(0, 12))}${runLink(g.runId)}${td(g.at)}</tr>`,
  );
  const environments = view.environments.map(
    (r) =>
      `<tr>${td(r.environment)}${td(r.projectDir)}${td(r.status)}${td(r.ttlExpiresAt ?? '—')}${runLink(r.lastRunId)}${td(r.updatedAt)}</tr>`,
  );
  return layout(
    'Environments',
    [
      '<h1>Environments</h1>',
      '<div id="environments" data-live>',
      '<h2>Locks</h2>',
      table(
        'Locks held now',
        ['Environment', 'Project', 'Held by run', 'Since', 'Expires'],
        locks,
        'No lock is held.',
      ),
      '<h2>TTL schedules</h2>',
      table(
        'Destroys scheduled by a TTL',
        ['Environment', 'Project', 'Status', 'Destroy at', 'Commit', 'Set by'],
        schedules,
        'No TTL schedule.',
      ),
      '<h2>Last good commits</h2>',
      table(
        'The last commit applied without failure',
        ['Environment', 'Project', 'Commit', 'Run', 'At'],
        good,
        'No run has applied yet.',
      ),
      '<h2>Environments and projects</h2>',
      table(
        'Each environment and project a run recorded',
        ['Environment', 'Project', 'Status', 'TTL expires', 'Last run', 'Updated'],
        environments,
        'No environment recorded yet.',
      ),
      '</div>',
    ].join('\n'),
    { section: 'environments', events: '/events', ...(readOnly === undefined ? {} : { readOnly }) },
  );
}

/** A page for what the console cannot show (an unknown run, a bad filter). */
export function renderMessagePage(
  title: string,
  message: string,
  readOnly?: ReadOnlyFrame,
): string {
  return layout(
    title,
    `<h1>${e(title)}</h1>\n<p>${e(message)}</p>\n<p><a href="/">All runs</a></p>`,
    readOnly === undefined ? {} : { readOnly },
  );
}
