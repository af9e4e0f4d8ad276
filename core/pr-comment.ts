// The sticky pull-request comment: one per environment and project, found by its marker and
// updated in place. Markdown, always under GitHub's comment limit, with the summary and the
// destroys kept visible when a long plan has to be cut. Pure.
import { stripVTControlCharacters } from 'node:util';
import { MASK } from './masking.ts';
import { cutText, cutTextHead } from './text.ts';
import { PHASE_ICONS } from './contracts/status-event.ts';
import type { MaskedOutput } from './contracts/job-result.ts';
import { type PlanDiff, planMarkdown, renderPlanMarkdown } from './plan-diff.ts';
import type { OutputChange, PlanSummary, ResourceChange } from './plan-summary.ts';

/** GitHub refuses a comment body over this many characters. */
export const GITHUB_COMMENT_LIMIT = 65_536;

/** Caps on the parts of a comment that are not resource lists, so those keep most of it. */
const TEXT_LIMIT = 200;
const ADDRESS_LIMIT = 500;
const LOCATION_LIMIT = 1_000;
const URL_LIMIT = 2_000;
const OUTPUT_COUNT_LIMIT = 50;
const OUTPUT_VALUE_LIMIT = 300;
export const ERROR_LIMIT = 10_000;

export interface PrCommentInput {
  readonly workflow: string;
  readonly environment: string;
  readonly projectDir: string;
  readonly commit: string;
  readonly runId: string;
  /** The phase the run reached, for example `planned`, `applied` or `failed`. */
  readonly status: string;
  readonly summary?: PlanSummary;
  /** Where the full plan is (an s3:// or file location), named when the comment is cut. */
  readonly artifactLocation?: string;
  /** The error output of a failed run, already masked. */
  readonly error?: string;
  /** Who decided its approval: `Approved by alice via the CLI at …`. */
  readonly decision?: string;
  /** A link to the run (console, local UI). */
  readonly url?: string;
  /** The plan's attribute-level diff: shown resource by resource instead of the bare list. */
  readonly diff?: PlanDiff;
  /** After an apply, the root module's outputs as applied (sensitive ones masked). */
  readonly appliedOutputs?: Readonly<Record<string, MaskedOutput>>;
}

/** A marker value: URI-encoded but for "/", so it can neither end the comment nor hold a space. */
export function markerValue(value: string): string {
  return encodeURIComponent(value).replaceAll('%2F', '/');
}

/** The first line of the comment, by which it is found again and updated in place. */
export function commentMarker(environment: string, projectDir: string): string {
  return `<!-- stepform:comment environment=${markerValue(environment)} project=${markerValue(projectDir)} -->`;
}

const isControl = (code: number) => code < 0x20 || code === 0x7f;

/** Control characters shown as escapes, so a value stays on one line. */
function oneLine(text: string): string {
  return Array.from(text, (char) => {
    const code = char.charCodeAt(0);
    if (!isControl(code)) return char;
    if (char === '\n') return '\\n';
    if (char === '\r') return '\\r';
    if (char === '\t') return '\\t';
    return `\\x${code.toString(16).padStart(2, '0')}`;
  }).join('');
}

