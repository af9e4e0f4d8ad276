// CodeHostPort over the GitHub REST API (Octokit): the sticky pull-request comment, commit
// statuses, deployments and their statuses (the audit trail on GitHub), the check that a
// commit is on the default branch before a plan-apply, and after_apply's repository_dispatch. 429 and 5xx (and a secondary rate
// limit's 403 with Retry-After) are retried with backoff; what still fails is a
// NotificationFailed, except for the default-branch check, which fails closed: it throws,
// and never answers true on an error. Error messages never carry the token.
import { stripVTControlCharacters } from 'node:util';
import { Octokit } from '@octokit/rest';
import {
  DefaultBranchCheckFailed,
  InvalidInput,
  NotificationFailed,
  StepformError,
} from '../../core/errors.ts';

export { DefaultBranchCheckFailed };
import type {
  CodeHostIssue,
  CodeHostPort,
  CommitState,
  DeploymentState,
} from '../../core/ports.ts';
import { httpUrl } from '../../core/urls.ts';
import { dispatchTarget } from '../../core/dispatch.ts';
import type { GitHubCredentials } from './app-auth.ts';
import { cutText } from '../../core/text.ts';
import {
  DEFAULT_RETRY,
  isRetryableError,
  retryAfterOf,
  type RetryOptions,
  statusOf,
  withRetries,
} from '../http-retry.ts';

/** GitHub refuses a status or deployment description over this many characters. */
export const GITHUB_DESCRIPTION_LIMIT = 140;

/** Comment pages of 100 read while looking for the sticky comment (10,000 comments). */
const MAX_COMMENT_PAGES = 100;
const PER_PAGE = 100;

export interface CreateOctokitOptions {
  /**
   * A token, or a provider asked before every request (a GitHub App's installation tokens
   * expire within the hour; the provider caches and renews them).
   */
  readonly token: string | GitHubCredentials;
  /** `https://api.github.com` by default; GitHub Enterprise's `https://HOST/api/v3`. */
  readonly baseUrl?: string;
  /** Per request: Octokit has no timeout of its own. */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
  /**
   * Octokit's logger. By default silent but for warnings (deprecations): a failed request is
   * reported once, by the adapter's error, not once per try by Octokit's request log.
   */
  readonly log?: OctokitLog;
}

export interface OctokitLog {
  debug(message: string): unknown;
  info(message: string): unknown;
  warn(message: string): unknown;
  error(message: string): unknown;
}

const quiet = (): undefined => undefined;
const QUIET_LOG: OctokitLog = {
  debug: quiet,
  info: quiet,
  warn: (message) => {
    console.warn(message);
  },
  error: quiet,
};

/** An Octokit authenticated with `token`, with a per-request timeout. */
export function createOctokit(options: CreateOctokitOptions): Octokit {
  const token = typeof options.token === 'string' ? options.token.trim() : undefined;
  if (token === '') throw new InvalidInput('token', 'the GitHub token is empty');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const baseUrl = (options.baseUrl ?? 'https://api.github.com').replace(/\/+$/, '');
  const octokit = new Octokit({
    ...(token === undefined ? {} : { auth: token }),
    baseUrl,
    userAgent: options.userAgent ?? 'stepform',
    log: options.log ?? QUIET_LOG,
    request: {
      fetch: (url: string | URL, init?: RequestInit) =>
        fetch(url, { ...init, signal: init?.signal ?? AbortSignal.timeout(timeoutMs) }),
    },
  });
  const provider = typeof options.token === 'string' ? undefined : options.token;
  if (provider !== undefined) {
    octokit.hook.before('request', async (request) => {
      request.headers.authorization = `token ${await provider.token()}`;
    });
  }
  return octokit;
}

/** The name of a commit status: `stepform/plan-apply/dev`. */
export function statusContext(workflow: string, environment: string): string {
  return `stepform/${workflow}/${environment}`;
}

