// What every run verb needs from the command line: the repository, the commit, the project
// folder and the environment, resolved and checked before anything is recorded.
import { existsSync } from 'node:fs';
import { realpath, rename } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { InvalidInput } from '../../core/errors.ts';
import { run } from '../../toolchain/process.ts';
import { LocalEngine } from '../engine/local-engine.ts';
import { openLocalStores } from '../engine/store/local-stores.ts';
import type { Io } from './io.ts';

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

/**
 * Checks that the project folder is a folder of the commit that will run, not only of the
 * working tree: missing there, a file, a link, or only uncommitted, it is a usage error
 * before anything is recorded.
 */
export async function checkProjectDirAtCommit(
  repository: string,
  commit: string,
  projectDir: string,
  flag = '--dir',
): Promise<void> {
  const object = projectDir === '.' ? `${commit}^{tree}` : `${commit}:${projectDir}`;
  const type = await git(repository, ['cat-file', '-t', object]);
  if (type === 'tree') return;
  const at = `at commit ${commit.slice(0, 12)}`;
  if (type === undefined) {
    // Only uncommitted: in the working tree, with nothing of it tracked (not merely absent
    // from an older --commit).
    const tracked = await git(repository, ['ls-files', '--', projectDir]);
    const uncommitted = existsSync(join(repository, projectDir)) && tracked === '';
    throw new InvalidInput(
      flag,
      uncommitted
        ? `${projectDir} is not in commit ${commit.slice(0, 12)}: it exists only uncommitted (commit it first)`
        : `${projectDir} does not exist ${at}`,
    );
  }
  throw new InvalidInput(flag, `${projectDir} is not a folder ${at}`);
}

/** Whether the project folder has changes that are not committed (they will not be run). */
export async function hasUncommittedChanges(
  repository: string,
  projectDir: string,
): Promise<boolean> {
  const status = await git(repository, ['status', '--porcelain', '--', projectDir]);
  return status !== undefined && status !== '';
}

/**
 * Where the local engine keeps its data for `repository`: $STEPFORM_HOME, else `stepform/` in
 * the repository's common git directory, shared by its worktrees and out of reach of
 * `git clean -xdf`, which once wiped every state and the history in `.stepform/`. A
 * `.stepform/` left by an earlier version is moved there once, when none of its runs is
 * still running (its process would go on writing to the old place).
 */
export async function resolveHome(
  repository: string,
  io: Pick<Io, 'env' | 'err'>,
): Promise<string> {
  if (io.env.STEPFORM_HOME) return io.env.STEPFORM_HOME;
  const commonDir = await git(repository, ['rev-parse', '--git-common-dir']);
  if (!commonDir) throw new InvalidInput('--repo', `${repository} has no git directory`);
  const home = join(resolve(repository, commonDir), 'stepform');
  const legacy = join(repository, LEGACY_HOME);
  if (!existsSync(legacy)) return home;
  if (existsSync(home)) {
    io.err(
      `warning: ${legacy} is no longer used (Stepform keeps its data in ${home}); remove it when you no longer need it\n`,
    );
    return home;
  }
  if (runningRuns(join(legacy, 'stepform.db')) > 0) {
    io.err(`warning: ${legacy} has runs still running; it moves to ${home} once they have ended\n`);
    return legacy;
  }
  await rename(legacy, home);
  io.err(`moved ${legacy} to ${home}, where git clean cannot reach it\n`);
  return home;
}

const LEGACY_HOME = '.stepform';

/** The engine over the repository's home; what it reports goes to stderr unless `print` says. */
export async function openEngine(
  repository: string,
  io: Pick<Io, 'env' | 'err'>,
  print: (line: string) => void = (line) => io.err(`${line}\n`),
): Promise<LocalEngine> {
  return new LocalEngine({ home: await resolveHome(repository, io), env: io.env, print });
}

/** How many runs of a store are still running (0 when it has no database). */
function runningRuns(database: string): number {
  if (!existsSync(database)) return 0;
  const stores = openLocalStores(database);
  try {
    return stores.runs.list(10_000).filter((run) => run.status === 'running').length;
  } finally {
    stores.close();
  }
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
