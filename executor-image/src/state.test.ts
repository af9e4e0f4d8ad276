import { describe, expect, it } from '@jest/globals';
import { MASK } from '../../core/masking.ts';
import { parseOutputs, parseStatePull, sameState } from './state.ts';

describe('parseStatePull', () => {
  it('reads no state as null', () => {
    expect(parseStatePull('')).toEqual({ identity: null, sensitiveValues: [] });
    expect(parseStatePull('\n')).toEqual({ identity: null, sensitiveValues: [] });
  });

  it('reads lineage, serial, sensitive outputs and sensitive attributes', () => {
    const state = {
      version: 4,
      serial: 7,
      lineage: 'abc-123',
      outputs: {
        public: { value: 'visible', type: 'string' },
        secret: { value: { token: 'tok-123456' }, type: ['object', {}], sensitive: true },
      },
      resources: [
        {
          type: 'terraform_data',
          instances: [
            {
              attributes: {
                input: 'attr-secret',
                output: 'attr-secret',
                nested: { list: ['deep-secret'] },
              },
              sensitive_attributes: [
                [{ type: 'get_attr', value: 'input' }],
                [
                  { type: 'get_attr', value: 'nested' },
                  { type: 'get_attr', value: 'list' },
                  { type: 'index', value: { value: 0, type: 'number' } },
                ],
              ],
            },
          ],
        },
      ],
    };
    const pulled = parseStatePull(JSON.stringify(state));
    expect(pulled.identity).toEqual({ lineage: 'abc-123', serial: 7 });
    expect(pulled.sensitiveValues).toEqual(
      expect.arrayContaining(['tok-123456', 'attr-secret', 'deep-secret']),
    );
    expect(pulled.sensitiveValues).not.toContain('visible');
  });
});

describe('sameState', () => {
  it('treats two empty states as the same and empty against any state as different', () => {
    expect(sameState(null, null)).toBe(true);
    expect(sameState(null, { lineage: 'a', serial: 1 })).toBe(false);
    expect(sameState({ lineage: 'a', serial: 1 }, { lineage: 'a', serial: 1 })).toBe(true);
    expect(sameState({ lineage: 'a', serial: 1 }, { lineage: 'a', serial: 2 })).toBe(false);
    expect(sameState({ lineage: 'a', serial: 1 }, { lineage: 'b', serial: 1 })).toBe(false);
  });
});

describe('parseOutputs', () => {
  it('masks sensitive outputs and returns their values apart', () => {
    const parsed = parseOutputs(
      JSON.stringify({
        name: { value: 'hello', type: 'string', sensitive: false },
        password: { value: 'pa55word', type: 'string', sensitive: true },
      }),
    );
    expect(parsed.outputs).toEqual({
      name: { sensitive: false, value: 'hello' },
      password: { sensitive: true, value: MASK },
    });
    expect(parsed.sensitiveValues).toEqual(['pa55word']);
    expect(parseOutputs('').outputs).toEqual({});
  });
});
