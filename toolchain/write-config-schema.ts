// npm run schema: writes schemas/stepform.schema.json from the zod schema of stepform.yaml
// (core/config/schema.test.ts fails until it is written again after the schema changes).
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SCHEMA_PATH, stepformJsonSchemaText } from '../core/config/schema.ts';
import { REPO_ROOT } from './paths.ts';

const target = join(REPO_ROOT, SCHEMA_PATH);
await mkdir(dirname(target), { recursive: true });
await writeFile(target, stepformJsonSchemaText());
console.log(`wrote ${SCHEMA_PATH}`);
