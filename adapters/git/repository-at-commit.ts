// What the repository says at a commit, read with git (never the working tree: a run is of a
// commit): stepform.yaml, the files, the text of the Terraform files, and the files a change
// touched since its base. The CLI and the GitHub Action both read a repository through it.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { COMMIT_SHA } from '../../core/contracts/job-input.ts';
import {
  type AffectedProject,
  affectedProjects,
  isTerraformFile,
} from '../../core/config/affected.ts';
import {
  CONFIG_FILE,
  type ResolvedProject,
  type StepformConfig,
  parseConfig,
} from '../../core/config/stepform-config.ts';
import { InvalidInput } from '../../core/errors.ts';

const execFileAsync = promisify(execFile);

/** git's output, or undefined when it fails (no shell: the arguments go as they are). */
async function git(repository: string, args: readonly string[]): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync('git', ['-C', repository, ...args], {
      encoding: 'utf8',
      // `ls-tree -r` of a large monorepo: far more than the 1 MiB default.
      maxBuffer: 512 * 1024 * 1024,
    });
    return stdout;
  } catch {
    return undefined;
  }
}

/** Every file of the commit, relative to the repository root. */
export async function filesAtCommit(repository: string, commit: string): Promise<string[]> {
  const listed = await git(repository, ['ls-tree', '-r', '-z', '--name-only', commit]);
  if (listed === undefined)
    throw new InvalidInput('--commit', `cannot list the files of ${commit}`);
  return listed.split('\0').filter((path) => path !== '');
}

/** stepform.yaml at the commit, parsed; undefined when the commit has none. */
export async function configAtCommit(
  repository: string,
  commit: string,
): Promise<StepformConfig | undefined> {
  const text = await git(repository, ['show', `${commit}:${CONFIG_FILE}`]);
  return text === undefined ? undefined : parseConfig(text);
}

/**
 * The text of the given files at the commit, through one `git cat-file --batch` (a repository
 * may hold hundreds of .tf files: one process, not one each).
 */
export async function textsAtCommit(
  repository: string,
  commit: string,
  paths: readonly string[],
): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  if (paths.length === 0) return texts;
  const output = await new Promise<Buffer>((resolve, reject) => {
    const child = spawn('git', ['-C', repository, 'cat-file', '--batch'], {
      stdio: ['pipe', 'pipe', 'ignore'],
      shell: false,
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(chunks));
      else reject(new Error(`git cat-file --batch exited ${String(code)}`));
    });
    child.stdin.end(paths.map((path) => `${commit}:${path}\n`).join(''));
  });
  // Each answer: "<sha> blob <size>\n<size bytes>\n", in the order asked.
  let offset = 0;
  for (const path of paths) {
    const headerEnd = output.indexOf(0x0a, offset);
    const header = output.subarray(offset, headerEnd).toString('utf8');
    const size = Number(header.split(' ')[2]);
    if (header.endsWith(' missing') || Number.isNaN(size)) {
      offset = headerEnd + 1;
      continue;
    }
    texts.set(path, output.subarray(headerEnd + 1, headerEnd + 1 + size).toString('utf8'));
    offset = headerEnd + 1 + size + 1;
  }
  return texts;
}

/** Every Terraform file of the commit with its text: what module calls are read from. */
export async function terraformFilesAtCommit(
  repository: string,
  commit: string,
  files: readonly string[],
): Promise<Map<string, string>> {
  return textsAtCommit(repository, commit, files.filter(isTerraformFile));
}

/**
 * The default branch: origin's HEAD when the clone knows it, else a local main or master.
 * Undefined when none of them is there.
 */
async function defaultBranch(repository: string): Promise<string | undefined> {
  const remote = await git(repository, ['symbolic-ref', '--quiet', 'refs/remotes/origin/HEAD']);
  if (remote !== undefined && remote.trim() !== '') return remote.trim();
  for (const branch of ['refs/heads/main', 'refs/heads/master']) {
    if ((await git(repository, ['rev-parse', '--verify', '--quiet', branch])) !== undefined)
      return branch;
  }
  return undefined;
}

/**
 * The commit a change is measured from: --base (anything git resolves to a commit), else the
 * merge base of the commit with the default branch.
 */
export async function resolveBase(
  repository: string,
  commit: string,
  flag: string | undefined,
): Promise<string> {
  if (flag !== undefined) {
    if (flag.startsWith('-')) throw new InvalidInput('--base', 'must be a commit, not an option');
    const sha = await git(repository, ['rev-parse', '--verify', '--quiet', `${flag}^{commit}`]);
    if (sha === undefined)
      throw new InvalidInput('--base', `${flag} is not a commit of ${repository}`);
    return sha.trim();
  }
  const branch = await defaultBranch(repository);
  if (branch === undefined) {
    throw new InvalidInput(
      '--base',
      'is needed: the repository has no origin/HEAD, main or master to compare with',
    );
  }
  const base = await mergeBase(repository, branch, commit);
  if (base === undefined)
    throw new InvalidInput('--base', `${commit} shares no history with ${branch}: give --base`);
  return base;
}

/** The best common ancestor of the two; undefined when they share no history (or one is absent). */
export async function mergeBase(
  repository: string,
  one: string,
  other: string,
): Promise<string | undefined> {
  const base = await git(repository, ['merge-base', one, other]);
  return base === undefined ? undefined : COMMIT_SHA.parse(base.trim());
}

/** The files that differ between the two commits (a rename is its old and its new path). */
export async function changedFiles(
  repository: string,
  base: string,
  commit: string,
): Promise<string[]> {
  const diff = await git(repository, ['diff', '--name-only', '--no-renames', '-z', base, commit]);
  if (diff === undefined) throw new InvalidInput('--base', `cannot compare ${base} with ${commit}`);
  return diff.split('\0').filter((path) => path !== '');
}

/** Whether the clone is shallow (fetched with a depth): what it lacks may just not be fetched. */
export async function isShallow(repository: string): Promise<boolean> {
  return (await git(repository, ['rev-parse', '--is-shallow-repository']))?.trim() === 'true';
}

/** Whether the clone has this commit (a shallow clone may lack a pull request's base). */
export async function hasCommit(repository: string, commit: string): Promise<boolean> {
  if (commit.startsWith('-')) return false;
  return (await git(repository, ['cat-file', '-e', `${commit}^{commit}`])) !== undefined;
}

/**
 * Which of the projects the change from `base` to `commit` affects (`files`: every file of the
 * commit, where the module calls are read from).
 */
export async function affectedAtCommit(
  repository: string,
  projects: readonly ResolvedProject[],
  base: string,
  commit: string,
  files: readonly string[],
): Promise<AffectedProject[]> {
  return affectedProjects(
    projects,
    await changedFiles(repository, base, commit),
    await terraformFilesAtCommit(repository, commit, files),
  );
}
