import { describe, expect, it } from '@jest/globals';
import { managedResourceAddresses } from './terraform-state.ts';

describe('managedResourceAddresses', () => {
  it('lists managed instances as terraform state list does, skipping data sources', () => {
    const state = {
      version: 4,
      terraform_version: '1.11.4',
      resources: [
        { mode: 'data', type: 'aws_region', name: 'current', instances: [{}] },
        { mode: 'managed', type: 'terraform_data', name: 'one', instances: [{ attributes: {} }] },
        {
          module: 'module.net',
          mode: 'managed',
          type: 'aws_subnet',
          name: 'private',
          instances: [{ index_key: 0 }, { index_key: 1 }],
        },
        { mode: 'managed', type: 'aws_s3_bucket', name: 'b', instances: [{ index_key: 'lo"gs' }] },
      ],
    };
    expect(managedResourceAddresses(state)).toEqual([
      'terraform_data.one',
      'module.net.aws_subnet.private[0]',
      'module.net.aws_subnet.private[1]',
      'aws_s3_bucket.b["lo\\"gs"]',
    ]);
  });

  it('reads an empty state and refuses what is not a version 4 state, naming the field', () => {
    expect(managedResourceAddresses({ version: 4, resources: [] })).toEqual([]);
    expect(() => managedResourceAddresses({ version: 3 })).toThrow(/state\.version/);
    expect(() => managedResourceAddresses('nope')).toThrow(/state/);
  });
});
