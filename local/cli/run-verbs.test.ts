// What a waiting run prints for its approval: the commands, and each approver's own links.
import { describe, expect, it } from '@jest/globals';
import { approvalNeeded } from './run-verbs.ts';

const REQUEST = {
  runId: 'run-1',
  expiresAt: '2026-12-04T06:00:00.000Z',
  approverLinks: [{ approver: 'alice', approve: 'http://a/yes', reject: 'http://a/no' }],
};

describe('approvalNeeded', () => {
  it('gives the commands and each approver’s links, which serve answers locally', () => {
    expect(approvalNeeded(REQUEST).split('\n')).toEqual([
      '  approval needed (expires 2026-12-04T06:00:00.000Z):',
      '    approve: npx stepform approve run-1',
      '    reject:  npx stepform reject run-1',
      '    as alice: approve http://a/yes',
      '    as alice: reject  http://a/no',
      '    (links are answered by `npx stepform serve`)',
      '',
    ]);
  });

  it('gives an override’s commands and links to its owners; on a stack no serve', () => {
    const override = {
      ...REQUEST,
      policyOverride: { blockedBy: ['cost'], owners: ['bob', 'carol'] },
    };
    expect(approvalNeeded(override, ' --stack').split('\n')).toEqual([
      '  blocked by cost: an owner may override (expires 2026-12-04T06:00:00.000Z):',
      '    owners: bob, carol',
      '    override: npx stepform approve run-1 --by bob --reason "why" --stack',
      '    refuse:   npx stepform reject run-1 --by bob --stack',
      '    as alice: override http://a/yes',
      '    as alice: refuse   http://a/no',
      '',
    ]);
  });
});
