import { describe, expect, it } from '@jest/globals';
import { InvalidInput } from '../../core/errors.ts';
import { readGitHubRun } from './event.ts';

const SHA = 'a'.repeat(40);
const HEAD = 'b'.repeat(40);
const BEFORE = 'c'.repeat(40);

const ENV = {
  GITHUB_EVENT_NAME: 'push',
  GITHUB_EVENT_PATH: '/runner/event.json',
  GITHUB_REPOSITORY: 'acme/infra',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_SHA: SHA,
  GITHUB_RUN_ID: '9876543210',
  GITHUB_RUN_ATTEMPT: '2',
};

/** readGitHubRun over an event payload held in memory. */
async function read(env: Record<string, string | undefined>, payload: unknown) {
  const paths: string[] = [];
  const run = await readGitHubRun({ ...ENV, ...env }, async (path) => {
    paths.push(path);
    return JSON.stringify(payload);
  });
  return { run, paths };
}

describe('readGitHubRun', () => {
  it('push: GITHUB_SHA, the repository as an https URL, no pull request', async () => {
    const { run, paths } = await read({}, { after: SHA, deleted: false });
    expect(paths).toEqual(['/runner/event.json']);
    expect(run).toEqual({
      eventName: 'push',
      repository: 'https://github.com/acme/infra',
      repositoryName: 'acme/infra',
      serverUrl: 'https://github.com',
      commit: SHA,
      change: { kind: 'none' },
      runId: '9876543210',
      runAttempt: '2',
      runUrl: 'https://github.com/acme/infra/actions/runs/9876543210',
    });
  });

  it.each(['pull_request', 'pull_request_target'])(
    '%s: the head commit and the number, not GITHUB_SHA (the merge commit)',
    async (eventName) => {
      const { run } = await read(
        { GITHUB_EVENT_NAME: eventName },
        { number: 42, pull_request: { number: 42, head: { sha: HEAD }, base: { sha: SHA } } },
      );
      expect(run.commit).toBe(HEAD);
      expect(run.pullRequest).toBe(42);
      expect(run.change).toEqual({ kind: 'diff', base: SHA });
    },
  );

  it('push: the change is from `before`', async () => {
    const { run } = await read({}, { before: BEFORE, after: SHA });
    expect(run.change).toEqual({ kind: 'diff', base: BEFORE });
  });

  it('push of a new branch (`before` all zeros): nothing to compare with', async () => {
    const { run } = await read({}, { before: '0'.repeat(40), after: SHA, created: true });
    expect(run.change).toEqual({ kind: 'new-branch' });
  });

  it('the checkout is GITHUB_WORKSPACE', async () => {
    const { run } = await read({ GITHUB_WORKSPACE: '/home/runner/work/infra/infra' }, {});
    expect(run.workspace).toBe('/home/runner/work/infra/infra');
  });

  it.each(['workflow_dispatch', 'schedule'])('%s: GITHUB_SHA', async (eventName) => {
    const { run } = await read({ GITHUB_EVENT_NAME: eventName }, { inputs: { ttl: '4h' } });
    expect(run.commit).toBe(SHA);
    expect(run.pullRequest).toBeUndefined();
    expect(run.change).toEqual({ kind: 'none' });
  });

  it('defaults the server and the attempt', async () => {
    const { run } = await read({ GITHUB_SERVER_URL: undefined, GITHUB_RUN_ATTEMPT: undefined }, {});
    expect(run.repository).toBe('https://github.com/acme/infra');
    expect(run.runAttempt).toBe('1');
  });

  it.each([
    [{ GITHUB_RUN_ID: undefined }, {}, 'GITHUB_RUN_ID', /not set/],
    [{ GITHUB_RUN_ID: '12a' }, {}, 'GITHUB_RUN_ID', /whole number/],
    [{ GITHUB_REPOSITORY: 'acme' }, {}, 'GITHUB_REPOSITORY', /owner/],
    [{ GITHUB_SHA: 'HEAD' }, {}, 'GITHUB_SHA', /40-character/],
    [{}, { deleted: true }, 'event.deleted', /branch deletion/],
    [
      { GITHUB_EVENT_NAME: 'pull_request' },
      { pull_request: { number: 1, head: { sha: 'short' }, base: { sha: SHA } } },
      'event.pull_request.head.sha',
      /40-character/,
    ],
    [
      { GITHUB_EVENT_NAME: 'pull_request' },
      { pull_request: { number: 1, head: { sha: HEAD } } },
      'event.pull_request.base',
      /object/,
    ],
    [{}, { before: 'HEAD~1' }, 'event.before', /40-character/],
    [{ GITHUB_EVENT_NAME: 'pull_request' }, {}, 'event.pull_request', /object/],
  ])('refuses %j with payload %j, naming %s', async (env, payload, field, message) => {
    const error = await read(env, payload).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as InvalidInput).field).toBe(field);
    expect((error as InvalidInput).message).toMatch(message);
  });

  it('refuses an unreadable payload, naming GITHUB_EVENT_PATH', async () => {
    await expect(
      readGitHubRun(ENV, async () => {
        throw new Error('ENOENT');
      }),
    ).rejects.toThrow('GITHUB_EVENT_PATH: is not a readable JSON event payload (ENOENT)');
  });
});
