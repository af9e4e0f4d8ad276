import { describe, expect, it } from '@jest/globals';
import { CommandNotAllowed } from '../../core/errors.ts';
import { resolveCommand } from './commands.ts';

describe('resolveCommand', () => {
  it.each([
    [
      ['state', 'list'],
      ['state', 'list'],
    ],
    [
      ['state', 'list', 'module.a'],
      ['state', 'list', 'module.a'],
    ],
    [
      ['state', 'show', 'aws_s3_bucket.b["logs"]'],
      ['state', 'show', '-no-color', 'aws_s3_bucket.b["logs"]'],
    ],
    [
      ['import', 'aws_iam_role.r', 'arn:aws:iam::123456789012:role/x'],
      ['import', '-input=false', '-no-color', 'aws_iam_role.r', 'arn:aws:iam::123456789012:role/x'],
    ],
    [
      ['force-unlock', '0b7e7c4e-5bb4-4d1c-9d4b-2f1f1c0b1c4e'],
      ['force-unlock', '-force', '0b7e7c4e-5bb4-4d1c-9d4b-2f1f1c0b1c4e'],
    ],
    [['providers'], ['providers', '-no-color']],
    [['output'], ['output', '-json']],
  ])('allows %j as %j', (args, terraformArgs) => {
    expect(resolveCommand(args).terraformArgs).toEqual(terraformArgs);
  });

  it('reads a single output through -json so it can be masked', () => {
    expect(resolveCommand(['output', 'secret'])).toEqual({
      name: 'output',
      terraformArgs: ['output', '-json'],
      userArgs: [],
      outputName: 'secret',
    });
  });

  it.each([
    [['apply']],
    [['destroy']],
    [['state', 'rm', 'x.y']],
    [['state', 'push', 'f']],
    [['console']],
    [['state']],
    [['state', 'show']],
    [['providers', 'lock']],
    [['import', 'only-one']],
    [['state', 'show', '-state=/etc/passwd']],
    [['state', 'show', 'a;b']],
    [['state', 'show', 'a|b']],
    [['state', 'show', 'a&&b']],
    [['state', 'show', '$(id)']],
    [['state', 'show', '`id`']],
    [['state', 'show', 'a b']],
    [['state', 'show', 'a\nb']],
    [['state', 'show', 'a>b']],
  ])('refuses %j', (args) => {
    expect(() => resolveCommand(args)).toThrow(CommandNotAllowed);
  });
});
