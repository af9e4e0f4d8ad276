import { describe, expect, it } from '@jest/globals';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MASK } from '../../core/masking.ts';
import { parseOutputs, parseStatePull, readLocalState, sameState } from './state.ts';

const NO_STATE = { identity: null, sensitiveValues: [], outputs: {} };

describe('parseStatePull', () => {
  it('reads no state as null', () => {
    expect(parseStatePull('')).toEqual(NO_STATE);
    expect(parseStatePull('\n')).toEqual(NO_STATE);
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
    expect(pulled.outputs).toEqual({
      public: { sensitive: false, value: 'visible' },
      secret: { sensitive: true, value: MASK },
    });
  });
});

describe('readLocalState', () => {
  const state = {
    version: 4,
    terraform_version: '1.11.4',
    serial: 3,
    lineage: 'lin-1',
    outputs: { token: { value: 'tok-987', type: 'string', sensitive: true } },
    resources: [],
  };
  async function stateFile(content: string): Promise<string> {
    const path = join(await mkdtemp(join(tmpdir(), 'stepform-state-')), 'terraform.tfstate');
    await writeFile(path, content);
    return path;
  }

  it('reads a plain state file as `state pull` prints it', async () => {
    const text = JSON.stringify(state);
    expect(await readLocalState(await stateFile(text))).toEqual(parseStatePull(text));
    expect((await readLocalState(await stateFile(text)))?.sensitiveValues).toEqual(['tok-987']);
  });

  it('leaves to the engine what only it can read: no file, another format, sealed, torn', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stepform-state-'));
    expect(await readLocalState(join(dir, 'terraform.tfstate'))).toBeUndefined();
    // Never "no state" for a missing file: the file may be where the engine does not keep it.
    expect(await readLocalState(await stateFile(''))).toBeUndefined();
    expect(await readLocalState(await stateFile(JSON.stringify({ ...state, version: 3 })))).toBe(
      undefined,
    );
    // OpenTofu's encrypted state: lineage and serial in the clear, the rest sealed.
    const sealed = {
      serial: 3,
      lineage: 'lin-1',
      encrypted_data: 'AAAA',
      encryption_version: 'v0',
    };
    expect(await readLocalState(await stateFile(JSON.stringify(sealed)))).toBeUndefined();
    expect(
      await readLocalState(await stateFile(JSON.stringify({ ...state, encrypted_data: 'AAAA' }))),
    ).toBeUndefined();
    expect(await readLocalState(await stateFile('{"version": 4, "serial": 3, "lin'))).toBe(
      undefined,
    );
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
