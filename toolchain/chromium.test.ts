import { describe, expect, it } from '@jest/globals';
import { ToolchainMissing } from '../core/errors.ts';
import { CHROMIUM_PATH, type CommandResult, ensureChromium } from './chromium.ts';

const VERSION = 'Chromium 156.0.8078.114 built on Debian GNU/Linux 12 (bookworm)';

/** A machine: which commands succeed, in order; records every call. */
function machine(options: { chromium: boolean[]; apt?: number[]; update?: number }) {
  const calls: string[] = [];
  const chromium = [...options.chromium];
  const apt = [...(options.apt ?? [])];
  const run = (command: string, args: readonly string[]): CommandResult => {
    calls.push([command, ...args].join(' '));
    const line = [command, ...args].filter((a) => a !== 'sudo' && a !== '-n');
    if (line[0] === CHROMIUM_PATH) {
      return chromium.shift() === true
        ? { exitCode: 0, output: VERSION }
        : { exitCode: null, output: 'ENOENT' };
    }
    if (line[0] === 'apt-get' && line[1] === 'update')
      return { exitCode: options.update ?? 0, output: '' };
    if (line[0] === 'apt-get') return { exitCode: apt.shift() ?? 100, output: 'E: no chromium' };
    return { exitCode: 1, output: 'sudo: a password is required' };
  };
  return { run, calls };
}

const INSTALL = 'apt-get install -y --no-install-recommends chromium';

describe('ensureChromium', () => {
  it('installs nothing when Chromium starts', () => {
    const m = machine({ chromium: [true] });
    expect(ensureChromium({ run: m.run, isRoot: true, log: () => {} })).toBe(VERSION);
    expect(m.calls).toEqual([`${CHROMIUM_PATH} --version`]);
  });

  it('installs it as root, updating the package lists only when the install fails', () => {
    const direct = machine({ chromium: [false, true], apt: [0] });
    expect(ensureChromium({ run: direct.run, isRoot: true, log: () => {} })).toBe(VERSION);
    expect(direct.calls).toEqual([
      `${CHROMIUM_PATH} --version`,
      INSTALL,
      `${CHROMIUM_PATH} --version`,
    ]);
    const stale = machine({ chromium: [false, true], apt: [100, 0] });
    expect(ensureChromium({ run: stale.run, isRoot: true, log: () => {} })).toBe(VERSION);
    expect(stale.calls).toEqual([
      `${CHROMIUM_PATH} --version`,
      INSTALL,
      'apt-get update',
      INSTALL,
      `${CHROMIUM_PATH} --version`,
    ]);
  });

  it('goes through sudo -n when not root', () => {
    const m = machine({ chromium: [false, true], apt: [0] });
    expect(ensureChromium({ run: m.run, isRoot: false, log: () => {} })).toBe(VERSION);
    expect(m.calls[1]).toBe(`sudo -n ${INSTALL}`);
  });

  it('fails, saying how to install it, when neither way works', () => {
    const m = machine({ chromium: [false], apt: [100, 100], update: 100 });
    let error: unknown;
    try {
      ensureChromium({ run: m.run, isRoot: false, log: () => {} });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ToolchainMissing);
    expect((error as Error).message).toMatch(/installing it through sudo -n failed/);
    expect((error as Error).message).toMatch(/apt-get install -y --no-install-recommends chromium/);
  });
});
