import { describe, expect, it } from '@jest/globals';
import { ERROR_CLASSES, InvalidInput, TerraformFailed, describeError } from './errors.ts';

describe('errors', () => {
  it('gives every class the stable name it is registered under', () => {
    for (const [name, ErrorClass] of Object.entries(ERROR_CLASSES)) {
      // Every constructor takes (string, ...); the extra arguments of some are not needed here.
      const Construct = ErrorClass as unknown as new (a: string, b: string) => Error;
      const error = new Construct('field', 'message');
      expect(error.name).toBe(name);
      expect(error).toBeInstanceOf(Error);
    }
  });

  it('names the field of an invalid input', () => {
    const error = new InvalidInput('job.commit', 'must be a SHA');
    expect(error.message).toBe('job.commit: must be a SHA');
    expect(error.field).toBe('job.commit');
    expect(error.kind).toBe('usage');
  });

  it('describes a Terraform failure with its subcommand and exit code', () => {
    expect(new TerraformFailed('apply', 1, 'boom').message).toBe(
      'terraform apply failed (exit 1): boom',
    );
    expect(new TerraformFailed('plan', null).message).toBe('terraform plan failed (exit signal)');
  });

  it('describes anything thrown without a stack', () => {
    expect(describeError(new InvalidInput('a', 'b'))).toEqual({
      name: 'InvalidInput',
      message: 'a: b',
    });
    expect(describeError('text')).toEqual({ name: 'Error', message: 'text' });
  });
});
