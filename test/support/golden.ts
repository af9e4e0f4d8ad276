// The golden repositories of test/golden (monorepo, workspaces), each committed to a throwaway
// git repository as its `main`, with branches made off it for a change under test.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../toolchain/process.ts';
import { REPO_ROOT, type TestRepo, makeRepo } from './repo.ts';

export const GOLDEN = join(REPO_ROOT, 'test', 'golden');

export interface GoldenRepo {
  readonly repo: TestRepo;
  /** The commit of the golden repository as it is. */
  readonly main: string;
  git(args: readonly string[]): Promise<string>;
  /** A branch off main with these files committed; back on main (forced) afterwards. */
  onBranch(name: string, files: Record<string, string>, check: () => Promise<void>): Promise<void>;
  remove(): Promise<void>;
}

export async function goldenRepo(name: 'monorepo' | 'workspaces'): Promise<GoldenRepo> {
  const repo = await makeRepo();
  const main = await repo.commitDir(join(GOLDEN, name), '.', `the golden ${name}`);
  const git = async (args: readonly string[]) => {
    const result = await run('git', ['-C', repo.dir, ...args]);
    if (result.exitCode !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
    return result.stdout.trim();
  };
  return {
    repo,
    main,
    git,
    async onBranch(branch, files, check) {
      await git(['checkout', '--quiet', '-b', branch, main]);
      try {
        await repo.commitFiles(files, `change on ${branch}`);
        await check();
      } finally {
        await git(['checkout', '--quiet', '--force', 'main']);
      }
    },
    remove: () => rm(repo.dir, { recursive: true, force: true }),
  };
}
