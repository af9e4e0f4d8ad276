// npm run schema: writes the JSON Schemas generated from the zod schemas, that of stepform.yaml
// (schemas/stepform.schema.json) and that of the status event
// (schemas/status-event.schema.json); core/config/schema.test.ts fails until they are written
// again after a schema changes.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PUBLISHED_SCHEMAS } from '../core/config/schema.ts';
import { REPO_ROOT } from './paths.ts';

for (const schema of PUBLISHED_SCHEMAS) {
  const target = join(REPO_ROOT, schema.path);
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, schema.text());
  console.log(`wrote ${schema.path}`);
}
