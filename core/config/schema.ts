// The JSON Schemas Stepform publishes, generated from the zod schemas (the one source) and
// committed under schemas/, each checked against a fresh generation by the tests (`npm run
// schema` writes them all):
// - stepform.schema.json, of stepform.yaml, for editors (`# yaml-language-server: $schema=…`).
//   It describes the input, so keys with defaults are optional; checks across keys (cycles,
//   names, paths at the commit) are parseConfig's.
// - status-event.schema.json, of the status event, for the consumers of the status queue.
import { z } from 'zod';
import { STEPFORM_CONFIG } from './stepform-config.ts';
import { STATUS_EVENT, STATUS_EVENT_SCHEMA_VERSION } from '../contracts/status-event.ts';

/** Where the schema of stepform.yaml is published, relative to the repository root. */
export const SCHEMA_PATH = 'schemas/stepform.schema.json';

/** Where the schema of the status event is published, relative to the repository root. */
export const STATUS_EVENT_SCHEMA_PATH = 'schemas/status-event.schema.json';

export function stepformJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(STEPFORM_CONFIG, { io: 'input', target: 'draft-2020-12' }),
    title: 'stepform.yaml',
    description:
      'The Stepform configuration of a repository: its projects, environments, policies, after-apply dispatches and drift schedule.',
  };
}

/** The event as consumers receive it (what statusEvent builds and the adapters send). */
export function statusEventJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(STATUS_EVENT, { io: 'output', target: 'draft-2020-12' }),
    title: 'Stepform status event',
    description: `One per phase of a run: a message of the SQS FIFO status queue (message group = environment) and a row of the local outbox. Read schemaVersion first: this is version ${STATUS_EVENT_SCHEMA_VERSION}, where version 1's project and summary were replaced by projects.`,
  };
}

/** A schema file's text: two-space JSON and a final newline (.prettierignore lists the files). */
function schemaText(schema: Record<string, unknown>): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

export function stepformJsonSchemaText(): string {
  return schemaText(stepformJsonSchema());
}

export function statusEventJsonSchemaText(): string {
  return schemaText(statusEventJsonSchema());
}

/** Every published schema: its path and its text as generated today. */
export const PUBLISHED_SCHEMAS: readonly { readonly path: string; readonly text: () => string }[] =
  [
    { path: SCHEMA_PATH, text: stepformJsonSchemaText },
    { path: STATUS_EVENT_SCHEMA_PATH, text: statusEventJsonSchemaText },
  ];
