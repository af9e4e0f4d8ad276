import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { SCHEMA_PATH, stepformJsonSchema, stepformJsonSchemaText } from './schema.ts';

const committed = readFileSync(new URL(`../../${SCHEMA_PATH}`, import.meta.url), 'utf8');

describe('schemas/stepform.schema.json', () => {
  it('is what the zod schema generates today (npm run schema writes it)', () => {
    expect(committed).toBe(stepformJsonSchemaText());
  });

  it('describes the keys of DESIGN.md, refusing unknown ones', () => {
    const schema = stepformJsonSchema() as {
      properties: Record<string, unknown>;
      required: string[];
      additionalProperties: boolean;
    };
    expect(Object.keys(schema.properties).sort()).toEqual(
      [
        '$schema',
        'after_apply',
        'defaults',
        'environments',
        'max_parallel',
        'policies',
        'projects',
        'version',
      ].sort(),
    );
    expect(schema.required.sort()).toEqual(['projects', 'version']);
    expect(schema.additionalProperties).toBe(false);
  });

  it('is the schema the README tells editors to use', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const line = readme.match(/# yaml-language-server: \$schema=(\S+)/);
    expect(line?.[1]).toMatch(new RegExp(`${SCHEMA_PATH.replace('.', '\\.')}$`));
    expect(parse(committed)).toEqual(stepformJsonSchema());
  });
});
