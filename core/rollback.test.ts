import { describe, expect, it } from '@jest/globals';
import { caught } from '../test/support/caught.ts';
import { InvalidInput, NoRollbackTarget } from './errors.ts';
import { assertRollbackTarget, decideRollback } from './rollback.ts';

const FAILED = 'f'.repeat(40);
const GOOD = `abcdef1${'0'.repeat(33)}`;

describe('decideRollback', () => {
  it('rolls back to the last good commit', () => {
    expect(decideRollback({ failedCommit: FAILED, lastGoodCommit: GOOD })).toEqual({
      rollback: true,
      commit: GOOD,
    });
  });

  it('does not roll back when nothing has applied cleanly yet', () => {
    expect(decideRollback({ failedCommit: FAILED, lastGoodCommit: null })).toEqual({
      rollback: false,
      reason: 'no commit has applied cleanly in this environment yet',
    });
  });

  it('does not roll back to the failed commit itself, whatever its case', () => {
    expect(decideRollback({ failedCommit: GOOD, lastGoodCommit: GOOD.toUpperCase() })).toEqual({
      rollback: false,
      reason: 'the last good commit abcdef1 is the failed commit itself',
    });
  });

  it.each([
    [{ failedCommit: 'main', lastGoodCommit: GOOD }, 'failedCommit'],
    [{ failedCommit: FAILED, lastGoodCommit: 'abc123' }, 'lastGoodCommit'],
  ])('names a malformed commit (%#)', (input, field) => {
    const error = caught(() => decideRollback(input));
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as InvalidInput).field).toBe(field);
  });
});

describe('assertRollbackTarget', () => {
  it('returns the commit to roll back to', () => {
    expect(assertRollbackTarget({ failedCommit: FAILED, lastGoodCommit: GOOD })).toBe(GOOD);
  });

  it.each([
    [null, 'no commit has applied cleanly in this environment yet'],
    [FAILED, 'the last good commit fffffff is the failed commit itself'],
  ])('throws NoRollbackTarget with the reason (%s)', (lastGoodCommit, reason) => {
    // Act
    const error = caught(() => assertRollbackTarget({ failedCommit: FAILED, lastGoodCommit }));

    // Assess
    expect(error).toBeInstanceOf(NoRollbackTarget);
    expect((error as Error).message).toBe(reason);
  });
});
