import { describe, expect, it } from '@jest/globals';
import { CommandNotAllowed } from './errors.ts';
import { commandProblem, resolveCommand } from './terraform-commands.ts';

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
      [
        'import',
        '-input=false',
        '-lock=true',
        '-lock-timeout=60s',
        '-no-color',
        'aws_iam_role.r',
        'arn:aws:iam::123456789012:role/x',
      ],
    ],
    [
      ['force-unlock', '0b7e7c4e-5bb4-4d1c-9d4b-2f1f1c0b1c4e'],
      ['force-unlock', '-force', '0b7e7c4e-5bb4-4d1c-9d4b-2f1f1c0b1c4e'],
    ],
    [['providers'], ['providers', '-no-color']],
    [['output'], ['output', '-json']],
    [
      ['state', 'rm', 'null_resource.a'],
      ['state', 'rm', '-lock=true', '-lock-timeout=60s', '-backup=-', 'null_resource.a'],
    ],
  ])('allows %j as %j', (args, terraformArgs) => {
    expect(resolveCommand(args).terraformArgs).toEqual(terraformArgs);
  });

  it('reads a single output through -json so it can be masked', () => {
    expect(resolveCommand(['output', 'secret'])).toEqual({
      name: 'output',
      terraformArgs: ['output', '-json'],
      userArgs: [],
      outputName: 'secret',
      changesState: false,
    });
  });

  it.each([
    [['apply']],
    [['destroy']],
    [['state', 'rm']],
    [['state', 'rm', '-lock=false']],
    [['state', 'list', '-lock=false']],
    [['state', 'list;', 'rm', '-rf', '/']],
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

  it('says which commands change the state: those need an approval', () => {
    const changing = [
      ['state', 'list'],
      ['state', 'show', 'a.b'],
      ['state', 'rm', 'a.b'],
      ['output'],
      ['import', 'a.b', 'id-1'],
      ['force-unlock', 'lock-1'],
      ['providers'],
    ].filter((args) => resolveCommand(args).changesState);
    expect(changing).toEqual([
      ['state', 'rm', 'a.b'],
      ['import', 'a.b', 'id-1'],
    ]);
  });
});

describe('commandProblem', () => {
  it('is undefined for an allowed command, and says why for another', () => {
    expect(commandProblem(['state', 'list'])).toBeUndefined();
    expect(commandProblem(['state', 'push', 'f'])).toMatch(/is not an allowed command; allowed: /);
    expect(commandProblem(['state', 'show', 'a;b'])).toMatch(/argument 1 of state show/);
  });
});
