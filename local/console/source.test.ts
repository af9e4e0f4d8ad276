import { describe, expect, it } from '@jest/globals';
import { wholeCharacters } from './source.ts';

describe('wholeCharacters', () => {
  it('cuts a growing log after its last whole UTF-8 character', () => {
    const text = Buffer.from('ok é € 𝄞', 'utf8');
    expect(wholeCharacters(text)).toBe(text.length);
    // Each cut inside the last character (4 bytes) keeps only what precedes it.
    for (const cut of [1, 2, 3]) {
      expect(wholeCharacters(text.subarray(0, text.length - cut))).toBe(text.length - 4);
    }
    expect(wholeCharacters(Buffer.from('é', 'utf8').subarray(0, 1))).toBe(0);
    expect(wholeCharacters(Buffer.alloc(0))).toBe(0);
  });
});
