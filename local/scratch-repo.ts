// Throwaway git repositories and folders, for the demo and for tests that drive real git
// and OpenTofu.
import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../toolchain/paths.ts';
import { run } from '../toolchain/process.ts';
import { GIT_IDENTITY } from './engine/audit-notes.ts';

export const HELLO_EXAMPLE = join(REPO_ROOT, 'terraform', 'examples', 'hello');

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `stepform-${prefix}-`));
}

async function git(cwd: string, args: string[]): Promise<string> {
  const result = await run('git', args, { cwd, env: { ...process.env, ...GIT_IDENTITY } });
  if (result.exitCode !== 0) throw new Error(`git ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout.trim();
}

export interface ScratchRepo {
  readonly dir: string;
  /** Copies a folder into the repository at `to` (replacing what is there) and commits. */
  commitDir(from: string, to: string, message?: string): Promise<string>;
  /** Writes files (path relative to the repository) and commits. */
  commitFiles(files: Record<string, string>, message?: string): Promise<string>;
}

export async function makeRepo(): Promise<ScratchRepo> {
  const dir = await tempDir('repo');
  await git(dir, ['init', '--quiet', '--initial-branch=main']);
  const commit = async (message: string) => {
    await git(dir, ['add', '--all']);
    await git(dir, ['commit', '--quiet', '--allow-empty', '-m', message]);
    return git(dir, ['rev-parse', 'HEAD']);
  };
  return {
    dir,
    async commitDir(from, to, message = `copy ${to}`) {
      // Links are followed: the fixtures share the example's lock file through one.
      await cp(from, join(dir, to), { recursive: true, force: true, dereference: true });
      return commit(message);
    },
    async commitFiles(files, message = 'change files') {
      for (const [path, content] of Object.entries(files)) {
        const full = join(dir, path);
        await mkdir(dirname(full), { recursive: true });
        await writeFile(full, content);
      }
      return commit(message);
    },
  };
}
