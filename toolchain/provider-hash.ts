import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

/**
 * Every file below `dir`, a link to a file included (Go's filepath.Walk, which dirhash uses,
 * hands one on as a file, and reading it reads its target): the mirror links one hostname's
 * package to the other's.
 */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile() || (entry.isSymbolicLink() && (await stat(path)).isFile()))
      files.push(relative(dir, path).split(sep).join('/'));
  }
  return files.sort();
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
