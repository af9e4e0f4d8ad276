import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

/**
 * The `h1:` hash Terraform records in .terraform.lock.hcl for an unpacked provider package:
 * Go's dirhash Hash1, a SHA-256 over "<sha256 hex>  <path>\n" for each file in path order.
 */
export async function providerPackageHash(dir: string): Promise<string> {
  const summary = createHash('sha256');
  for (const file of await listFiles(dir)) {
    const digest = createHash('sha256')
      .update(await readFile(join(dir, file)))
      .digest('hex');
    summary.update(`${digest}  ${file}\n`);
  }
  return `h1:${summary.digest('base64')}`;
}
