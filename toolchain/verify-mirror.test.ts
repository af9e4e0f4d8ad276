import { describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCKED_MODULES, renderLockFile } from './lock-providers.ts';
import { REPO_ROOT } from './paths.ts';
import { MIRROR_HOSTNAMES, PROVIDERS, type ProviderPin } from './pins.ts';
import { providerPackageHash } from './provider-hash.ts';
import { mirrorPackageDir, providerBinaryName } from './provider-mirror.ts';
import { lockProblem, parseLockFile, verifyMirror } from './verify-mirror.ts';

const PIN: ProviderPin = {
  namespace: 'hashicorp',
  type: 'time',
  version: '0.14.2',
  goPackage: 'github.com/hashicorp/terraform-provider-time',
};
const provider = {
  hostname: 'registry.opentofu.org',
  namespace: 'hashicorp',
  type: 'time',
  version: '0.14.2',
  platform: 'linux_arm64',
};
const HASH = 'h1:9bOAnZXe+dHF0l5t+vaMyfJ3H/tIex60SQPpxFfRjBU=';

describe('parseLockFile', () => {
  it('reads what renderLockFile writes, for both registry hostnames', () => {
    const locked = parseLockFile(renderLockFile([{ pin: PIN, hashes: [HASH, 'h1:b='] }]));
    expect([...locked.keys()]).toEqual(MIRROR_HOSTNAMES.map((host) => `${host}/hashicorp/time`));
    expect(locked.get('registry.terraform.io/hashicorp/time')).toEqual({
      address: 'registry.terraform.io/hashicorp/time',
      version: '0.14.2',
      hashes: [HASH, 'h1:b='].sort(),
    });
  });

  it.each(LOCKED_MODULES)('reads every pinned provider from %s', async (module) => {
    const text = await readFile(join(REPO_ROOT, module, '.terraform.lock.hcl'), 'utf8');
    const locked = parseLockFile(text);
    for (const pin of PROVIDERS) {
      for (const host of MIRROR_HOSTNAMES) {
        const entry = locked.get(`${host}/${pin.namespace}/${pin.type}`);
        expect(entry?.version).toBe(pin.version);
        expect(entry?.hashes.length).toBeGreaterThan(0);
      }
    }
  });
});

describe('lockProblem', () => {
  const locked = parseLockFile(renderLockFile([{ pin: PIN, hashes: [HASH] }]));

  it('accepts a locked hash of the same address and version', () => {
    expect(lockProblem(locked, provider, HASH)).toBeUndefined();
  });

  it('refuses another hash, another version and an unlocked provider', () => {
    expect(lockProblem(locked, provider, 'h1:other=')).toMatch(/h1:other= is not a locked hash/);
    expect(lockProblem(locked, { ...provider, version: '0.13.0' }, HASH)).toMatch(
      /has registry.opentofu.org\/hashicorp\/time 0.14.2, not 0.13.0/,
    );
    expect(lockProblem(locked, { ...provider, type: 'random' }, HASH)).toMatch(
      /registry.opentofu.org\/hashicorp\/random is not in the lock file/,
    );
  });
});

describe('verifyMirror', () => {
  it('hashes every package of a mirror and reports those the lock file refuses', async () => {
    const root = await mkdtemp(join(tmpdir(), 'stepform-verify-mirror-'));
    const mirror = join(root, 'mirror');
    for (const host of MIRROR_HOSTNAMES) {
      const dir = mirrorPackageDir(mirror, host, PIN, 'linux_arm64');
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, providerBinaryName(PIN)), 'a provider binary');
    }
    const good = await providerPackageHash(
      mirrorPackageDir(mirror, MIRROR_HOSTNAMES[0], PIN, 'linux_arm64'),
    );
    const lockFile = join(root, '.terraform.lock.hcl');
    await writeFile(lockFile, renderLockFile([{ pin: PIN, hashes: [good] }]));
    expect(await verifyMirror(mirror, lockFile)).toEqual(
      MIRROR_HOSTNAMES.map((hostname) => ({
        provider: { ...provider, hostname },
        hash: good,
        problem: undefined,
      })),
    );

    const tampered = mirrorPackageDir(mirror, MIRROR_HOSTNAMES[1], PIN, 'linux_arm64');
    await writeFile(join(tampered, providerBinaryName(PIN)), 'another binary');
    const checks = await verifyMirror(mirror, lockFile);
    expect(checks.map((check) => check.problem === undefined)).toEqual([true, false]);
  });
});
