// What the workflow run says about itself: the repository, the commit and the pull request,
// from the GITHUB_* variables and the event payload at GITHUB_EVENT_PATH, validated once.
//   pull_request, pull_request_target   the PR's head commit and its number; the change is
//                                       from the PR's base commit
//   push                                GITHUB_SHA (the pushed commit); the change is from
//                                       `before` (all zeros: a new branch); a branch deletion
//                                       is refused
//   anything else (workflow_dispatch, schedule, …)   GITHUB_SHA, no change to compare
import { z } from 'zod';
import { COMMIT_SHA, REPOSITORY } from '../../core/contracts/job-input.ts';
import { InvalidInput } from '../../core/errors.ts';
import { parseInput } from '../../core/validation.ts';
import type { Env } from './deps.ts';

/** What `projects: changed` compares the commit with. */
export type Change =
  /** The files that differ between `base` and the commit. */
  | { readonly kind: 'diff'; readonly base: string }
  /** A push that created the branch: nothing to compare with, every project is affected. */
  | { readonly kind: 'new-branch' }
  /** An event without a change (workflow_dispatch, schedule…): every project. */
  | { readonly kind: 'none' };

/** `before` of a push that created its branch. */
const NO_COMMIT = '0'.repeat(40);

export interface GitHubRun {
  readonly eventName: string;
  /** `https://github.com/<owner>/<repo>`: the form REPOSITORY (the executor's job) accepts. */
  readonly repository: string;
  /** `<owner>/<repo>`. */
  readonly repositoryName: string;
  readonly serverUrl: string;
  readonly commit: string;
  readonly change: Change;
  readonly pullRequest?: number;
  /** GITHUB_WORKSPACE: where actions/checkout cloned the repository, when it did. */
  readonly workspace?: string;
  readonly runId: string;
  readonly runAttempt: string;
  /** The workflow run's page, for links. */
  readonly runUrl: string;
}

/** A variable the runner sets: its absence means this is not running in GitHub Actions. */
const set = () => z.string({ error: 'is not set (the Actions runner sets it)' });

const DIGITS = set().regex(/^[1-9]\d{0,19}$/, 'must be a positive whole number');

const RUN_ENV = z.object({
  GITHUB_EVENT_NAME: set().regex(/^[a-z_]{1,64}$/, 'must be a GitHub event name'),
  GITHUB_EVENT_PATH: set().min(1, 'is required (the event payload file)'),
  GITHUB_REPOSITORY: set().regex(
    /^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/,
    'must be <owner>/<repo>',
  ),
  GITHUB_SERVER_URL: z
    .string()
    .regex(/^https:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/, 'must be an https:// origin')
    .default('https://github.com'),
  GITHUB_SHA: z.string().optional(),
  GITHUB_RUN_ID: DIGITS,
  GITHUB_RUN_ATTEMPT: DIGITS.default('1'),
  /** The checkout (actions/checkout clones there); absent outside a job. */
  GITHUB_WORKSPACE: z.string().min(1).optional(),
});

const PULL_REQUEST_EVENT = z.object({
  pull_request: z.object({
    number: z.number().int().positive(),
    head: z.object({ sha: COMMIT_SHA }),
    base: z.object({ sha: COMMIT_SHA }),
  }),
});

const PUSH_EVENT = z.object({ deleted: z.boolean().optional(), before: COMMIT_SHA.optional() });

/** The run's context; InvalidInput names the variable or payload field that is wrong. */
export async function readGitHubRun(
  env: Env,
  readFile: (path: string) => Promise<string>,
): Promise<GitHubRun> {
  const vars = parseInput(RUN_ENV, env, '');
  let payload: unknown;
  try {
    payload = JSON.parse(await readFile(vars.GITHUB_EVENT_PATH));
  } catch (error) {
    throw new InvalidInput(
      'GITHUB_EVENT_PATH',
      `is not a readable JSON event payload (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  const eventName = vars.GITHUB_EVENT_NAME;
  let commit: string;
  let pullRequest: number | undefined;
  let change: Change = { kind: 'none' };
  if (eventName === 'pull_request' || eventName === 'pull_request_target') {
    const event = parseInput(PULL_REQUEST_EVENT, payload, 'event');
    commit = event.pull_request.head.sha;
    pullRequest = event.pull_request.number;
    change = { kind: 'diff', base: event.pull_request.base.sha };
  } else {
    if (eventName === 'push') {
      const event = parseInput(PUSH_EVENT, payload, 'event');
      if (event.deleted === true)
        throw new InvalidInput('event.deleted', 'a branch deletion has no commit to run');
      if (event.before !== undefined)
        change =
          event.before === NO_COMMIT
            ? { kind: 'new-branch' }
            : { kind: 'diff', base: event.before };
    }
    commit = parseInput(COMMIT_SHA, vars.GITHUB_SHA, 'GITHUB_SHA');
  }
  const repository = parseInput(
    REPOSITORY,
    `${vars.GITHUB_SERVER_URL}/${vars.GITHUB_REPOSITORY}`,
    'GITHUB_REPOSITORY',
  );
  return {
    eventName,
    repository,
    repositoryName: vars.GITHUB_REPOSITORY,
    serverUrl: vars.GITHUB_SERVER_URL,
    commit,
    change,
    ...(pullRequest === undefined ? {} : { pullRequest }),
    ...(vars.GITHUB_WORKSPACE === undefined ? {} : { workspace: vars.GITHUB_WORKSPACE }),
    runId: vars.GITHUB_RUN_ID,
    runAttempt: vars.GITHUB_RUN_ATTEMPT,
    runUrl: `${vars.GITHUB_SERVER_URL}/${vars.GITHUB_REPOSITORY}/actions/runs/${vars.GITHUB_RUN_ID}`,
  };
}
