import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import {
  PUBLISHED_SCHEMAS,
  SCHEMA_PATH,
  STATUS_EVENT_SCHEMA_PATH,
  statusEventJsonSchema,
  stepformJsonSchema,
} from './schema.ts';
import { statusEvent } from '../contracts/status-event.ts';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const committed = read(SCHEMA_PATH);

describe('the published schemas', () => {
  it.each(PUBLISHED_SCHEMAS.map((schema) => [schema.path, schema] as const))(
    '%s is what the zod schema generates today (npm run schema writes it)',
    (path, schema) => {
      expect(read(path)).toBe(schema.text());
    },
  );
});

describe('schemas/stepform.schema.json', () => {
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
        'drift',
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

describe('schemas/status-event.schema.json', () => {
  const schema = statusEventJsonSchema() as {
    properties: Record<string, { const?: unknown; items?: { required: string[] } }>;
    required: string[];
    additionalProperties: boolean;
  };

  it('describes version 2: projects required, no project or summary of version 1', () => {
    expect(schema.properties.schemaVersion?.const).toBe(2);
    expect(schema.required).toEqual(
      expect.arrayContaining(['schemaVersion', 'projects', 'runId', 'phase', 'at']),
    );
    expect(schema.properties).not.toHaveProperty('project');
    expect(schema.properties).not.toHaveProperty('summary');
    expect(schema.properties.projects?.items?.required).toEqual(['name', 'dir']);
    expect(schema.additionalProperties).toBe(false);
  });

  it('names every key of an event statusEvent builds', () => {
    // Prepare
    const event = statusEvent(
      {
        runId: 'run-1',
        workflow: 'plan-apply',
        environment: 'dev',
        projects: [
          {
            name: 'app',
            dir: 'infra/app',
            status: 'planned',
            summary: { add: 1, change: 0, destroy: 0 },
          },
        ],
        commit: 'a'.repeat(40),
        phase: 'planned',
        url: 'https://example.com/runs/1',
        message: 'm',
        actor: { name: 'alice', at: '2030-01-01T00:00:00.000Z', channel: 'cli' },
      },
      new Date('2030-01-01T00:00:00.000Z'),
    );

    // Assess
    expect(Object.keys(schema.properties).sort()).toEqual(Object.keys(event).sort());
    expect(JSON.parse(read(STATUS_EVENT_SCHEMA_PATH))).toEqual(schema);
  });
});
