import { describe, expect, it } from '@jest/globals';
import { errorText, parseErrorString } from './error-text.ts';

describe('errorText', () => {
  it('keeps the lines of a message as lines, indented under the first, then the hint', () => {
    const text = errorText(
      {
        name: 'JobFailed',
        message:
          'plan failed: TerraformFailed: terraform plan failed (exit 1):\nError: No value for required variable\n\n  on infra/app/main.tf line 3:',
      },
      { prefix: 'error: ' },
    );
    expect(text.split('\n')).toEqual([
      'error: JobFailed: plan failed: TerraformFailed: terraform plan failed (exit 1):',
      '  Error: No value for required variable',
      '',
      '    on infra/app/main.tf line 3:',
      expect.stringMatching(/^hint: give the variable a value: .*var_files/),
      '',
    ]);
  });

  it('shows paths in the repository relative to it', () => {
    expect(
      errorText(
        { name: 'ProjectDirInvalid', message: 'no folder /home/me/repo/infra/app' },
        { repository: '/home/me/repo/' },
      ),
    ).toMatch(/^ProjectDirInvalid: no folder infra\/app\n/);
  });

  it('has no hint line when there is no obvious next step', () => {
    expect(errorText({ name: 'InvalidInput', message: '--ttl: bad' })).toBe(
      'InvalidInput: --ttl: bad\n',
    );
  });
});

describe('parseErrorString', () => {
  it('splits `Name: message`, and takes anything else as a message', () => {
    expect(parseErrorString('States.TaskFailed: job 1 exited 1')).toEqual({
      name: 'States.TaskFailed',
      message: 'job 1 exited 1',
    });
    expect(parseErrorString('JobFailed: a\nb')).toEqual({ name: 'JobFailed', message: 'a\nb' });
    expect(parseErrorString('something broke')).toEqual({
      name: 'Error',
      message: 'something broke',
    });
  });
});
