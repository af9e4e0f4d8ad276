import { describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { providerPackageHash } from './provider-hash.ts';

describe('providerPackageHash', () => {
  it("computes Go's dirhash Hash1 over the files in path order", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stepform-h1-'));
    await writeFile(join(dir, 'terraform-provider-x_v1.0.0'), 'abc');
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'README'), 'def');
    // Computed independently: base64(sha256("<sha256 hex>  <path>\n" for each file, sorted)).
    expect(await providerPackageHash(dir)).toBe('h1:uaGX35l4bd55KHVrbH/V5EtQuLkwG3BVvHE7682CRVo=');
  });

  it('hashes a linked file as the file it links to, as Terraform does', async () => {
    const root = await mkdtemp(join(tmpdir(), 'stepform-h1-'));
    const copy = join(root, 'copy');
    const linked = join(root, 'linked');
    await mkdir(copy);
    await mkdir(linked);
    await writeFile(join(copy, 'terraform-provider-x_v1.0.0'), 'abc');
    await symlink(
      '../copy/terraform-provider-x_v1.0.0',
      join(linked, 'terraform-provider-x_v1.0.0'),
    );
    expect(await providerPackageHash(linked)).toBe(await providerPackageHash(copy));
  });
});
