import { describe, expect, it } from '@jest/globals';
import { cutCodePoints, cutText, cutTextHead } from './text.ts';

describe('cutText', () => {
  it('keeps text within the limit as it is', () => {
    expect(cutText('abc', 3)).toBe('abc');
    expect(cutText('', 0)).toBe('');
  });

  it('cuts to the limit, the last unit being "…"', () => {
    expect(cutText('abcdef', 4)).toBe('abc…');
    expect(cutText('abcdef', 4)).toHaveLength(4);
  });

  it('never splits a surrogate pair', () => {
    // "a😀b": the emoji is two units; a cut after its first unit drops the half.
    expect(cutText('a😀bcd', 3)).toBe('a…');
    expect(cutText('a😀bcd', 4)).toBe('a😀…');
    expect(cutText('😀😀😀', 4)).toBe('😀…');
  });
});

describe('cutTextHead', () => {
  it('keeps the end, marked with a leading "…", and never half a pair', () => {
    expect(cutTextHead('abc', 3)).toBe('abc');
    expect(cutTextHead('abcdef', 4)).toBe('…def');
    expect(cutTextHead('ab😀c', 3)).toBe('…c');
    expect(cutTextHead('ab😀c', 4)).toBe('…😀c');
  });

  it('marks text that was cut before, even when it fits', () => {
    expect(cutTextHead('def', 4, true)).toBe('…def');
    expect(cutTextHead('abcdef', 4, true)).toBe('…def');
  });
});

describe('cutCodePoints', () => {
  it('counts code points, not units', () => {
    expect(cutCodePoints('abc', 3)).toBe('abc');
    expect(cutCodePoints('abcd', 3)).toBe('ab…');
    expect(cutCodePoints('😀😀😀😀', 3)).toBe('😀😀…');
    expect(cutCodePoints('😀😀', 3)).toBe('😀😀');
  });
});