export interface GitHubCodeHostOptions {
  readonly octokit: Octokit;
  readonly owner: string;
  readonly repo: string;
  /** Skips reading the repository's default branch when given. */
  readonly defaultBranch?: string;
  readonly retry?: Partial<RetryOptions>;
  /**
   * An Octokit whose token reaches another repository, for a repository_dispatch there (a
   * GitHub App's installation token is narrowed to the repositories it was minted for).
   * @default - `octokit`, for every repository
   */
  readonly octokitFor?: (owner: string, repo: string) => Octokit;
}

const NAME = /^[A-Za-z0-9_.-]{1,100}$/;
const SHA = /^[0-9a-f]{40}$/;

function commitSha(commit: string): string {
  const sha = commit.trim().toLowerCase();
  if (!SHA.test(sha)) throw new InvalidInput('commit', 'must be a full 40-character hex SHA');
  return sha;
}

/** One line, at most GitHub's 140 characters, "…" when cut. */
function description(text: string): string {
  return cutText(text.replace(/\s+/g, ' ').trim(), GITHUB_DESCRIPTION_LIMIT);
}

function property(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null
    ? (value as Record<string, unknown>)[name]
    : undefined;
}

/** 429, 5xx, network errors, and a secondary rate limit (403 with Retry-After). */
function isRetryableGitHubError(error: unknown): boolean {
  if (isRetryableError(error)) return true;
  return statusOf(error) === 403 && retryAfterOf(error) !== undefined;
}

/**
 * What went wrong, for an error message: the HTTP status and GitHub's short message, never
 * the request (its URL or headers).
 */
function describeFailure(error: unknown): string {
  if (error instanceof StepformError) return error.message;
  const status = statusOf(error);
  const response = property(error, 'response');
  if (status !== undefined && response !== undefined) {
    const message = property(property(response, 'data'), 'message');
    const detail =
      typeof message === 'string'
        ? stripVTControlCharacters(message).replace(/\s+/g, ' ').trim()
        : '';
    return `HTTP ${status}${detail === '' ? '' : ` (${detail.slice(0, 200)})`}`;
  }
  if (status !== undefined) return 'network error or timeout';
  const name = property(error, 'name');
  return `unexpected ${typeof name === 'string' ? name.slice(0, 60) : 'error'}`;
}

export class GitHubCodeHost implements CodeHostPort {
  readonly #octokit: Octokit;
  readonly #owner: string;
  readonly #repo: string;
  readonly #defaultBranch: string | undefined;
  readonly #retry: RetryOptions;
  readonly #octokitFor: ((owner: string, repo: string) => Octokit) | undefined;

  constructor(options: GitHubCodeHostOptions) {
    if (!NAME.test(options.owner)) throw new InvalidInput('owner', 'is not a GitHub owner name');
    if (!NAME.test(options.repo)) throw new InvalidInput('repo', 'is not a GitHub repository name');
    if (options.defaultBranch?.trim() === '') {
      throw new InvalidInput('defaultBranch', 'is empty');
    }
    this.#octokit = options.octokit;
    this.#owner = options.owner;
    this.#repo = options.repo;
    this.#defaultBranch = options.defaultBranch?.trim();
    this.#retry = { ...DEFAULT_RETRY, isRetryable: isRetryableGitHubError, ...options.retry };
    this.#octokitFor = options.octokitFor;
  }

  /** Runs `call` with retries; a final failure is a NotificationFailed naming `what`. */
  async #notify<T>(what: string, call: () => Promise<T>): Promise<T> {
    let tries = 0;
    try {
      return await withRetries(() => {
        tries += 1;
        return call();
      }, this.#retry);
    } catch (error) {
      if (error instanceof InvalidInput) throw error;
      throw new NotificationFailed(
        `GitHub ${what} failed after ${tries} ${tries === 1 ? 'attempt' : 'attempts'}: ${describeFailure(error)}`,
      );
    }
  }

  get #repoParams() {
    return { owner: this.#owner, repo: this.#repo };
  }

