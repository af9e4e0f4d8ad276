import { describe, expect, it } from '@jest/globals';
import { caught } from '../test/support/caught.ts';
import { DEFAULT_TTL_BOUNDS, formatDuration, parseDuration, parseTtl } from './duration.ts';
import { InvalidInput } from './errors.ts';

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['4h', 14_400_000],
    ['2d', 172_800_000],
    ['1h30m', 5_400_000],
    ['1d12h', 129_600_000],
    ['1d2h3m4s', 93_784_000],
    ['0s', 0],
  ])('reads %s as %d ms', (text, expected) => {
    // Act
    const ms = parseDuration(text);

    // Assess
    expect(ms).toBe(expected);
  });

  it.each([
    '',
    '4',
    'h',
    '1.5h',
    '-1h',
    '+1h',
    '1h 30m',
    ' 1h',
    '30m1h',
    '1h1h',
    '1w',
    '4H',
    '1e3s',
  ])('refuses %j naming the field', (text) => {
    // Act
    const error = caught(() => parseDuration(text, 'timeout'));

    // Assess
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as InvalidInput).field).toBe('timeout');
  });

  it('names ttl by default', () => {
    expect((caught(() => parseDuration('soon')) as InvalidInput).field).toBe('ttl');
  });

  it('refuses amounts too large to count exactly', () => {
    // Act
    const error = caught(() => parseDuration('999999999d'));

    // Assess
    expect((error as InvalidInput).message).toBe('ttl: is too long');
  });
});

describe('parseTtl', () => {
  it('accepts the bounds themselves', () => {
    expect(parseTtl('1m')).toBe(60_000);
    expect(parseTtl('30d')).toBe(DEFAULT_TTL_BOUNDS.maxMs);
  });

  it.each(['59s', '30d1s', '31d'])('refuses %s as out of bounds', (text) => {
    // Act
    const error = caught(() => parseTtl(text));

    // Assess
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as InvalidInput).message).toBe('ttl: must be between 1m and 30d');
  });

  it('takes other bounds, such as the 10 seconds of the local demo', () => {
    // Prepare
    const bounds = { minMs: 10_000, maxMs: DEFAULT_TTL_BOUNDS.maxMs };

    // Act
    const ms = parseTtl('10s', bounds);
    const error = caught(() => parseTtl('9s', bounds));

    // Assess
    expect(ms).toBe(10_000);
    expect((error as InvalidInput).message).toBe('ttl: must be between 10s and 30d');
  });

  it('names ttl for a malformed TTL', () => {
    expect((caught(() => parseTtl('2 hours')) as InvalidInput).field).toBe('ttl');
  });
});

describe('formatDuration', () => {
  it.each([
    [5_400_000, '1h30m'],
    [45_000, '45s'],
    [172_800_000, '2d'],
    [129_600_000, '1d12h'],
    [93_784_000, '1d2h3m4s'],
    [0, '0s'],
    [400, '0s'],
    [1_600, '2s'],
  ])('formats %d ms as %s', (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });

  it('round-trips with parseDuration', () => {
    for (const text of ['90s', '1h30m', '1d12h', '2d', '4h']) {
      expect(parseDuration(formatDuration(parseDuration(text)))).toBe(parseDuration(text));
    }
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('refuses %d', (ms) => {
    expect(caught(() => formatDuration(ms))).toBeInstanceOf(InvalidInput);
  });
});
