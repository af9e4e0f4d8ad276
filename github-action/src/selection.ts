// Which projects the action runs. With stepform.yaml at the commit (read from the checkout at
// GITHUB_WORKSPACE, or one folder below it for actions/checkout with `path:`, never its
// working tree): the `projects` input (what the event's change affects, all, or names), or the
// projects at the folder `project` names; each resolved for the environment and checked at the
// commit, in layers. Without the file, the one folder `project` names, as before stepform.yaml
// existed.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  affectedAtCommit,
  configAtCommit,
  filesAtCommit,
  hasCommit,
  isShallow,
  mergeBase,
} from '../../adapters/git/repository-at-commit.ts';
import { type Selection, selectProjects } from '../../core/config/layers.ts';
import { type RunProjects, runProjectsFor } from '../../core/config/run-projects.ts';
import {
  CONFIG_FILE,
  type StepformConfig,
  environmentConfig,
  resolveProject,
} from '../../core/config/stepform-config.ts';
import { MULTI_PROJECT_WORKFLOWS } from '../../core/contracts/workflow-input.ts';
import { InvalidInput } from '../../core/errors.ts';
import type { GitHubRun } from './event.ts';
import type { Inputs } from './inputs.ts';

/** What the run covers (`projects` absent: the one folder, no stepform.yaml), or nothing. */
export type ActionSelection =
  | (Partial<RunProjects> & { readonly projectDir: string; readonly nothing?: undefined })
  | { readonly nothing: string };

const FETCH_DEPTH = 'use fetch-depth: 0 on actions/checkout';

/**
 * The repository's checkout: GITHUB_WORKSPACE itself, or else the folder below it that
 * actions/checkout's `path:` put it in: the first git checkout there (by name) that holds the
 * commit (a second repository checked out beside it does not), else the first with a
 * stepform.yaml (a shallow one, which configOf then refuses). Undefined when there is none.
 */
async function checkoutOf(
  workspace: string,
  commit: string,
  note: (line: string) => void,
): Promise<string | undefined> {
  if (await hasCommit(workspace, 'HEAD')) return workspace;
  const folders = (await readdir(workspace, { withFileTypes: true }).catch(() => []))
    .filter((entry) => entry.isDirectory() && existsSync(join(workspace, entry.name, '.git')))
    .map((entry) => join(workspace, entry.name))
    .sort();
  let found: string | undefined;
  for (const folder of folders) {
    if (await hasCommit(folder, commit)) {
      found = folder;
      break;
    }
  }
  found ??= folders.find((folder) => existsSync(join(folder, CONFIG_FILE)));
  if (found !== undefined)
    note(`reading ${CONFIG_FILE} from the checkout at ${found} (actions/checkout path:)`);
  return found;
}

/**
 * stepform.yaml at the commit, from the checkout. Undefined when the repository has none, or
 * when there is no checkout at all and the action runs as it did before the file (the executor
 * clones the repository itself), which the log says; a checkout that has the file but not
 * the commit is an error.
 */
async function configOf(
  github: GitHubRun,
  note: (line: string) => void,
): Promise<{ config: StepformConfig; checkout: string } | undefined> {
  const { workspace, commit } = github;
  if (workspace === undefined) return undefined;
  const checkout = await checkoutOf(workspace, commit, note);
  if (checkout === undefined) {
    note(
      `no checkout of ${commit.slice(0, 12)} at ${workspace} or in a folder below it: ` +
        `${CONFIG_FILE} is not read, and the run is the folder the project input names ` +
        `(for stepform.yaml, check the repository out first, with fetch-depth: 0)`,
    );
    return undefined;
  }
  if (!(await hasCommit(checkout, commit))) {
    if (!existsSync(join(checkout, CONFIG_FILE))) return undefined;
    throw new InvalidInput(
      'projects',
      `the checkout at ${checkout} lacks the commit ${commit.slice(0, 12)}: ${FETCH_DEPTH}`,
    );
  }
  const config = await configAtCommit(checkout, commit);
  return config === undefined ? undefined : { config, checkout };
}

/**
 * The selection of `projects: changed`: what the event's change affects; every project for a
 * push that created its branch, or an event without a change (`note` says which).
 */
async function changedSelection(
  config: StepformConfig,
  inputs: Inputs,
  github: GitHubRun & { readonly workspace: string },
  files: readonly string[],
  note: (line: string) => void,
): Promise<Selection> {
  const { change, workspace, commit } = github;
  if (change.kind === 'new-branch') {
    note('a push that created its branch has nothing to compare with: every project is affected');
    return { kind: 'all' };
  }
  if (change.kind === 'none') {
    note(`a ${github.eventName} run has no change to compare: every project runs`);
    return { kind: 'all' };
  }
  if (!(await hasCommit(workspace, change.base))) {
    if (await isShallow(workspace)) {
      throw new InvalidInput(
        'projects',
        `changed needs the base commit ${change.base.slice(0, 12)}, which the checkout lacks: ${FETCH_DEPTH}`,
      );
    }
    // A whole history without it: a force push left `before` on no branch, and no fetch gets it.
    note(
      `the base commit ${change.base.slice(0, 12)} is in no branch of the repository (a force push?): nothing to compare with, every project is affected`,
    );
    return { kind: 'all' };
  }
  // From where the commit's history left the base's (what a pull request's "Files changed"
  // shows): changes the base branch made since are not the pull request's.
  const from = (await mergeBase(workspace, change.base, commit)) ?? change.base;
  const resolved = config.projects.map((p) => resolveProject(config, p, inputs.environment));
  return {
    kind: 'changed',
    affected: await affectedAtCommit(workspace, resolved, from, commit, files),
  };
}

/** The run's projects; InvalidInput (naming the input or the key of stepform.yaml) otherwise. */
export async function selectForAction(
  inputs: Inputs,
  github: GitHubRun,
  note: (line: string) => void,
): Promise<ActionSelection> {
  const found = await configOf(github, note);
  if (found === undefined) {
    if (inputs.projects.kind !== 'changed') {
      throw new InvalidInput(
        'projects',
        `needs ${CONFIG_FILE} at the commit in a checkout (actions/checkout with fetch-depth: 0); without it a run is the folder project names`,
      );
    }
    return { projectDir: inputs.projectDir };
  }
  const { config, checkout: workspace } = found;
  environmentConfig(config, inputs.environment, 'environment');
  const files = await filesAtCommit(workspace, github.commit);
  const selection: Selection = inputs.projectGiven
    ? { kind: 'dir', dir: inputs.projectDir, field: 'project' }
    : inputs.projects.kind === 'names'
      ? { kind: 'projects', names: inputs.projects.names, field: 'projects' }
      : inputs.projects.kind === 'all'
        ? { kind: 'all' }
        : await changedSelection(config, inputs, { ...github, workspace }, files, note);
  const selected = selectProjects(config, selection);
  if (selected.length === 0) {
    const base = github.change.kind === 'diff' ? ` since ${github.change.base.slice(0, 12)}` : '';
    return { nothing: `no project of ${CONFIG_FILE} is affected by the changes${base}` };
  }
  // The input that selected them, for an error that names it.
  const field = inputs.projectGiven ? 'project' : 'projects';
  const run = runProjectsFor(config, inputs.environment, selected, new Set(files), field);
  if (run.projects.length > 1 && !MULTI_PROJECT_WORKFLOWS.includes(inputs.workflow)) {
    throw new InvalidInput(
      field,
      `${inputs.workflow} runs one project at a time (${run.projects.map((p) => p.name).join(', ')} are selected): name one with projects`,
    );
  }
  return run;
}
