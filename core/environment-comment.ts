// The sticky pull-request comment of a run over many projects: one per environment, found by
// its marker and updated in place, with a section per project, those that destroy or replace
// first. Built from the pieces of pr-comment.ts and, like it, always under GitHub's comment
// limit: resource lists are cut, never the headline or a project's status line. Pure.
import type { MaskedOutput } from './contracts/job-result.ts';
import type { PlanDiff } from './plan-diff.ts';
import type { PlanSummary } from './plan-summary.ts';
import { type PolicyChecks, policyMarkdown } from './policy-view.ts';
import {
  ERROR_LIMIT,
  appliedOutputsSection,
  diffWithin,
  GITHUB_COMMENT_LIMIT,
  codeSpan,
  errorSection,
  foldedSection,
  hardCut,
  isDestroying,
  linesWithin,
  linkTo,
  markdownText,
  markerValue,
  omittedNote,
  phaseIcon,
  resourceLine,
} from './pr-comment.ts';

/** What all the projects' errors may take together, so they leave room for the plans. */
const ERRORS_BUDGET = 20_000;
const MIN_ERROR_LIMIT = 500;
/** The same for the projects' policy checks, which are always shown, never folded. */
const POLICIES_BUDGET = 15_000;
const MIN_POLICY_LIMIT = 600;
const FOLD_TITLE = 'Resource changes';

export interface ProjectCommentInput {
  readonly name: string;
  readonly dir: string;
  /** Its place in dependency order: layer 0 runs first. */
  readonly layer: number;
  /** The phase the project reached, for example `planned`, `applied` or `failed`. */
  readonly status: string;
  readonly summary?: PlanSummary;
  /** Where the project's full plan is (an s3:// or file location), named when it is cut. */
  readonly artifactLocation?: string;
  /** The error output of the project's failed job, already masked. */
  readonly error?: string;
  /** The plan's attribute-level diff: shown resource by resource instead of the bare list. */
  readonly diff?: PlanDiff;
  /** After its apply, the project's outputs as applied (sensitive ones masked). */
  readonly appliedOutputs?: Readonly<Record<string, MaskedOutput>>;
  /** Its plan's policy checks, shown before approval and when a policy stops the run. */
  readonly policy?: PolicyChecks;
}

export interface EnvironmentCommentInput {
  readonly workflow: string;
  readonly environment: string;
  readonly commit: string;
  readonly runId: string;
  /** The phase of the run as a whole. */
  readonly status: string;
  /** A link to the run (console, local UI). */
  readonly url?: string;
  /** In the run's order (by layer); the comment shows the destroying ones first. */
  readonly projects: readonly ProjectCommentInput[];
  /** Who decided its approval: `Approved by alice via the CLI at …`. */
  readonly decision?: string;
}

/**
 * The first line of the environment's one comment. No project marker starts with it, nor it
 * with one, so the per-project comments of older runs are never overwritten by it.
 */
export function environmentCommentMarker(environment: string): string {
  return `<!-- stepform:comment environment=${markerValue(environment)} -->`;
}

const destroysAnything = (project: ProjectCommentInput) =>
  project.summary !== undefined && (project.summary.destroy > 0 || project.summary.replace > 0);

function headline(input: EnvironmentCommentInput): string {
  const title = [
    `### ${phaseIcon(input.status)} Stepform: ${markdownText(input.status)}`,
    `environment ${codeSpan(input.environment)}`,
    `workflow ${codeSpan(input.workflow)}`,
    `commit ${codeSpan(input.commit.slice(0, 7))}`,
    `run ${codeSpan(input.runId)}`,
  ].join(' · ');
  const sum = (count: (summary: PlanSummary) => number) =>
    input.projects.reduce(
      (total, project) => total + (project.summary ? count(project.summary) : 0),
      0,
    );
  const projects = `${input.projects.length} ${input.projects.length === 1 ? 'project' : 'projects'}`;
  const totals =
    `**${projects}**: +${sum((s) => s.add)} to add, ~${sum((s) => s.change)} to change, ` +
    `-${sum((s) => s.destroy)} to destroy, ${sum((s) => s.replace)} to replace`;
  const link = input.url === undefined ? '' : ` · ${linkTo('run details', input.url)}`;
  return `${title}\n\n${totals}${link}`;
}

function statusLine(project: ProjectCommentInput): string {
  const { summary } = project;
  const counts =
    summary === undefined
      ? 'no plan'
      : `+${summary.add} ~${summary.change} -${summary.destroy} · ${summary.replace} to replace`;
  return [
    `#### ${phaseIcon(project.status)} ${codeSpan(project.name)}`,
    codeSpan(project.dir),
    `layer ${project.layer}`,
    markdownText(project.status),
    destroysAnything(project) ? `**${counts}** ⚠️` : counts,
  ].join(' · ');
}

