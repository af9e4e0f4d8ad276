// CodeHostPort without GitHub: what a run would have told GitHub, as files in the run's
// folder (0600), for a local run with no GitHub credentials. Comments are markdown files,
// statuses and deployments JSON lines, each repository_dispatch one JSON file. Whether a
// commit is on the default branch cannot be known here: that check fails closed.
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dispatchTarget } from '../../core/dispatch.ts';
import { DefaultBranchCheckFailed, InvalidInput } from '../../core/errors.ts';
import type { CodeHostPort, CommitState, DeploymentState } from '../../core/ports.ts';

export const DISPATCHES_DIR = 'dispatches';

type Payload = Record<string, unknown>;

export class RunFolderCodeHost implements CodeHostPort {
  readonly #dir: string;

  /** `dir`: the run's folder (`runs/<runId>` of the Stepform home). */
  constructor(dir: string) {
    this.#dir = dir;
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
}
