import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rejection } from '../../test/support/caught.ts';
import { dispatchAfterApply } from '../../core/dispatch.ts';
import { DefaultBranchCheckFailed, InvalidInput } from '../../core/errors.ts';
import { environmentCommentMarker } from '../../core/environment-comment.ts';
import { DISPATCHES_DIR, RunFolderCodeHost } from './run-folder-code-host.ts';

const COMMIT = '0123456789abcdef0123456789abcdef01234567';

describe('RunFolderCodeHost', () => {
  let root: string;
  let runDir: string;
  let host: RunFolderCodeHost;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'stepform-code-host-'));
    runDir = join(root, 'runs', 'run-1');
    host = new RunFolderCodeHost(runDir);
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('records each dispatch as a JSON file of its own, in order, private to its owner', async () => {
    // Act: through the core step, as an apply would
    const reports = await dispatchAfterApply(
      host,
      [
        { dispatch: { repository: 'acme/app', event_type: 'infra-applied' } },
        { dispatch: { repository: 'acme/docs', event_type: 'refresh' } },
      ],
      { environment: 'dev', commit: COMMIT, runId: 'run-1', repository: 'acme/infra' },
      [{ name: 'app', dir: 'infra/app', outputs: { url: { sensitive: false, value: 'u' } } }],
    );

    // Assess
    expect(reports.map((report) => report.status)).toEqual(['sent', 'sent']);
    const dir = join(runDir, DISPATCHES_DIR);
    const files = (await readdir(dir)).sort();
    expect(files).toEqual(['001-acme.app-infra-applied.json', '002-acme.docs-refresh.json']);
    expect(JSON.parse(await readFile(join(dir, files[0]!), 'utf8'))).toEqual({
      repository: 'acme/app',
      event_type: 'infra-applied',
      client_payload: {
        environment: 'dev',
        commit: COMMIT,
        runId: 'run-1',
        repository: 'acme/infra',
        projects: ['app'],
        outputs: { app: { url: 'u' } },
      },
    });
    expect((await stat(join(dir, files[0]!))).mode & 0o777).toBe(0o600);
  });

  it('refuses what GitHub would refuse, writing nothing', async () => {
    // Act
    const error = await rejection(host.dispatchRepositoryEvent('../..', 'e', {}));

    // Assess
    expect(error).toBeInstanceOf(InvalidInput);
    await expect(readdir(runDir)).rejects.toThrow();
  });

  it('keeps one comment file per marker, updated in place', async () => {
    // Prepare
    const marker = environmentCommentMarker('dev');

    // Act
    await host.upsertPullRequestComment(7, marker, `${marker}\nfirst`);
    await host.upsertPullRequestComment(7, marker, 'second');

    // Assess
    const files = await readdir(runDir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^pr-7-comment-[0-9a-f]{12}\.md$/);
    expect(await readFile(join(runDir, files[0]!), 'utf8')).toBe(`${marker}\nsecond`);
  });

  it('appends statuses and deployments as JSON lines', async () => {
    // Act
    await host.setCommitStatus(COMMIT, { state: 'pending', context: 'c', description: 'd' });
    await host.recordDeployment(COMMIT, {
      environment: 'dev',
      state: 'success',
      description: 'applied',
      runId: 'run-1',
    });

    // Assess
    expect(await readFile(join(runDir, 'commit-statuses.jsonl'), 'utf8')).toBe(
      `${JSON.stringify({ commit: COMMIT, state: 'pending', context: 'c', description: 'd' })}\n`,
    );
    const deployment = await readFile(join(runDir, 'deployments.jsonl'), 'utf8');
    expect(JSON.parse(deployment)).toMatchObject({ environment: 'dev', state: 'success' });
  });

  it('fails closed on the default-branch check', async () => {
    await expect(host.isOnDefaultBranch(COMMIT)).rejects.toBeInstanceOf(DefaultBranchCheckFailed);
  });

  describe('issues', () => {
    const TITLE = 'Drift: app in dev';

    it('keeps issues where later runs find them: opened, found by label and title, updated, closed', async () => {
      // Prepare: two runs' hosts sharing the home's issues folder
      const issuesDir = join(root, 'issues');
      const first = new RunFolderCodeHost(join(root, 'runs', 'run-1'), { issuesDir });
      const second = new RunFolderCodeHost(join(root, 'runs', 'run-2'), { issuesDir });

      // Act
      const opened = await first.createIssue({ title: TITLE, body: 'v1', labels: ['drift'] });
      const found = await second.findOpenIssue('drift', TITLE);
      await second.updateIssue(opened.number, { body: 'v2' });
      await second.commentOnIssue(opened.number, 'gone');
      await second.updateIssue(opened.number, { state: 'closed' });

      // Assess
      expect(opened).toEqual({ number: 1, title: TITLE, state: 'open' });
      expect(found).toEqual(opened);
      expect(await first.findOpenIssue('drift', TITLE)).toBeUndefined();
      expect(await first.issues()).toEqual([
        {
          number: 1,
          title: TITLE,
          labels: ['drift'],
          state: 'closed',
          body: 'v2',
          comments: ['gone'],
          updates: 2,
        },
      ]);
      expect((await stat(join(issuesDir, 'issue-1.json'))).mode & 0o777).toBe(0o600);
    });

    it('numbers issues one after another, and finds only an open one of that label and title', async () => {
      await host.createIssue({ title: TITLE, body: 'a', labels: ['other'] });
      const second = await host.createIssue({ title: TITLE, body: 'b', labels: ['drift'] });
      await host.createIssue({ title: 'Drift: app in prod', body: 'c', labels: ['drift'] });

      expect(second.number).toBe(2);
      expect(await host.findOpenIssue('drift', TITLE)).toEqual(second);
      expect((await host.issues()).map((issue) => issue.number)).toEqual([1, 2, 3]);
      // Without an issues folder of its own, a host keeps them in its run's folder.
      expect((await readdir(join(runDir, 'issues'))).sort()).toEqual([
        'issue-1.json',
        'issue-2.json',
        'issue-3.json',
      ]);
    });

    it('refuses an issue that does not exist and an empty title', async () => {
      expect(await rejection(host.updateIssue(4, { state: 'closed' }))).toBeInstanceOf(
        InvalidInput,
      );
      expect(await rejection(host.commentOnIssue(0, 'x'))).toBeInstanceOf(InvalidInput);
      expect(
        await rejection(host.createIssue({ title: ' ', body: 'x', labels: [] })),
      ).toBeInstanceOf(InvalidInput);
    });
  });
});
