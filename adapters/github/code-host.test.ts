import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { rejection } from '../../test/support/caught.ts';
import { commentMarker } from '../../core/pr-comment.ts';
import { InvalidInput, NotificationFailed } from '../../core/errors.ts';
import {
  createOctokit,
  DefaultBranchCheckFailed,
  GitHubCodeHost,
  statusContext,
} from './code-host.ts';
import {
  type RecordedRequest,
  RecordingServer,
  type ScriptedResponse,
} from '../../test/support/recording-server.ts';

const TOKEN = 'ghp_testTokenThatMustNeverLeak0123456789';
const OWNER = 'acme';
const REPO = 'infra';
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const PR = 7;
const MARKER = commentMarker('dev', 'terraform/examples/hello');
const FAST_RETRY = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5, random: () => 0 };

const repoPath = `/repos/${OWNER}/${REPO}`;
const commentsPath = `${repoPath}/issues/${PR}/comments`;

interface Comment {
  id: number;
  body: string;
}

/**
 * Scripts the comment endpoints of one pull request over `comments`: list (paged by
 * per_page and page), create, and update of each comment id in `updatable`.
 */
function fakeComments(server: RecordingServer, comments: Comment[], updatable: number[]) {
  let nextId = 5000;
  server.route('GET', commentsPath, (request: RecordedRequest): ScriptedResponse => {
    const perPage = Number(request.query.get('per_page') ?? '30');
    const page = Number(request.query.get('page') ?? '1');
    return { status: 200, body: comments.slice((page - 1) * perPage, page * perPage) };
  });
  server.route('POST', commentsPath, (request): ScriptedResponse => {
    const body = (request.body as { body: string }).body;
    const comment = { id: nextId++, body };
    comments.push(comment);
    return { status: 201, body: comment };
  });
  for (const id of [...updatable, 5000, 5001]) {
    server.route('PATCH', `${repoPath}/issues/comments/${id}`, (request): ScriptedResponse => {
      const comment = comments.find((candidate) => candidate.id === id);
      if (comment === undefined) return { status: 404, body: { message: 'Not Found' } };
      comment.body = (request.body as { body: string }).body;
      return { status: 200, body: comment };
    });
  }
}

