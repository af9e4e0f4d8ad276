import { describe, expect, it } from '@jest/globals';
import { InvalidInput } from '../../core/errors.ts';
import {
  backendConfigArgs,
  backendOverride,
  renderCliConfig,
  stateKey,
  terraformEnvironment,
} from './terraform.ts';

describe('stateKey', () => {
  it('gives each environment and project its own state, with the project as one segment', () => {
    expect(stateKey('dev', 'terraform/examples/hello')).toBe(
      'dev/terraform%2Fexamples%2Fhello/terraform.tfstate',
    );
    expect(stateKey('dev', '.')).toBe('dev/%2E/terraform.tfstate');
    expect(stateKey('dev', 'a/b')).not.toBe(stateKey('dev', 'a_b'));
  });
});

describe('backend configuration', () => {
  it('points the local backend at the job state folder', () => {
    expect(backendOverride({ type: 'local', stateDir: '/s' })).toEqual({
      terraform: { backend: { local: {} } },
    });
    expect(backendConfigArgs({ type: 'local', stateDir: '/s' }, 'dev', 'p')).toEqual([
      '-backend-config=path=/s/dev/p/terraform.tfstate',
    ]);
  });

  it('configures the S3 backend with encryption and its lockfile', () => {
    expect(
      backendConfigArgs(
        { type: 's3', bucket: 'b', region: 'eu-west-1', keyPrefix: 'sf', kmsKeyId: 'alias/k' },
        'prod',
        'p',
      ),
    ).toEqual([
      '-backend-config=bucket=b',
      '-backend-config=key=sf/prod/p/terraform.tfstate',
      '-backend-config=region=eu-west-1',
      '-backend-config=encrypt=true',
      '-backend-config=use_lockfile=true',
      '-backend-config=kms_key_id=alias/k',
    ]);
  });
});

describe('renderCliConfig', () => {
  const time = (hostname: string) => ({
    hostname,
    namespace: 'hashicorp',
    type: 'time',
    version: '0.14.2',
    platform: 'linux_amd64',
  });

  it('serves mirrored providers only from the mirror and the rest from their registry', () => {
    const config = renderCliConfig(
      '/m',
      [time('registry.opentofu.org'), time('registry.terraform.io'), time('registry.opentofu.org')],
      '/c',
    );
    expect(config).toBe(
      [
        'provider_installation {',
        '  filesystem_mirror {',
        '    path    = "/m"',
        '    include = ["registry.opentofu.org/hashicorp/time", "registry.terraform.io/hashicorp/time"]',
        '  }',
        '  direct {',
        '    exclude = ["registry.opentofu.org/hashicorp/time", "registry.terraform.io/hashicorp/time"]',
        '  }',
        '}',
        'plugin_cache_dir = "/c"',
        '',
      ].join('\n'),
    );
  });

  it('falls back to the registries when the mirror is empty', () => {
    expect(renderCliConfig('/m', [])).toBe('provider_installation {\n  direct {}\n}\n');
  });

  it('refuses a path that HCL would interpolate', () => {
    expect(() =>
      renderCliConfig('/m/${file("/etc/passwd")}', [time('registry.opentofu.org')]),
    ).toThrow(InvalidInput);
  });
});

describe('terraformEnvironment', () => {
  it('drops TF_* settings and Stepform secrets, keeps TF_VAR_* and sets automation mode', () => {
    const env = terraformEnvironment(
      {
        PATH: '/bin',
        TF_CLI_ARGS_apply: '-auto-approve -target=x',
        TF_WORKSPACE: 'other',
        TF_VAR_region: 'eu-west-1',
        STEPFORM_APPROVAL_SIGNING_KEY: 'k',
        HOME: undefined,
      },
      '/w/terraform.tfrc',
    );
    expect(env).toEqual({
      PATH: '/bin',
      TF_VAR_region: 'eu-west-1',
      TF_CLI_CONFIG_FILE: '/w/terraform.tfrc',
      TF_IN_AUTOMATION: '1',
      TF_INPUT: '0',
      CHECKPOINT_DISABLE: '1',
    });
  });
});
