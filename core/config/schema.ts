// The JSON Schema of stepform.yaml, generated from the zod schema (the one source): committed
// as schemas/stepform.schema.json for editors (`# yaml-language-server: $schema=…`), and
// checked against a fresh generation by the tests. It describes the input, so keys with
// defaults are optional; checks across keys (cycles, names, paths at the commit) are
// parseConfig's.
import { z } from 'zod';
import { STEPFORM_CONFIG } from './stepform-config.ts';

/** Where the schema is published, relative to the repository root. */
export const SCHEMA_PATH = 'schemas/stepform.schema.json';

export function stepformJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(STEPFORM_CONFIG, { io: 'input', target: 'draft-2020-12' }),
    title: 'stepform.yaml',
    description:
      'The Stepform configuration of a repository: its projects, environments, policies and after-apply dispatches.',
  };
}

/** The file's text: two-space JSON and a final newline, as prettier leaves it. */
export function stepformJsonSchemaText(): string {
  return `${JSON.stringify(stepformJsonSchema(), null, 2)}\n`;
}
