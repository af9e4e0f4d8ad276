// `npm run providers:lock`: builds every pinned provider for the platforms users run on and
// writes the lock files of the modules that use them, with the h1: hash of each build under
// both registry hostnames. Run it after changing a pin in pins.ts and go/providers/go.mod.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.ts';
import { MIRROR_HOSTNAMES, PROVIDERS, type ProviderPin } from './pins.ts';
import { buildProvider } from './provider-mirror.ts';
import { providerPackageHash } from './provider-hash.ts';

export const LOCKED_PLATFORMS = [
  ['linux', 'amd64'],
  ['linux', 'arm64'],
  ['darwin', 'amd64'],
  ['darwin', 'arm64'],
] as const;

/**
 * The modules whose .terraform.lock.hcl this script maintains, relative to the repository.
 * The test fixtures lock the same provider as the example: their lock file is a link to it.
 */
export const LOCKED_MODULES = [
  'terraform/examples/hello',
  'test/fixtures/failing-apply',
  'test/fixtures/slow-apply',
];

export function renderLockFile(
  entries: readonly { pin: ProviderPin; hashes: readonly string[] }[],
): string {
  const blocks = entries.flatMap(({ pin, hashes }) =>
    MIRROR_HOSTNAMES.map((hostname) =>
      [
        `provider "${hostname}/${pin.namespace}/${pin.type}" {`,
        `  version     = "${pin.version}"`,
        `  constraints = "${pin.version}"`,
        '  hashes = [',
        ...[...hashes].sort().map((hash) => `    "${hash}",`),
        '  ]',
        '}',
      ].join('\n'),
    ),
  );
  return [
    '# Maintained by `npm run providers:lock` (toolchain/lock-providers.ts): the h1: hashes of the',
    "# providers as Stepform builds them from source, for OpenTofu's and Terraform's registry names.",
    '',
    blocks.join('\n\n'),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const root = REPO_ROOT;
  const entries = [];
  for (const pin of PROVIDERS) {
    const hashes: string[] = [];
    for (const [os, arch] of LOCKED_PLATFORMS) {
      const dir = await buildProvider(process.env, pin, os, arch, (line) => console.log(line));
      hashes.push(await providerPackageHash(dir));
    }
    entries.push({ pin, hashes });
  }
  const text = renderLockFile(entries);
  for (const module of LOCKED_MODULES) {
    const path = join(root, module, '.terraform.lock.hcl');
    const before = await readFile(path, 'utf8').catch(() => '');
    await writeFile(path, text);
    console.log(`${before === text ? 'unchanged' : 'wrote'} ${path}`);
  }
}

if (import.meta.main) await main();
