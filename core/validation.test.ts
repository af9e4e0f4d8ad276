import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { InvalidInput } from './errors.ts';
import { parseInput } from './validation.ts';

const SCHEMA = z.strictObject({
  name: z.string().min(1),
  nested: z.strictObject({ count: z.number() }),
});

describe('parseInput', () => {
  it('returns the typed value when the input is valid', () => {
    expect(parseInput(SCHEMA, { name: 'a', nested: { count: 1 } }, 'event')).toEqual({
      name: 'a',
      nested: { count: 1 },
    });
  });

  it('names the first bad field as a dotted path under the root', () => {
    expect(() => parseInput(SCHEMA, { name: 'a', nested: { count: 'x' } }, 'event')).toThrow(
      expect.objectContaining({
        name: 'InvalidInput',
        field: 'event.nested.count',
      }),
    );
  });

  it('names the root when the whole input is wrong', () => {
    let caught: unknown;
    try {
      parseInput(SCHEMA, 'not an object', 'event');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidInput);
    expect((caught as InvalidInput).field).toBe('event');
  });
});