describe('GitHubCodeHost', () => {
  let server: RecordingServer;
  let host: GitHubCodeHost;

  beforeEach(async () => {
    server = await RecordingServer.start();
    host = new GitHubCodeHost({
      octokit: createOctokit({ token: TOKEN, baseUrl: server.baseUrl }),
      owner: OWNER,
      repo: REPO,
      retry: FAST_RETRY,
    });
  });

  afterEach(async () => {
    await server.close();
  });

  describe('upsertPullRequestComment', () => {
    it('creates the sticky comment on the first call and updates it in place on the second', async () => {
      // Prepare: a pull request with a comment from someone else
      const comments: Comment[] = [{ id: 1, body: 'LGTM' }];
      fakeComments(server, comments, [1]);

      // Act
      await host.upsertPullRequestComment(PR, MARKER, `${MARKER}\nfirst plan`);
      await host.upsertPullRequestComment(PR, MARKER, `${MARKER}\nsecond plan`);

      // Assess: one POST, then one PATCH of the same comment; never a second comment
      expect(server.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
        `GET ${commentsPath}`,
        `POST ${commentsPath}`,
        `GET ${commentsPath}`,
        `PATCH ${repoPath}/issues/comments/5000`,
      ]);
      expect(server.requests[0]!.query.get('per_page')).toBe('100');
      expect(server.requests[1]!.body).toEqual({ body: `${MARKER}\nfirst plan` });
      expect(server.requests[3]!.body).toEqual({ body: `${MARKER}\nsecond plan` });
      expect(comments).toEqual([
        { id: 1, body: 'LGTM' },
        { id: 5000, body: `${MARKER}\nsecond plan` },
      ]);
    });

    it('puts the marker first when the body lacks it', async () => {
      // Prepare
      const comments: Comment[] = [];
      fakeComments(server, comments, []);

      // Act
      await host.upsertPullRequestComment(PR, MARKER, 'plan without marker');

      // Assess
      expect(comments).toEqual([{ id: 5000, body: `${MARKER}\nplan without marker` }]);
    });

    it('reads the comments page by page to find the marker, and keeps other markers apart', async () => {
      // Prepare: 150 comments; the sticky one on page 2; another environment's on page 1
      const other = commentMarker('prod', 'terraform/examples/hello');
      const comments: Comment[] = Array.from({ length: 150 }, (_, index) => ({
        id: index + 1,
        body: index === 3 ? `${other}\nprod plan` : `comment ${index + 1}`,
      }));
      comments[120] = { id: 121, body: `${MARKER}\nold plan` };
      fakeComments(server, comments, [4, 121]);

      // Act
      await host.upsertPullRequestComment(PR, MARKER, `${MARKER}\nnew plan`);

      // Assess
      expect(server.requests.map((request) => `${request.method} ${request.url}`)).toEqual([
        `GET ${commentsPath}?per_page=100&page=1`,
        `GET ${commentsPath}?per_page=100&page=2`,
        `PATCH ${repoPath}/issues/comments/121`,
      ]);
      expect(comments[120].body).toBe(`${MARKER}\nnew plan`);
      expect(comments[3]!.body).toBe(`${other}\nprod plan`);
    });

    it('retries a 500 then succeeds, without a duplicate comment', async () => {
      // Prepare: the first listing fails
      const comments: Comment[] = [];
      fakeComments(server, comments, []);
      const list = (request: RecordedRequest): ScriptedResponse => ({
        status: 200,
        body: comments.slice(0, Number(request.query.get('per_page'))),
      });
      server.route('GET', commentsPath, { status: 500, body: { message: 'Server Error' } }, list);

      // Act
      await host.upsertPullRequestComment(PR, MARKER, `${MARKER}\nplan`);

      // Assess
      expect(server.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
        `GET ${commentsPath}`,
        `GET ${commentsPath}`,
        `POST ${commentsPath}`,
      ]);
      expect(comments).toHaveLength(1);
    });

    it('throws NotificationFailed after the cap, with neither the token nor the URL in it', async () => {
      // Prepare
      server.route('GET', commentsPath, { status: 502, body: { message: 'Bad Gateway' } });

      // Act
      const error = await rejection(host.upsertPullRequestComment(PR, MARKER, 'plan'));

      // Assess
      expect(server.requests).toHaveLength(3);
      expect(error).toBeInstanceOf(NotificationFailed);
      const message = (error as Error).message;
      expect(message).toBe(
        `GitHub comment on pull request ${PR} failed after 3 attempts: HTTP 502 (Bad Gateway)`,
      );
      expect(message).not.toContain(TOKEN);
      expect(JSON.stringify(error)).not.toContain(TOKEN);
      expect(message).not.toContain(server.baseUrl);
    });

    it('refuses a bad pull request number and an empty marker', async () => {
      expect(
        ((await rejection(host.upsertPullRequestComment(0, MARKER, 'x'))) as InvalidInput).field,
      ).toBe('pullRequest');
      expect(
        ((await rejection(host.upsertPullRequestComment(PR, ' ', 'x'))) as InvalidInput).field,
      ).toBe('marker');
      expect(server.requests).toHaveLength(0);
    });
  });

  it('sends the token in the Authorization header of every request', async () => {
    // Prepare
    fakeComments(server, [], []);
    server.route('POST', `${repoPath}/statuses/${COMMIT}`, { status: 201, body: { id: 1 } });

    // Act
    await host.upsertPullRequestComment(PR, MARKER, 'plan');
    await host.setCommitStatus(COMMIT, { state: 'pending', context: 'c', description: 'd' });

    // Assess
    expect(server.requests.length).toBeGreaterThan(0);
    for (const request of server.requests) {
      expect(request.headers.authorization).toBe(`token ${TOKEN}`);
      expect(request.headers['user-agent']).toMatch(/^stepform /);
    }
  });

  it('keeps the token out of the message of a refused token (401)', async () => {
    // Prepare
    server.route('POST', `${repoPath}/statuses/${COMMIT}`, {
      status: 401,
      body: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' },
    });

    // Act
    const error = await rejection(
      host.setCommitStatus(COMMIT, { state: 'success', context: 'c', description: 'd' }),
    );

    // Assess: not retried, and only GitHub's message
    expect(server.requests).toHaveLength(1);
    expect((error as Error).message).toBe(
      'GitHub commit status c failed after 1 attempt: HTTP 401 (Bad credentials)',
    );
    expect(JSON.stringify(error)).not.toContain(TOKEN);
  });

  describe('drift issues', () => {
    const issuesPath = `${repoPath}/issues`;
    const TITLE = 'Drift: app in dev';

    it('finds the open issue by label (asked of GitHub) and exact title, never a pull request', async () => {
      // Prepare: the label's open issues, a pull request and another title among them
      server.route('GET', issuesPath, {
        status: 200,
        body: [
          { number: 9, title: TITLE, pull_request: { url: 'https://x/pulls/9' } },
          { number: 8, title: 'Drift: app in prod' },
          { number: 6, title: TITLE },
          { number: 4, title: TITLE },
        ],
      });

      // Act
      const found = await host.findOpenIssue('stepform-drift', TITLE);

      // Assess: the oldest match; one listing, filtered by label and state
      expect(found).toEqual({ number: 4, title: TITLE, state: 'open' });
      expect(server.requests).toHaveLength(1);
      const query = server.requests[0]!.query;
      expect([query.get('labels'), query.get('state'), query.get('per_page')]).toEqual([
        'stepform-drift',
        'open',
        '100',
      ]);
    });

    it('answers undefined when no open issue has the title', async () => {
      server.route('GET', issuesPath, { status: 200, body: [{ number: 3, title: 'other' }] });
      await expect(host.findOpenIssue('stepform-drift', TITLE)).resolves.toBeUndefined();
    });

    it('creates an issue with its labels, replaces its body, closes it and comments on it', async () => {
      // Prepare
      server.route('POST', issuesPath, { status: 201, body: { number: 12, title: TITLE } });
      server.route('PATCH', `${issuesPath}/12`, { status: 200, body: { number: 12 } });
      server.route('POST', `${issuesPath}/12/comments`, { status: 201, body: { id: 1 } });

      // Act
      const created = await host.createIssue({
        title: TITLE,
        body: 'the plan',
        labels: ['stepform-drift'],
      });
      await host.updateIssue(12, { body: 'the newer plan' });
      await host.commentOnIssue(12, 'no drift any more');
      await host.updateIssue(12, { state: 'closed' });

      // Assess
      expect(created).toEqual({ number: 12, title: TITLE, state: 'open' });
      expect(server.requests.map((r) => [r.method, r.path, r.body])).toEqual([
        ['POST', issuesPath, { title: TITLE, body: 'the plan', labels: ['stepform-drift'] }],
        ['PATCH', `${issuesPath}/12`, { body: 'the newer plan' }],
        ['POST', `${issuesPath}/12/comments`, { body: 'no drift any more' }],
        ['PATCH', `${issuesPath}/12`, { state: 'closed' }],
      ]);
    });

    it('refuses a bad issue number and an empty label or title before any request', async () => {
      await expect(host.updateIssue(0, { state: 'closed' })).rejects.toBeInstanceOf(InvalidInput);
      await expect(host.commentOnIssue(1.5, 'x')).rejects.toBeInstanceOf(InvalidInput);
      await expect(host.findOpenIssue(' ', TITLE)).rejects.toBeInstanceOf(InvalidInput);
      await expect(host.createIssue({ title: '', body: 'x', labels: [] })).rejects.toBeInstanceOf(
        InvalidInput,
      );
      expect(server.requests).toEqual([]);
    });

    it('retries a 502 on create, and reports a refusal as NotificationFailed', async () => {
      let calls = 0;
      server.route('POST', issuesPath, () =>
        ++calls === 1
          ? { status: 502, body: { message: 'Bad Gateway' } }
          : { status: 201, body: { number: 2, title: TITLE } },
      );
      await expect(
        host.createIssue({ title: TITLE, body: 'b', labels: ['stepform-drift'] }),
      ).resolves.toMatchObject({ number: 2 });
      server.route('POST', `${issuesPath}/2/comments`, {
        status: 403,
        body: { message: 'Resource not accessible by integration' },
      });
      await expect(host.commentOnIssue(2, 'x')).rejects.toBeInstanceOf(NotificationFailed);
    });
  });

  describe('setCommitStatus', () => {
    it('posts the state, context, description cut to 140 characters and target URL', async () => {
      // Prepare
      const statusPath = `${repoPath}/statuses/${COMMIT}`;
      server.route('POST', statusPath, { status: 201, body: { id: 1 } });

      // Act
      await host.setCommitStatus(COMMIT.toUpperCase(), {
        state: 'success',
        context: statusContext('plan-apply', 'dev'),
        description: `applied: ${'x'.repeat(200)}`,
        targetUrl: 'https://console.example.com/runs/run-1',
      });

      // Assess
      expect(server.requests).toHaveLength(1);
      const request = server.requests[0]!;
      expect(request.method).toBe('POST');
      expect(request.path).toBe(statusPath);
      const body = request.body as Record<string, string>;
      expect(body).toEqual({
        state: 'success',
        context: 'stepform/plan-apply/dev',
        description: `applied: ${'x'.repeat(130)}…`,
        target_url: 'https://console.example.com/runs/run-1',
      });
      expect(body['description']).toHaveLength(140);
    });

    it('retries a 500 then succeeds', async () => {
      // Prepare
      const statusPath = `${repoPath}/statuses/${COMMIT}`;
      server.route(
        'POST',
        statusPath,
        { status: 500, body: { message: 'Server Error' } },
        { status: 201, body: { id: 1 } },
      );

      // Act
      await host.setCommitStatus(COMMIT, { state: 'failure', context: 'c', description: 'failed' });

      // Assess
      expect(server.requestsTo('POST', statusPath)).toHaveLength(2);
      expect(server.requests[1]!.body).toEqual(server.requests[0]!.body);
    });

    it('refuses a commit that is not a full SHA', async () => {
      const error = await rejection(
        host.setCommitStatus('main', { state: 'pending', context: 'c', description: 'd' }),
      );
      expect((error as InvalidInput).field).toBe('commit');
      expect(server.requests).toHaveLength(0);
    });
  });

  describe('recordDeployment', () => {
    const deploymentsPath = `${repoPath}/deployments`;

    it('creates a deployment of the commit, then its status', async () => {
      // Prepare
      server.route('POST', deploymentsPath, { status: 201, body: { id: 77 } });
      server.route('POST', `${deploymentsPath}/77/statuses`, { status: 201, body: { id: 1 } });

      // Act
      await host.recordDeployment(COMMIT, {
        environment: 'dev',
        state: 'success',
        description: 'applied +2 ~0 -1',
        runId: 'run-42',
      });

      // Assess
      expect(server.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
        `POST ${deploymentsPath}`,
        `POST ${deploymentsPath}/77/statuses`,
      ]);
      expect(server.requests[0]!.body).toEqual({
        ref: COMMIT,
        environment: 'dev',
        description: 'applied +2 ~0 -1',
        auto_merge: false,
        required_contexts: [],
        transient_environment: false,
        payload: { runId: 'run-42' },
      });
      expect(server.requests[1]!.body).toEqual({
        state: 'success',
        description: 'applied +2 ~0 -1',
        environment: 'dev',
      });
    });

    it('retries the status alone after a 429, without a second deployment', async () => {
      // Prepare
      server.route('POST', deploymentsPath, { status: 201, body: { id: 78 } });
      server.route(
        'POST',
        `${deploymentsPath}/78/statuses`,
        { status: 429, headers: { 'retry-after': '0' }, body: { message: 'rate limited' } },
        { status: 201, body: { id: 1 } },
      );

      // Act
      await host.recordDeployment(COMMIT, {
        environment: 'dev',
        state: 'failure',
        description: 'apply failed',
        runId: 'run-43',
      });

      // Assess
      expect(server.requestsTo('POST', deploymentsPath)).toHaveLength(1);
      expect(server.requestsTo('POST', `${deploymentsPath}/78/statuses`)).toHaveLength(2);
    });

    it('throws NotificationFailed when GitHub creates no deployment', async () => {
      // Prepare: GitHub's 202 answer (a merge happened instead), which has no id
      server.route('POST', deploymentsPath, {
        status: 202,
        body: { message: 'Auto-merged main into topic on deployment.' },
      });

      // Act
      const error = await rejection(
        host.recordDeployment(COMMIT, {
          environment: 'dev',
          state: 'success',
          description: 'x',
          runId: 'run-44',
        }),
      );

      // Assess
      expect(error).toBeInstanceOf(NotificationFailed);
      expect(server.requests).toHaveLength(1);
    });
  });

  describe('isOnDefaultBranch', () => {
    const comparePath = `${repoPath}/compare/main...${COMMIT}`;

    it.each([
      ['identical', true],
      ['behind', true],
      ['ahead', false],
      ['diverged', false],
    ])('reads the default branch, then compares: %s → %p', async (status, expected) => {
      // Prepare
      server.route('GET', repoPath, { status: 200, body: { default_branch: 'main' } });
      server.route('GET', comparePath, { status: 200, body: { status, ahead_by: 0 } });

      // Act
      const result = await host.isOnDefaultBranch(COMMIT);

      // Assess
      expect(result).toBe(expected);
      expect(server.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
        `GET ${repoPath}`,
        `GET ${comparePath}`,
      ]);
    });

    it('uses the configured default branch without reading the repository', async () => {
      // Prepare
      const configured = new GitHubCodeHost({
        octokit: createOctokit({ token: TOKEN, baseUrl: server.baseUrl }),
        owner: OWNER,
        repo: REPO,
        defaultBranch: 'trunk',
        retry: FAST_RETRY,
      });
      server.route('GET', `${repoPath}/compare/trunk...${COMMIT}`, {
        status: 200,
        body: { status: 'behind' },
      });

      // Act and assess
      await expect(configured.isOnDefaultBranch(COMMIT)).resolves.toBe(true);
      expect(server.requests).toHaveLength(1);
    });

    it('answers false for a commit GitHub does not know (404 from compare)', async () => {
      server.route('GET', repoPath, { status: 200, body: { default_branch: 'main' } });
      server.route('GET', comparePath, { status: 404, body: { message: 'Not Found' } });
      await expect(host.isOnDefaultBranch(COMMIT)).resolves.toBe(false);
    });

    it('retries a 500 then answers', async () => {
      server.route('GET', repoPath, { status: 200, body: { default_branch: 'main' } });
      server.route(
        'GET',
        comparePath,
        { status: 500, body: { message: 'Server Error' } },
        { status: 200, body: { status: 'identical' } },
      );
      await expect(host.isOnDefaultBranch(COMMIT)).resolves.toBe(true);
      expect(server.requestsTo('GET', comparePath)).toHaveLength(2);
    });

    it.each([
      ['the repository cannot be read', 'GET', repoPath],
      ['the comparison keeps failing', 'GET', comparePath],
    ])('fails closed when %s: throws, never answers', async (_name, method, path) => {
      // Prepare
      server.route('GET', repoPath, { status: 200, body: { default_branch: 'main' } });
      server.route(method, path, { status: 503, body: { message: 'Service Unavailable' } });

      // Act
      const error = await rejection(host.isOnDefaultBranch(COMMIT));

      // Assess
      expect(error).toBeInstanceOf(DefaultBranchCheckFailed);
      expect((error as Error).message).toContain('HTTP 503 (Service Unavailable)');
      expect((error as Error).message).not.toContain(TOKEN);
      expect(server.requestsTo(method, path)).toHaveLength(3);
    });

    it('fails closed when the repository is not found (a token without access)', async () => {
      server.route('GET', repoPath, { status: 404, body: { message: 'Not Found' } });
      const error = await rejection(host.isOnDefaultBranch(COMMIT));
      expect(error).toBeInstanceOf(DefaultBranchCheckFailed);
      expect(server.requests).toHaveLength(1);
    });

    it('fails closed when GitHub cannot be reached', async () => {
      // Prepare
      await server.close();

      // Act
      const error = await rejection(host.isOnDefaultBranch(COMMIT));
      server = await RecordingServer.start();

      // Assess
      expect(error).toBeInstanceOf(DefaultBranchCheckFailed);
      expect((error as Error).message).not.toContain(TOKEN);
    });

    it('refuses anything but a full SHA, so no ref or range reaches the compare path', async () => {
      const error = await rejection(host.isOnDefaultBranch('main...evil'));
      expect((error as InvalidInput).field).toBe('commit');
      expect(server.requests).toHaveLength(0);
    });
  });

  describe('dispatchRepositoryEvent', () => {
    const dispatchesPath = '/repos/acme/app/dispatches';
    const PAYLOAD = { environment: 'dev', commit: COMMIT, projects: ['network'] };

    it('posts event_type and client_payload to the target repository, with its token', async () => {
      // Prepare: the target's token is its own, not the one of this repository
      server.route('POST', dispatchesPath, { status: 204 });
      const asked: string[] = [];
      const dispatching = new GitHubCodeHost({
        octokit: createOctokit({ token: TOKEN, baseUrl: server.baseUrl }),
        owner: OWNER,
        repo: REPO,
        retry: FAST_RETRY,
        octokitFor: (owner, repo) => {
          asked.push(`${owner}/${repo}`);
          return createOctokit({ token: 'ghs_targetToken', baseUrl: server.baseUrl });
        },
      });

      // Act
      await dispatching.dispatchRepositoryEvent('acme/app', 'infra-applied', PAYLOAD);

      // Assess
      expect(asked).toEqual(['acme/app']);
      expect(server.requests).toHaveLength(1);
      const [request] = server.requests;
      expect(`${request!.method} ${request!.path}`).toBe(`POST ${dispatchesPath}`);
      expect(request!.body).toEqual({ event_type: 'infra-applied', client_payload: PAYLOAD });
      expect(request!.headers.authorization).toBe('token ghs_targetToken');
    });

    it('uses its own token for its own repository, or when given no other', async () => {
      // Prepare
      server.route('POST', `${repoPath}/dispatches`, { status: 204 });
      server.route('POST', dispatchesPath, { status: 204 });

      // Act
      await host.dispatchRepositoryEvent(`${OWNER}/${REPO}`, 'self', {});
      await host.dispatchRepositoryEvent('acme/app', 'other', {});

      // Assess
      expect(server.requests.map((request) => request.path)).toEqual([
        `${repoPath}/dispatches`,
        dispatchesPath,
      ]);
      for (const request of server.requests) {
        expect(request.headers.authorization).toBe(`token ${TOKEN}`);
      }
    });

    it('retries a 502, and reports a refusal as NotificationFailed without the token', async () => {
      // Prepare
      server.route(
        'POST',
        dispatchesPath,
        { status: 502, body: { message: 'Bad Gateway' } },
        { status: 204 },
      );
      server.route('POST', '/repos/acme/private/dispatches', {
        status: 404,
        body: { message: 'Not Found' },
      });

      // Act
      await host.dispatchRepositoryEvent('acme/app', 'infra-applied', PAYLOAD);
      const error = await rejection(host.dispatchRepositoryEvent('acme/private', 'e', PAYLOAD));

      // Assess
      expect(server.requestsTo('POST', dispatchesPath)).toHaveLength(2);
      expect(error).toBeInstanceOf(NotificationFailed);
      expect((error as Error).message).toBe(
        'GitHub repository_dispatch e to acme/private failed after 1 attempt: HTTP 404 (Not Found)',
      );
      expect(JSON.stringify(error)).not.toContain(TOKEN);
    });

    it('refuses a bad repository, event type or a payload of over 10 keys before any request', async () => {
      // Prepare
      const eleven = Object.fromEntries(Array.from({ length: 11 }, (_, index) => [`k${index}`, 1]));

      // Act
      const fields = await Promise.all(
        [
          host.dispatchRepositoryEvent('acme', 'e', {}),
          host.dispatchRepositoryEvent('acme/app/../x', 'e', {}),
          host.dispatchRepositoryEvent('../..', 'e', {}),
          host.dispatchRepositoryEvent('acme/app', 'bad type', {}),
          host.dispatchRepositoryEvent('acme/app', 'e', eleven),
        ].map(async (call) => ((await rejection(call)) as InvalidInput).field),
      );

      // Assess
      expect(fields).toEqual([
        'repository',
        'repository',
        'repository',
        'eventType',
        'clientPayload',
      ]);
      expect(server.requests).toHaveLength(0);
    });
  });

  describe('createOctokit', () => {
    it('does not log each failed try: the adapter’s error reports the failure once', async () => {
      // Prepare
      const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      server.route('POST', `${repoPath}/statuses/${COMMIT}`, { status: 500, body: {} });

      // Act
      await rejection(
        host.setCommitStatus(COMMIT, { state: 'pending', context: 'c', description: 'd' }),
      );
      const calls = errors.mock.calls.length;
      errors.mockRestore();

      // Assess
      expect(server.requests).toHaveLength(3);
      expect(calls).toBe(0);
    });

    it('refuses an empty token', () => {
      expect(() => createOctokit({ token: ' ' })).toThrow(InvalidInput);
    });
  });
});
