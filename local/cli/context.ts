// What every run verb needs from the command line: the repository, the commit, the project
// folder and the environment, resolved and checked before anything is recorded.
import { realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { InvalidInput } from '../../core/errors.ts';
import { run } from '../../toolchain/process.ts';

type Env = Readonly<Record<string, string | undefined>>;

async function git(cwd: string, args: string[]): Promise<string | undefined> {
  const result = await run('git', ['-C', cwd, ...args]);
  return result.exitCode === 0 ? result.stdout.trim() : undefined;
}

/** The repository: --repo, else the git repository around the current directory. */
export async function resolveRepository(flag: string | undefined, cwd: string): Promise<string> {
  const start = flag === undefined ? cwd : resolve(cwd, flag);
  const top = await git(start, ['rev-parse', '--show-toplevel']);
  if (!top) throw new InvalidInput('--repo', `${start} is not inside a git repository`);
  return realpath(top);
}

/** The commit: --commit (a SHA or anything git resolves to one), else HEAD. */
export async function resolveCommit(repository: string, flag: string | undefined): Promise<string> {
  const ref = flag ?? 'HEAD';
  if (ref.startsWith('-')) throw new InvalidInput('--commit', 'must be a commit, not an option');
  const sha = await git(repository, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  if (!sha) throw new InvalidInput('--commit', `${ref} is not a commit of ${repository}`);
  return sha;
}

/** --dir, relative to the current directory, as a path inside the repository. */
export async function resolveProjectDir(
  repository: string,
  dir: string | undefined,
  cwd: string,
): Promise<string> {
  if (dir === undefined)
    throw new InvalidInput('--dir', 'is required: the folder of the root module');
  const absolute = resolve(cwd, dir);
  const real = await realpath(absolute).catch(() => absolute);
  const inside = relative(repository, real);
  if (inside.startsWith('..') || isAbsolute(inside)) {
    throw new InvalidInput('--dir', `${dir} is outside the repository ${repository}`);
  }
  return inside === '' ? '.' : inside.split(sep).join('/');
}

/** Whether the project folder has changes that are not committed (they will not be run). */
export async function hasUncommittedChanges(
  repository: string,
  projectDir: string,
): Promise<boolean> {
  const status = await git(repository, ['status', '--porcelain', '--', projectDir]);
  return status !== undefined && status !== '';
}

/** `.stepform/` at the repository root, or $STEPFORM_HOME. */
export function homeFor(repository: string, env: Env): string {
  return env.STEPFORM_HOME ?? join(repository, '.stepform');
}

/** Maps a run-input field to the flag that set it, for error messages. */
export function flagFor(field: string): string {
  const flags: Record<string, string> = {
    'input.projectDir': '--dir',
    'input.environment': '--env',
    'input.commit': '--commit',
    'input.repository': '--repo',
    'input.ttlSeconds': '--ttl',
    'input.approvalTimeoutSeconds': '--approval-timeout',
  };
  return flags[field] ?? field;
}
