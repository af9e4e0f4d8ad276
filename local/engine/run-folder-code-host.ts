// CodeHostPort without GitHub: what a run would have told GitHub, as files in the run's
// folder (0600), for a local run with no GitHub credentials. Comments are markdown files,
// statuses and deployments JSON lines, each repository_dispatch one JSON file, each issue one
// JSON file in a folder that outlives the run (a drift issue is updated by later runs). Whether a
// commit is on the default branch cannot be known here: that check fails closed.
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { join } from 'node:path';
import { dispatchTarget } from '../../core/dispatch.ts';
import { DefaultBranchCheckFailed, InvalidInput } from '../../core/errors.ts';
import type {
  CodeHostIssue,
  CodeHostPort,
  CommitState,
  DeploymentState,
} from '../../core/ports.ts';
import { parseInput } from '../../core/validation.ts';

export const DISPATCHES_DIR = 'dispatches';

/** An issue as recorded: `issue-<number>.json` in the issues folder. */
export const RECORDED_ISSUE = z.strictObject({
  number: z.number().int().positive(),
  title: z.string(),
  labels: z.array(z.string()),
  state: z.enum(['open', 'closed']),
  body: z.string(),
  comments: z.array(z.string()),
  /** How many times its body or state changed after it was opened. */
  updates: z.number().int().min(0),
});
export type RecordedIssue = z.output<typeof RECORDED_ISSUE>;

const ISSUE_FILE = /^issue-(\d+)\.json$/;

type Payload = Record<string, unknown>;

export class RunFolderCodeHost implements CodeHostPort {
  readonly #dir: string;
  readonly #issuesDir: string;

  /**
   * `dir`: the run's folder (`runs/<runId>` of the Stepform home); `issuesDir`: where issues
   * are kept across runs (by default `issues/` in the run's folder).
   */
  constructor(dir: string, options: { issuesDir?: string } = {}) {
    this.#dir = dir;
    this.#issuesDir = options.issuesDir ?? join(dir, 'issues');
  }

  async #folder(...parts: string[]): Promise<string> {
    const dir = join(this.#dir, ...parts);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  async #appendLine(file: string, record: Record<string, unknown>): Promise<void> {
    await appendFile(join(await this.#folder(), file), `${JSON.stringify(record)}\n`, {
      mode: 0o600,
    });
  }

  /** One file per marker, overwritten: sticky, as on GitHub. */
  async upsertPullRequestComment(pullRequest: number, marker: string, body: string) {
    if (marker.trim() === '') throw new InvalidInput('marker', 'is empty');
    const key = createHash('sha256').update(marker).digest('hex').slice(0, 12);
    const text = body.startsWith(marker) ? body : `${marker}\n${body}`;
    await writeFile(join(await this.#folder(), `pr-${pullRequest}-comment-${key}.md`), text, {
      mode: 0o600,
    });
  }

  async setCommitStatus(
    commit: string,
    status: { state: CommitState; context: string; description: string; targetUrl?: string },
  ) {
    await this.#appendLine('commit-statuses.jsonl', { commit, ...status });
  }

  async recordDeployment(
    commit: string,
    deployment: { environment: string; state: DeploymentState; description: string; runId: string },
  ) {
    await this.#appendLine('deployments.jsonl', { commit, ...deployment });
  }

  isOnDefaultBranch(commit: string): Promise<boolean> {
    return Promise.reject(
      new DefaultBranchCheckFailed(
        `cannot check that ${commit} is on the default branch: no GitHub credentials are configured`,
      ),
    );
  }

  /** `dispatches/001-owner.repo-event.json`, numbered in the order sent; GitHub is not called. */
  async dispatchRepositoryEvent(repository: string, eventType: string, payload: Payload) {
    const { owner, repo } = dispatchTarget(repository, eventType, payload);
    const dir = await this.#folder(DISPATCHES_DIR);
    const number = String((await readdir(dir)).length + 1).padStart(3, '0');
    const record = { repository, event_type: eventType, client_payload: payload };
    await writeFile(
      join(dir, `${number}-${owner}.${repo}-${eventType}.json`),
      `${JSON.stringify(record, null, 2)}\n`,
      { mode: 0o600, flag: 'wx' },
    );
  }

  /** Every recorded issue, by number. */
  async issues(): Promise<RecordedIssue[]> {
    await mkdir(this.#issuesDir, { recursive: true, mode: 0o700 });
    const numbers = (await readdir(this.#issuesDir))
      .map((name) => ISSUE_FILE.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    return Promise.all(numbers.map(async (number) => this.#read(number)));
  }

  async #read(number: number): Promise<RecordedIssue> {
    const text = await readFile(join(this.#issuesDir, `issue-${number}.json`), 'utf8');
    return parseInput(RECORDED_ISSUE, JSON.parse(text), `issue-${number}.json`);
  }

  /** Written whole to a temporary file, then renamed: a reader never sees half an issue. */
  async #write(issue: RecordedIssue, flag: 'w' | 'wx'): Promise<void> {
    const path = join(this.#issuesDir, `issue-${issue.number}.json`);
    const text = `${JSON.stringify(issue, null, 2)}\n`;
    if (flag === 'wx') {
      await writeFile(path, text, { mode: 0o600, flag });
      return;
    }
    const temp = `${path}.${process.pid}.tmp`;
    await writeFile(temp, text, { mode: 0o600 });
    await rename(temp, path);
  }

  async findOpenIssue(label: string, title: string): Promise<CodeHostIssue | undefined> {
    const found = (await this.issues()).find(
      (issue) => issue.state === 'open' && issue.title === title && issue.labels.includes(label),
    );
    return found && { number: found.number, title: found.title, state: found.state };
  }

  async createIssue(issue: { title: string; body: string; labels: string[] }) {
    if (issue.title.trim() === '') throw new InvalidInput('title', 'is empty');
    // Numbered as GitHub does, one after the highest; a number taken meanwhile is skipped.
    for (;;) {
      const number = Math.max(0, ...(await this.issues()).map((i) => i.number)) + 1;
      const recorded: RecordedIssue = {
        number,
        title: issue.title,
        labels: [...issue.labels],
        state: 'open',
        body: issue.body,
        comments: [],
        updates: 0,
      };
      try {
        await this.#write(recorded, 'wx');
        return { number, title: issue.title, state: 'open' as const };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
  }

  async updateIssue(number: number, change: { body?: string; state?: 'open' | 'closed' }) {
    const issue = await this.#existing(number);
    await this.#write(
      {
        ...issue,
        ...(change.body === undefined ? {} : { body: change.body }),
        ...(change.state === undefined ? {} : { state: change.state }),
        updates: issue.updates + 1,
      },
      'w',
    );
  }

  async commentOnIssue(number: number, body: string) {
    const issue = await this.#existing(number);
    await this.#write({ ...issue, comments: [...issue.comments, body] }, 'w');
  }

  async #existing(number: number): Promise<RecordedIssue> {
    if (!Number.isSafeInteger(number) || number < 1)
      throw new InvalidInput('issue', 'must be an issue number');
    try {
      return await this.#read(number);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw new InvalidInput('issue', `${number} does not exist`);
      throw error;
    }
  }
}
