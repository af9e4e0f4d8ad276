// Python command-line tools the project runs (hadolint so far), installed by pip from PyPI
// into a virtual environment in the machine cache, one per content of the requirements file.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ToolchainMissing } from '../core/errors.ts';
import { whichOnPath } from './engine.ts';
import { REPO_ROOT, cacheRoot } from './paths.ts';
import { run } from './process.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** The pinned Python packages, one requirement a line (pip's requirements format). */
export const PYTHON_REQUIREMENTS = join(REPO_ROOT, 'toolchain', 'python-requirements.txt');

/** The first 12 hex digits of the SHA-256 of a requirements file's content. */
export function requirementsKey(requirements: string | Uint8Array): string {
  return createHash('sha256').update(requirements).digest('hex').slice(0, 12);
}

/**
 * The virtual environment for these requirements (by default the committed file's):
 * `<cache>/python/<key>`, so changing the requirements makes a new environment.
 */
export function pythonVenvDir(
  env: Env,
  requirements: string | Uint8Array = readFileSync(PYTHON_REQUIREMENTS),
): string {
  return join(cacheRoot(env), 'python', requirementsKey(requirements));
}

/** Where an installed tool's executable is: `<venv>/bin/<name>`. */
export function pythonToolPath(env: Env, name: string): string {
  return join(pythonVenvDir(env), 'bin', name);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Makes sure the virtual environment for toolchain/python-requirements.txt exists, creating it
 * with `python3 -m venv` and `pip install -r` when it does not, and returns its folder.
 *
 * A venv cannot be moved once built (pip writes its absolute path into every script it
 * installs), so it is built in a folder of its own beside the target, and the target is then
 * published as a symbolic link to it, renamed into place. An interrupted install thus never
 * looks complete, and two set-ups running at once each publish a complete environment.
 */
export async function ensurePythonTools(
  env: Env,
  log: (line: string) => void = () => {},
): Promise<string> {
  const requirements = await readFile(PYTHON_REQUIREMENTS);
  const venv = pythonVenvDir(env, requirements);
  // Follows the link and the venv's own python link, so a removed base interpreter rebuilds.
  if (await exists(join(venv, 'bin', 'python'))) return venv;

  const python3 = await whichOnPath('python3', env);
  if (!python3) {
    throw new ToolchainMissing(
      'python3 is not on PATH: it is needed to install the Python tools in ' +
        'toolchain/python-requirements.txt (hadolint). Install Python 3 with its venv module ' +
        '(Debian and Ubuntu: apt-get install python3-venv).',
    );
  }
  const build = `${venv}-${process.pid.toString()}-${Date.now().toString(36)}`;
  const childEnv = { ...process.env, ...env };
  log(`installing the Python tools (toolchain/python-requirements.txt) into ${build}`);
  await mkdir(dirname(venv), { recursive: true });
  let previous: string | undefined;
  try {
    const created = await run(python3, ['-m', 'venv', build], { env: childEnv });
    if (created.exitCode !== 0) {
      throw new ToolchainMissing(
        `${python3} -m venv failed (exit ${created.exitCode ?? 'signal'}): ` +
          `${(created.stderr || created.stdout).trim()}\n` +
          'Install the venv module of Python 3 (Debian and Ubuntu: apt-get install python3-venv).',
      );
    }
    // pip installs a copy of exactly the content the environment is keyed by.
    const installed = join(build, 'requirements.txt');
    await writeFile(installed, requirements);
    const pip = await run(
      join(build, 'bin', 'python'),
      ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-r', installed],
      { env: childEnv, onLine: (line) => log(`  pip: ${line}`) },
    );
    if (pip.exitCode !== 0) {
      throw new ToolchainMissing(
        `pip install -r toolchain/python-requirements.txt failed (exit ${pip.exitCode ?? 'signal'}):\n` +
          (pip.stderr.trim() || pip.stdout.trim()),
      );
    }
    const link = `${build}.link`;
    await symlink(basename(build), link);
    previous = await readlink(venv).catch(() => undefined);
    await rename(link, venv).catch(async (error: unknown) => {
      // Only a real folder in the way (not a link) makes the rename fail: replace it.
      await rm(venv, { recursive: true, force: true });
      await rename(link, venv).catch(() => {
        throw error;
      });
    });
  } catch (error) {
    await rm(build, { recursive: true, force: true });
    await rm(`${build}.link`, { force: true });
    throw error;
  }
  // A link that was replaced pointed to an earlier build that no longer worked.
  if (previous?.startsWith(`${basename(venv)}-`) && previous === basename(previous)) {
    await rm(join(dirname(venv), previous), { recursive: true, force: true }).catch(() => {});
  }
  log(`Python tools ready in ${venv}`);
  return venv;
}
