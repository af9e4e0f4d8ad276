// The words of `stepform command`: what parseArgs makes of a command line, and which of its
// positionals are the command. Only what follows `--` is, and `--` is required, so that an
// option-looking word (`-lock=false`) reaches the allowlist, which refuses it.
import { parseArgs } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { InvalidInput } from '../../core/errors.ts';
import { commandArgs } from './command.ts';

function tokens(argv: string[]) {
  return parseArgs({
    args: argv,
    options: { env: { type: 'string' }, json: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
    tokens: true,
  }).tokens;
}

function refusal(argv: string[]): InvalidInput | undefined {
  try {
    commandArgs(tokens(argv));
    return undefined;
  } catch (error) {
    return error instanceof InvalidInput ? error : undefined;
  }
}

describe('commandArgs', () => {
  it('takes every word after --, options of stepform before it', () => {
    expect(
      commandArgs(tokens(['command', '--env', 'dev', '--json', '--', 'state', 'list'])),
    ).toEqual(['state', 'list']);
    expect(
      commandArgs(
        tokens(['command', '--env', 'dev', '--', 'state', 'list', '-lock=false', '--json']),
      ),
    ).toEqual(['state', 'list', '-lock=false', '--json']);
  });

  it('refuses a command line without --, or with words between the verb and --', () => {
    expect(refusal(['command', '--env', 'dev', 'state', 'list'])?.field).toBe('--');
    expect(refusal(['command', 'state', '--', 'list'])?.field).toBe('--');
    expect(refusal(['command', '--env', 'dev', '--'])).toBeUndefined();
    expect(commandArgs(tokens(['command', '--env', 'dev', '--']))).toEqual([]);
  });
});
