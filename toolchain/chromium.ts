// Chromium for the browser tests (test/browser/), from the machine's Debian packages: the
// tests drive it through playwright-core, which downloads no browser of its own. Set-up
// installs it with apt-get when it is missing, as root, or through `sudo -n` when not.
import { spawnSync } from 'node:child_process';
import { ToolchainMissing } from '../core/errors.ts';

/** Where Debian's package puts it, and where the browser tests launch it from. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

export interface CommandResult {
  /** null when the command could not be started at all (not installed). */
  readonly exitCode: number | null;
  readonly output: string;
}

/** Runs a program with its arguments, no shell between (nothing here is ever interpreted). */
export type CommandRunner = (command: string, args: readonly string[]) => CommandResult;

export const spawnRunner: CommandRunner = (command, args) => {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    // apt-get must not stop to ask anything.
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return {
    exitCode: result.error ? null : result.status,
    output: `${result.stdout}${result.stderr}`.trim(),
  };
};

export interface ChromiumSetup {
  readonly run: CommandRunner;
  /** True when this process is root (process.getuid() === 0). */
  readonly isRoot: boolean;
  readonly log: (line: string) => void;
}

/** Chromium's version line when it starts, else undefined. */
export function chromiumVersion(run: CommandRunner): string | undefined {
  const result = run(CHROMIUM_PATH, ['--version']);
  return result.exitCode === 0 && result.output !== '' ? result.output.split('\n')[0] : undefined;
}

const HOW_TO_INSTALL =
  'install it as root with `apt-get update && apt-get install -y --no-install-recommends chromium` ' +
  '(the browser tests launch /usr/bin/chromium)';

/**
 * Makes sure Chromium starts, installing it when it does not: `apt-get install` (after
 * `apt-get update` only when the install fails, since the package lists are usually fresh
 * enough), directly as root, else through `sudo -n` (never a password prompt). Returns its
 * version line; ToolchainMissing, saying how to install it, when neither way works.
 */
export function ensureChromium(setup: ChromiumSetup): string {
  const found = chromiumVersion(setup.run);
  if (found !== undefined) return found;
  const asRoot = (command: string, args: readonly string[]): CommandResult =>
    setup.isRoot ? setup.run(command, args) : setup.run('sudo', ['-n', command, ...args]);
  const install = ['install', '-y', '--no-install-recommends', 'chromium'];
  setup.log(`Chromium not found at ${CHROMIUM_PATH}: installing it with apt-get`);
  let installed = asRoot('apt-get', install);
  if (installed.exitCode !== 0) {
    const updated = asRoot('apt-get', ['update']);
    if (updated.exitCode === 0) installed = asRoot('apt-get', install);
  }
  const version = installed.exitCode === 0 ? chromiumVersion(setup.run) : undefined;
  if (version === undefined) {
    const how = setup.isRoot ? 'as root' : 'through sudo -n';
    const last = installed.output.split('\n').slice(-3).join(' | ');
    throw new ToolchainMissing(
      `Chromium is missing and installing it ${how} failed${last ? ` (${last})` : ''}: ${HOW_TO_INSTALL}`,
    );
  }
  return version;
}