  /** The id of the first comment whose body starts with `marker`, reading page by page. */
  async #findComment(pullRequest: number, marker: string): Promise<number | undefined> {
    for (let page = 1; page <= MAX_COMMENT_PAGES; page++) {
      const { data } = await this.#octokit.rest.issues.listComments({
        ...this.#repoParams,
        issue_number: pullRequest,
        per_page: PER_PAGE,
        page,
      });
      const found = data.find((comment) => comment.body?.startsWith(marker) === true);
      if (found !== undefined) return found.id;
      if (data.length < PER_PAGE) return undefined;
    }
    throw new NotificationFailed(
      `pull request ${pullRequest} has more than ${MAX_COMMENT_PAGES * PER_PAGE} comments`,
    );
  }

  async upsertPullRequestComment(pullRequest: number, marker: string, body: string) {
    if (!Number.isSafeInteger(pullRequest) || pullRequest < 1) {
      throw new InvalidInput('pullRequest', 'must be a pull request number');
    }
    if (marker.trim() === '') throw new InvalidInput('marker', 'is empty');
    const text = body.startsWith(marker) ? body : `${marker}\n${body}`;
    // Find and write as one unit, retried whole: after a create whose answer was lost, the
    // retry finds the comment it made instead of making a second one.
    await this.#notify(`comment on pull request ${pullRequest}`, async () => {
      const id = await this.#findComment(pullRequest, marker);
      if (id === undefined) {
        await this.#octokit.rest.issues.createComment({
          ...this.#repoParams,
          issue_number: pullRequest,
          body: text,
        });
      } else {
        await this.#octokit.rest.issues.updateComment({
          ...this.#repoParams,
          comment_id: id,
          body: text,
        });
      }
    });
  }

  async setCommitStatus(
    commit: string,
    status: { state: CommitState; context: string; description: string; targetUrl?: string },
  ) {
    const sha = commitSha(commit);
    const context = status.context.trim();
    if (context === '') throw new InvalidInput('context', 'is empty');
    const targetUrl =
      status.targetUrl === undefined ? undefined : httpUrl(status.targetUrl, 'targetUrl');
    await this.#notify(`commit status ${context}`, () =>
      this.#octokit.rest.repos.createCommitStatus({
        ...this.#repoParams,
        sha,
        state: status.state,
        context,
        description: description(status.description),
        ...(targetUrl === undefined ? {} : { target_url: targetUrl }),
      }),
    );
  }

  async recordDeployment(
    commit: string,
    deployment: { environment: string; state: DeploymentState; description: string; runId: string },
  ) {
    const sha = commitSha(commit);
    const environment = deployment.environment.trim();
    if (environment === '') throw new InvalidInput('environment', 'is empty');
    // Two steps, retried apart: a failed status must not create a second deployment.
    const id = await this.#notify(`deployment to ${environment}`, async () => {
      const response = await this.#octokit.rest.repos.createDeployment({
        ...this.#repoParams,
        ref: sha,
        environment,
        description: description(deployment.description),
        auto_merge: false,
        required_contexts: [],
        transient_environment: false,
        payload: { runId: deployment.runId },
      });
      const created = property(response.data, 'id');
      if (typeof created !== 'number') {
        throw new NotificationFailed(`GitHub created no deployment (HTTP ${response.status})`);
      }
      return created;
    });
    await this.#notify(`deployment status for ${environment}`, () =>
      this.#octokit.rest.repos.createDeploymentStatus({
        ...this.#repoParams,
        deployment_id: id,
        state: deployment.state,
        description: description(deployment.description),
        environment,
      }),
    );
  }

  /**
   * True when `default...commit` compares `identical` or `behind` (the commit is the default
   * branch's head or one of its ancestors); false otherwise, also when GitHub does not know
   * the commit (404). Any other failure throws DefaultBranchCheckFailed: never true on error.
   */
  async isOnDefaultBranch(commit: string): Promise<boolean> {
    const sha = commitSha(commit);
    const failed = (error: unknown) =>
      new DefaultBranchCheckFailed(
        `could not check that ${sha} is on the default branch of ${this.#owner}/${this.#repo}: ${describeFailure(error)}`,
      );
    let branch = this.#defaultBranch;
    if (branch === undefined) {
      try {
        const repository = await withRetries(
          () => this.#octokit.rest.repos.get(this.#repoParams),
          this.#retry,
        );
        branch = repository.data.default_branch;
      } catch (error) {
        throw failed(error);
      }
    }
    let status: unknown;
    try {
      const comparison = await withRetries(
        () =>
          this.#octokit.rest.repos.compareCommitsWithBasehead({
            ...this.#repoParams,
            basehead: `${branch}...${sha}`,
            per_page: 1,
          }),
        this.#retry,
      );
      status = comparison.data.status;
    } catch (error) {
      // A 404 answer from compare: GitHub knows no such commit in this repository.
      if (statusOf(error) === 404 && property(error, 'response') !== undefined) return false;
      throw failed(error);
    }
    return status === 'identical' || status === 'behind';
  }

  /**
   * POST /repos/{owner}/{repo}/dispatches with the token for that repository. Retried like
   * every call, so a dispatch whose answer was lost may arrive twice: receivers see the same
   * runId.
   */
  async dispatchRepositoryEvent(
    repository: string,
    eventType: string,
    clientPayload: Record<string, unknown>,
  ): Promise<void> {
    const { owner, repo } = dispatchTarget(repository, eventType, clientPayload);
    const same =
      owner.toLowerCase() === this.#owner.toLowerCase() &&
      repo.toLowerCase() === this.#repo.toLowerCase();
    const octokit = same ? this.#octokit : (this.#octokitFor?.(owner, repo) ?? this.#octokit);
    await this.#notify(`repository_dispatch ${eventType} to ${owner}/${repo}`, () =>
      octokit.rest.repos.createDispatchEvent({
        owner,
        repo,
        event_type: eventType,
        client_payload: clientPayload,
      }),
    );
  }

  /**
   * The open issue titled `title` among those labelled `label` (GitHub filters by label; the
   * title is compared here), oldest first. Pull requests, which the issues API lists too, are
   * never taken for one.
   */
  async findOpenIssue(label: string, title: string): Promise<CodeHostIssue | undefined> {
    if (label.trim() === '') throw new InvalidInput('label', 'is empty');
    return this.#notify(`issue search (label ${label})`, async () => {
      const found: CodeHostIssue[] = [];
      for (let page = 1; page <= MAX_COMMENT_PAGES; page++) {
        const { data } = await this.#octokit.rest.issues.listForRepo({
          ...this.#repoParams,
          labels: label,
          state: 'open',
          per_page: PER_PAGE,
          page,
        });
        for (const issue of data) {
          if (issue.pull_request === undefined && issue.title === title)
            found.push({ number: issue.number, title: issue.title, state: 'open' });
        }
        if (data.length < PER_PAGE) break;
      }
      return found.sort((a, b) => a.number - b.number)[0];
    });
  }

  async createIssue(issue: { title: string; body: string; labels: string[] }) {
    if (issue.title.trim() === '') throw new InvalidInput('title', 'is empty');
    const { data } = await this.#notify(`issue "${cutText(issue.title, 100)}"`, () =>
      this.#octokit.rest.issues.create({
        ...this.#repoParams,
        title: issue.title,
        body: issue.body,
        labels: issue.labels,
      }),
    );
    return { number: data.number, title: data.title, state: 'open' as const };
  }

  async updateIssue(number: number, change: { body?: string; state?: 'open' | 'closed' }) {
    await this.#notify(`issue ${issueNumber(number)} update`, () =>
      this.#octokit.rest.issues.update({
        ...this.#repoParams,
        issue_number: issueNumber(number),
        ...(change.body === undefined ? {} : { body: change.body }),
        ...(change.state === undefined ? {} : { state: change.state }),
      }),
    );
  }

  async commentOnIssue(number: number, body: string) {
    await this.#notify(`comment on issue ${issueNumber(number)}`, () =>
      this.#octokit.rest.issues.createComment({
        ...this.#repoParams,
        issue_number: issueNumber(number),
        body,
      }),
    );
  }
}

function issueNumber(number: number): number {
  if (!Number.isSafeInteger(number) || number < 1)
    throw new InvalidInput('issue', 'must be an issue number');
  return number;
}
