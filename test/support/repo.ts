// Throwaway repositories for tests: the same helpers the demo uses, and fixture files.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HELLO_EXAMPLE } from '../../local/scratch-repo.ts';
import { REPO_ROOT } from '../../toolchain/paths.ts';
export {
  HELLO_EXAMPLE,
  type ScratchRepo as TestRepo,
  makeRepo,
  tempDir,
} from '../../local/scratch-repo.ts';
export { REPO_ROOT } from '../../toolchain/paths.ts';

/**
 * The hello example's main.tf at `projectDir`, with the resources of
 * test/fixtures/failing-rollback/<version> added: `last-good` holds a resource whose destroy
 * fails, `failing` replaces it and fails, so a rollback from it to `last-good` fails too.
 */
export function helloWithFailingRollback(
  version: 'last-good' | 'failing',
  projectDir: string,
): Record<string, string> {
  const hello = readFileSync(join(HELLO_EXAMPLE, 'main.tf'), 'utf8');
  const text = readFileSync(
    join(REPO_ROOT, 'test', 'fixtures', 'failing-rollback', version, 'main.tf'),
    'utf8',
  );
  return { [`${projectDir}/main.tf`]: `${hello}\n${text.slice(text.indexOf('resource "'))}` };
}
