import { describe, expect, it } from '@jest/globals';
import {
  TERRAFORM_DETAIL_LIMIT,
  repositoryPaths,
  terraformErrorDetail,
} from './terraform-errors.ts';

const PATHS = { root: '/work/job-1/checkout', projectDir: 'infra/app' };

const MISSING_VARIABLE = `Initializing the backend...

Warning: Incomplete lock file information for providers

Error: No value for required variable

  on main.tf line 56:
  56: variable "needed" {

The root module input variable "needed" is not set, and has no default value.
Use a -var or -var-file command line argument to provide a value for this
variable.
`;

describe('repositoryPaths', () => {
  it('makes a file Terraform names relative to its working folder relative to the repository', () => {
    expect(repositoryPaths('on main.tf line 3:', PATHS)).toBe('on infra/app/main.tf line 3:');
    expect(repositoryPaths('on ../modules/net/vpc.tf line 9', PATHS)).toBe(
      'on infra/modules/net/vpc.tf line 9',
    );
    expect(repositoryPaths('on ./envs/dev.tfvars line 1', PATHS)).toBe(
      'on infra/app/envs/dev.tfvars line 1',
    );
  });

  it('makes an absolute path in the checkout relative to the repository', () => {
    expect(
      repositoryPaths('on /work/job-1/checkout/infra/app/envs/dev.tfvars line 2:', PATHS),
    ).toBe('on infra/app/envs/dev.tfvars line 2:');
  });

  it('leaves paths outside the checkout and URLs as they are', () => {
    for (const text of [
      'on /etc/other/main.tf line 1',
      'on ../../../../elsewhere/main.tf line 1',
      'see https://example.com/docs/main.tf',
    ]) {
      expect(repositoryPaths(text, PATHS)).toBe(text);
    }
  });
});

describe('terraformErrorDetail', () => {
  it('keeps every error block whole, line by line, from the first Error: line', () => {
    expect(terraformErrorDetail(MISSING_VARIABLE, PATHS)).toBe(
      [
        'Error: No value for required variable',
        '',
        '  on infra/app/main.tf line 56:',
        '  56: variable "needed" {',
        '',
        'The root module input variable "needed" is not set, and has no default value.',
        'Use a -var or -var-file command line argument to provide a value for this',
        'variable.',
      ].join('\n'),
    );
  });

  it('drops the boxes Terraform draws around a diagnostic', () => {
    const boxed = '╷\n│ Error: Invalid block definition\n│ \n│   on main.tf line 5:\n╵\n';
    expect(terraformErrorDetail(boxed, PATHS)).toBe(
      'Error: Invalid block definition\n\n  on infra/app/main.tf line 5:',
    );
  });

  it('without an Error: line, keeps the last lines of the output', () => {
    const lines = Array.from({ length: 30 }, (_, i) => `line ${i}`);
    const detail = terraformErrorDetail(lines.join('\n'));
    expect(detail.split('\n')).toEqual(lines.slice(-20));
  });

  it('keeps the head of a very long output, marking the cut', () => {
    const detail = terraformErrorDetail(`Error: big\n${'x'.repeat(TERRAFORM_DETAIL_LIMIT * 2)}`);
    expect(detail).toHaveLength(TERRAFORM_DETAIL_LIMIT);
    expect(detail.startsWith('Error: big\n')).toBe(true);
    expect(detail.endsWith('…')).toBe(true);
  });
});