/** Plain markdown text: one line, every ASCII punctuation character backslash-escaped. */
export function markdownText(text: string, limit = TEXT_LIMIT): string {
  return cutText(oneLine(text.slice(0, limit + 1)), limit).replace(
    /[!-/:-@[-`{-~]/g,
    (char) => `\\${char}`,
  );
}

/**
 * A markdown code span showing `text` literally: its fence is longer than any run of
 * backticks inside, and padded when the text starts or ends with a backtick or a space.
 */
export function codeSpan(text: string, limit = TEXT_LIMIT): string {
  const content = cutText(oneLine(text.slice(0, limit + 1)), limit);
  if (content === '') return '(empty)';
  const longestRun = Math.max(0, ...(content.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longestRun + 1);
  const pad = /^[` ]|[` ]$/.test(content) && content.trim() !== '' ? ' ' : '';
  return `${fence}${pad}${content}${pad}${fence}`;
}

/** A fenced code block that nothing inside can close. */
function fencedBlock(text: string): string {
  const longestRun = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(Math.max(3, longestRun + 1));
  return `${fence}text\n${text}\n${fence}`;
}

/** The icon of a run's phase; ℹ️ for a status that is no phase. */
export function phaseIcon(status: string): string {
  return (PHASE_ICONS as Readonly<Record<string, string>>)[status] ?? 'ℹ️';
}

function header(input: PrCommentInput): string {
  return [
    `### ${phaseIcon(input.status)} Stepform: ${markdownText(input.status)}`,
    `environment ${codeSpan(input.environment)}`,
    `project ${codeSpan(input.projectDir)}`,
    `commit ${codeSpan(input.commit.slice(0, 7))}`,
  ].join(' · ');
}

function summaryTable(summary: PlanSummary): string {
  const columns: [string, string][] = [
    ['add', `+${summary.add}`],
    ['change', `~${summary.change}`],
    ['destroy', `-${summary.destroy}`],
    ['replace', String(summary.replace)],
    ['import', String(summary.import)],
  ];
  if (summary.forget > 0) columns.push(['forget', String(summary.forget)]);
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const table = [
    row(columns.map(([name]) => name)),
    row(columns.map(() => '---:')),
    row(columns.map(([, value]) => value)),
  ].join('\n');
  return summary.resources.length === 0 ? `${table}\n\nNo resource changes.` : table;
}

export function resourceLine(resource: ResourceChange): string {
  const label =
    resource.action === 'no-op'
      ? 'import'
      : resource.importing
        ? `${resource.action}, import`
        : resource.action;
  return `- **${label}** ${codeSpan(resource.address, ADDRESS_LIMIT)}`;
}

function outputLine(output: OutputChange): string {
  const name = codeSpan(output.name);
  if (output.sensitive) return `- ${name} = ${markdownText(MASK)}`;
  if (output.action === 'delete') return `- ${name} ${markdownText('(removed)')}`;
  if (output.value === undefined) return `- ${name} = ${markdownText('(known after apply)')}`;
  const json = JSON.stringify(output.value) as string | undefined;
  return `- ${name} = ${codeSpan(json ?? typeof output.value, OUTPUT_VALUE_LIMIT)}`;
}

function outputsSection(outputs: readonly OutputChange[]): string | undefined {
  if (outputs.length === 0) return undefined;
  const lines = outputs.slice(0, OUTPUT_COUNT_LIMIT).map(outputLine);
  if (outputs.length > OUTPUT_COUNT_LIMIT) {
    lines.push(`- ${outputs.length - OUTPUT_COUNT_LIMIT} more outputs not shown`);
  }
  return `#### Outputs\n\n${lines.join('\n')}`;
}

/** The outputs an apply left: each value, or the mask for a sensitive one. */
export function appliedOutputsSection(
  outputs: Readonly<Record<string, MaskedOutput>>,
): string | undefined {
  const entries = Object.entries(outputs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return undefined;
  const lines = entries.slice(0, OUTPUT_COUNT_LIMIT).map(([name, output]) => {
    if (output.sensitive) return `- ${codeSpan(name)} = ${markdownText(MASK)}`;
    const json = JSON.stringify(output.value) as string | undefined;
    return `- ${codeSpan(name)} = ${codeSpan(json ?? 'null', OUTPUT_VALUE_LIMIT)}`;
  });
  if (entries.length > OUTPUT_COUNT_LIMIT) {
    lines.push(`- ${entries.length - OUTPUT_COUNT_LIMIT} more outputs not shown`);
  }
  return `#### Outputs (applied)\n\n${lines.join('\n')}`;
}

/**
 * A plan's diff within `budget` characters, cut between resources; when cut, a note naming
 * where the whole plan is follows. Empty when not even the note fits.
 */
export function diffWithin(
  diff: PlanDiff,
  budget: number,
  artifactLocation: string | undefined,
): string {
  // Rendered within the budget, it is whole when nothing had to be left out; only a plan
  // too large is rendered twice (the second time leaving room for the note).
  const first = planMarkdown(diff, { maxChars: Math.max(0, budget) });
  if (!first.cut) return first.text;
  const where =
    artifactLocation === undefined
      ? 'the whole plan is in the run’s artifacts (`stepform show RUN_ID`)'
      : `the whole plan: ${codeSpan(artifactLocation, LOCATION_LIMIT)}`;
  const note = `> **The plan is cut to fit GitHub’s comment limit**; ${where}`;
  const room = budget - note.length - 2;
  if (room <= 0) return budget >= note.length ? note : '';
  return `${renderPlanMarkdown(diff, { maxChars: room }).trimEnd()}\n\n${note}`;
}

export function errorSection(error: string, limit = ERROR_LIMIT): string {
  // The end of Terraform's output is where the error is; its colour codes and other control
  // characters go.
  const tail = error.length > 2 * limit ? error.slice(-2 * limit) : error;
  const clean = Array.from(stripVTControlCharacters(tail).replace(/\r\n?/g, '\n'))
    .filter((char) => char === '\n' || char === '\t' || !isControl(char.charCodeAt(0)))
    .join('')
    .trimEnd();
  const text = cutTextHead(clean, limit, tail !== error || clean.length > limit);
  return `#### Error\n\n${fencedBlock(text)}`;
}

function footer(input: PrCommentInput): string {
  const parts = [`workflow ${codeSpan(input.workflow)}`, `run ${codeSpan(input.runId)}`];
  if (input.url !== undefined) parts.push(linkTo('run details', input.url));
  return `<sub>Stepform · ${parts.join(' · ')}</sub>`;
}

/** A markdown link to an http(s) URL; anything else is shown as code, not linked. */
export function linkTo(label: string, url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || !['http:', 'https:'].includes(parsed.protocol)) {
    return `${label}: ${codeSpan(url, URL_LIMIT)}`;
  }
  // The URL parser percent-encodes spaces, "<" and ">", so the href fits between < and >.
  return `[${label}](<${cutText(parsed.href, URL_LIMIT)}>)`;
}

export function omittedNote(count: number, artifactLocation: string | undefined): string {
  const where =
    artifactLocation === undefined
      ? 'the full plan is in the run’s artifacts'
      : `full plan: ${codeSpan(artifactLocation, LOCATION_LIMIT)}`;
  return `> **${count} more resources not shown**; ${where}`;
}

function listSection(title: string, lines: readonly string[]): string {
  return `#### ${title}\n\n${lines.join('\n')}`;
}

export function foldedSection(
  total: number,
  lines: readonly string[],
  title = 'Other changes',
): string {
  return `<details><summary>${title} (${total})</summary>\n\n${lines.join('\n')}\n\n</details>`;
}

/** Whether a change destroys the resource (a delete, or a replace). */
export function isDestroying(resource: ResourceChange): boolean {
  return resource.action === 'delete' || resource.action === 'replace';
}

/**
 * The first `lines` that fit in `budget` characters together with a `wrapper` of that many,
 * one newline each, and what they cost (0 when none fits: then the wrapper is left out too).
 */
export function linesWithin(
  lines: readonly string[],
  wrapper: number,
  budget: number,
): { taken: string[]; cost: number } {
  const taken: string[] = [];
  let cost = wrapper;
  for (const line of lines) {
    if (cost + line.length + 1 > budget) break;
    cost += line.length + 1;
    taken.push(line);
  }
  return { taken, cost: taken.length === 0 ? 0 : cost };
}

interface Shown {
  readonly destroys: readonly string[];
  readonly others: readonly string[];
  readonly omitted: number;
}

/**
 * The sticky comment: marker, header, summary table, the error of a failed run, destroys and
 * replaces (always visible), the other changes folded, outputs, and a footer. Never over
 * GITHUB_COMMENT_LIMIT: the folded list is cut first, then the destroy list, with a note.
 */
export function renderPrComment(input: PrCommentInput): string {
  const summary = input.summary;
  const destroying = (summary?.resources ?? []).filter(isDestroying);
  const others = (summary?.resources ?? []).filter((resource) => !isDestroying(resource));
  const destroyLines = destroying.map(resourceLine);
  const otherLines = others.map(resourceLine);
  const destroyTitle = `Destroy and replace (${destroying.length})`;

  const assemble = (shown: Shown): string =>
    around(input, [
      shown.destroys.length === 0 ? undefined : listSection(destroyTitle, shown.destroys),
      shown.others.length === 0 ? undefined : foldedSection(others.length, shown.others),
      shown.omitted === 0 ? undefined : omittedNote(shown.omitted, input.artifactLocation),
    ]);

  if (input.diff !== undefined) return withDiff(input, input.diff);
  const full = assemble({ destroys: destroyLines, others: otherLines, omitted: 0 });
  if (full.length <= GITHUB_COMMENT_LIMIT) return full;

  // Everything but the lists, with the longest possible note: what is left is for the lists.
  const total = destroyLines.length + otherLines.length;
  let budget = GITHUB_COMMENT_LIMIT - assemble({ destroys: [], others: [], omitted: total }).length;
  const take = (lines: readonly string[], wrapper: number): string[] => {
    const { taken, cost } = linesWithin(lines, wrapper, budget);
    budget -= cost;
    return taken;
  };
  const destroys = take(destroyLines, listSection(destroyTitle, []).length + 2);
  const folded =
    destroys.length === destroyLines.length
      ? take(otherLines, foldedSection(others.length, []).length + 2)
      : [];
  const comment = assemble({
    destroys,
    others: folded,
    omitted: total - destroys.length - folded.length,
  });
  return comment.length <= GITHUB_COMMENT_LIMIT ? comment : hardCut(comment);
}

/**
 * The comment around its changes: marker and header, who decided, the counts, the error of a
 * failed run, then `changes`, the outputs and the footer (empty sections left out).
 */
function around(input: PrCommentInput, changes: readonly (string | undefined)[]): string {
  const sections = [
    `${commentMarker(input.environment, input.projectDir)}\n${header(input)}`,
    input.decision === undefined ? undefined : markdownText(input.decision),
    input.summary === undefined ? undefined : summaryTable(input.summary),
    input.error === undefined || input.error.trim() === '' ? undefined : errorSection(input.error),
    ...changes,
    outputsOf(input),
    footer(input),
  ];
  return `${sections.filter((section) => section !== undefined).join('\n\n')}\n`;
}

/** The applied outputs after an apply, else the plan's planned ones. */
function outputsOf(input: PrCommentInput): string | undefined {
  return input.appliedOutputs === undefined
    ? outputsSection(input.summary?.outputs ?? [])
    : appliedOutputsSection(input.appliedOutputs);
}

/**
 * The comment with the plan's diff: header, who decided, counts, error, then each resource in a
 * `<details>` block (destroys and replaces first, their headlines visible), the outputs and
 * the footer. The diff gets whatever room the rest leaves.
 */
function withDiff(input: PrCommentInput, diff: PlanDiff): string {
  const assemble = (shown: string): string =>
    around(input, [shown === '' ? undefined : `#### Plan\n\n${shown.trimEnd()}`]);
  const room = GITHUB_COMMENT_LIMIT - assemble('').length - '#### Plan\n\n\n\n'.length;
  const comment = assemble(diffWithin(diff, room, input.artifactLocation));
  return comment.length <= GITHUB_COMMENT_LIMIT ? comment : hardCut(comment);
}

/** The last resort, for inputs far beyond any real plan (a marker of many kilobytes). */
export function hardCut(comment: string): string {
  const note = '\n\n… (cut to fit GitHub’s comment limit)\n';
  return `${comment.slice(0, GITHUB_COMMENT_LIMIT - note.length)}${note}`;
}
