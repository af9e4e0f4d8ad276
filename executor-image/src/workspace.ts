// A fresh checkout of exactly the commit to run: the executor never runs in the user's tree,
// and a job never sees another job's files.
import { realpath, stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { CheckoutFailed, ProjectDirInvalid, VarFileInvalid } from '../../core/errors.ts';
import { run } from '../../toolchain/process.ts';

/** Git with no prompts, no system config, and no hooks from anywhere. */
function gitEnv(base: Readonly<Record<string, string | undefined>>): NodeJS.ProcessEnv {
  return {
    ...base,
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_ASKPASS: '',
    SSH_ASKPASS: '',
  };
}

const SAFE_GIT = [
  '-c',
  'core.hooksPath=/dev/null',
  '-c',
  'protocol.ext.allow=never',
  '-c',
  'advice.detachedHead=false',
];

async function git(args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string) {
  return run('git', [...SAFE_GIT, ...args], { env, ...(cwd ? { cwd } : {}) });
}

export interface CheckoutOptions {
  /**
   * Environment variables of the clone only (git-credentials.ts: the Authorization header
   * for the repository's origin); the later git commands work offline and never see them.
   */
  readonly cloneEnv?: Readonly<Record<string, string>>;
  /** Added to the CheckoutFailed of a clone that fails (e.g. why there are no credentials). */
  readonly hint?: string;
}

/**
 * Clones `repository` into `destination` (which must not exist) and checks out `commit`
 * detached. Fails with CheckoutFailed when the repository cannot be read or lacks the commit.
 */
export async function checkoutCommit(
  repository: string,
  commit: string,
  destination: string,
  baseEnv: Readonly<Record<string, string | undefined>>,
  options: CheckoutOptions = {},
): Promise<void> {
  const env = gitEnv(baseEnv);
  const clone = await git(
    ['clone', '--quiet', '--no-checkout', '--template=', '--', repository, destination],
    { ...env, ...options.cloneEnv },
  );
  if (clone.exitCode !== 0) {
    const hint = options.hint === undefined ? '' : ` (${options.hint})`;
    throw new CheckoutFailed(`cannot clone ${repository}: ${clone.stderr.trim()}${hint}`);
  }
  const exists = await git(['cat-file', '-e', `${commit}^{commit}`], env, destination);
  if (exists.exitCode !== 0) {
    throw new CheckoutFailed(`commit ${commit} is not in ${repository}`);
  }
  const checkout = await git(['checkout', '--quiet', '--detach', commit], env, destination);
  const head = await git(['rev-parse', 'HEAD'], env, destination);
  if (checkout.exitCode !== 0 || head.stdout.trim() !== commit) {
    throw new CheckoutFailed(`cannot check out ${commit}: ${checkout.stderr.trim()}`);
  }
}

/**
 * The project folder inside the checkout, resolved through symlinks: it must exist at that
 * commit, be a directory, and stay inside the checkout.
 */
export async function resolveProjectDir(checkout: string, projectDir: string): Promise<string> {
  const root = await realpath(checkout);
  let real: string;
  try {
    real = await realpath(resolve(root, projectDir));
  } catch {
    throw new ProjectDirInvalid(`project dir ${projectDir} does not exist at this commit`);
  }
  if (real !== root && !real.startsWith(root + sep)) {
    throw new ProjectDirInvalid(`project dir ${projectDir} resolves outside the repository`);
  }
  if (!(await stat(real)).isDirectory()) {
    throw new ProjectDirInvalid(`project dir ${projectDir} is not a directory`);
  }
  return real;
}

/**
 * The job's var files as absolute paths in the checkout, in order: each must be a regular file
 * of the commit, inside the repository once links are followed (a link to /etc/passwd in the
 * repository is not a var file).
 */
export async function resolveVarFiles(
  checkout: string,
  varFiles: readonly string[],
): Promise<string[]> {
  const root = await realpath(checkout);
  const resolved: string[] = [];
  for (const file of varFiles) {
    let real: string;
    try {
      real = await realpath(resolve(root, file));
    } catch {
      throw new VarFileInvalid(`var file ${file} does not exist at this commit`);
    }
    if (!real.startsWith(root + sep))
      throw new VarFileInvalid(`var file ${file} resolves outside the repository`);
    if (!(await stat(real)).isFile()) throw new VarFileInvalid(`var file ${file} is not a file`);
    resolved.push(real);
  }
  return resolved;
}