interface Section {
  readonly project: ProjectCommentInput;
  /** The status line, the error and the outputs: always shown. */
  readonly head: string;
  /** Its changes in full: the diff, or the resource list folded. */
  readonly full: string;
  /** Its changes within a budget (never over it), naming where the rest is when cut. */
  readonly within: (budget: number) => string;
}

function section(project: ProjectCommentInput, errorLimit: number, policyLimit: number): Section {
  const resources = project.summary?.resources ?? [];
  const parts = [statusLine(project)];
  if (project.error !== undefined && project.error.trim() !== '') {
    parts.push(errorSection(project.error, errorLimit));
  }
  if (project.policy !== undefined) parts.push(policyMarkdown(project.policy, policyLimit));
  const outputs = project.appliedOutputs && appliedOutputsSection(project.appliedOutputs);
  if (outputs) parts.push(outputs.replace(/^####/, '#####'));
  const head = parts.join('\n\n');
  const { diff } = project;
  if (diff !== undefined) {
    const within = (budget: number) => diffWithin(diff, budget, project.artifactLocation);
    return { project, head, full: within(Number.MAX_SAFE_INTEGER), within };
  }
  if (project.summary !== undefined && resources.length === 0) {
    return { project, head, full: 'No resource changes.', within: () => 'No resource changes.' };
  }
  const lines = [
    ...resources.filter(isDestroying),
    ...resources.filter((resource) => !isDestroying(resource)),
  ].map(resourceLine);
  const fold = (taken: readonly string[]) =>
    taken.length === 0 ? '' : foldedSection(lines.length, taken, FOLD_TITLE);
  const within = (budget: number): string => {
    const note = omittedNote(lines.length, project.artifactLocation);
    const all = fold(lines);
    if (all.length <= budget) return all;
    const room = budget - note.length - 2;
    const { taken } = linesWithin(lines, foldCost(lines.length), room);
    const shown = [fold(taken), omittedNote(lines.length - taken.length, project.artifactLocation)];
    const text = shown.filter((part) => part !== '').join('\n\n');
    return text.length <= budget ? text : '';
  };
  return { project, head, full: fold(lines), within };
}

/** What showing `lines` of a section costs on top of its head: the fold and a separator. */
const foldCost = (all: number) => foldedSection(all, [], FOLD_TITLE).length + 2;

const CUT_NOTE =
  '> Some projects’ changes are cut to fit GitHub’s comment limit; each cut one names where its full plan is.';

/**
 * The environment's sticky comment: marker, headline with the totals, then per project its
 * status line (always visible), its error, its applied outputs, and its changes (the diff,
 * each resource folded, or the resource list folded). Never over GITHUB_COMMENT_LIMIT: the
 * longest changes are cut first, each cut one naming where its full plan is.
 */
export function renderEnvironmentComment(input: EnvironmentCommentInput): string {
  const failing = input.projects.filter((project) => (project.error ?? '').trim() !== '').length;
  const errorLimit = Math.min(
    ERROR_LIMIT,
    Math.max(MIN_ERROR_LIMIT, Math.floor(ERRORS_BUDGET / Math.max(1, failing))),
  );
  const checked = input.projects.filter((project) => project.policy !== undefined).length;
  const policyLimit = Math.max(
    MIN_POLICY_LIMIT,
    Math.floor(POLICIES_BUDGET / Math.max(1, checked)),
  );
  const sections = [
    ...input.projects.filter(destroysAnything),
    ...input.projects.filter((project) => !destroysAnything(project)),
  ].map((project) => section(project, errorLimit, policyLimit));

  const assemble = (bodies: readonly string[]): string => {
    const cut = sections.some((entry, index) => bodies[index] !== entry.full);
    const parts = [`${environmentCommentMarker(input.environment)}\n${headline(input)}`];
    if (input.decision !== undefined) parts.push(markdownText(input.decision));
    if (cut) parts.push(CUT_NOTE);
    sections.forEach((entry, index) => {
      parts.push(entry.head);
      const body = bodies[index] ?? '';
      if (body !== '') parts.push(body);
    });
    return `${parts.join('\n\n')}\n`;
  };

  const full = assemble(sections.map((entry) => entry.full));
  if (full.length <= GITHUB_COMMENT_LIMIT) return full;

  // Everything but the changes (with the cut note): what is left is shared out, smallest
  // first, none taking more than an equal share of what remains, so the longest are cut.
  let budget = GITHUB_COMMENT_LIMIT - assemble(sections.map(() => '')).length;
  const order = sections
    .map((entry, index) => ({ entry, index }))
    .filter((item) => item.entry.full !== '')
    .sort((a, b) => a.entry.full.length - b.entry.full.length);
  const bodies: string[] = sections.map(() => '');
  order.forEach(({ entry, index }, position) => {
    // Each shown body also costs its separator.
    const share = Math.floor(budget / (order.length - position)) - 2;
    const body = entry.within(share);
    bodies[index] = body;
    if (body !== '') budget -= body.length + 2;
  });
  const comment = assemble(bodies);
  return comment.length <= GITHUB_COMMENT_LIMIT ? comment : hardCut(comment);
}
