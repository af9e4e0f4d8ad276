import { describe, expect, it } from '@jest/globals';
import { compareVersions } from './semver.ts';

describe('compareVersions', () => {
  it.each([
    ['1.12.6', '1.6.0', 1],
    ['1.5.0', '1.5.0', 0],
    ['v1.5.0-beta1', '1.5.0', 0],
    ['1.4.9', '1.5.0', -1],
    ['1.10.0', '1.9.9', 1],
    ['2', '1.99.99', 1],
  ])('%s against %s is %d', (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
  });
});
