// Set-up's provider mirror with real OpenTofu/Terraform: the first hostname holds the binary,
// the other a link to it, and `init` installs the linked package with the hash the committed
// lock file records for that hostname (the image lays its mirror out the same way).
import { describe, expect, it } from '@jest/globals';
import { lstat, mkdir, mkdtemp, readFile, readlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderCliConfig, terraformEnvironment } from '../executor-image/src/terraform.ts';
import { resolveEngine } from './engine.ts';
import { REPO_ROOT, goPlatform } from './paths.ts';
import { MIRROR_HOSTNAMES, PROVIDERS } from './pins.ts';
import { run } from './process.ts';
import {
  ensureProviderMirror,
  mirrorPackageDir,
  providerBinaryName,
  readMirror,
} from './provider-mirror.ts';

const [PIN] = PROVIDERS;
const LOCK_FILE = join(REPO_ROOT, 'terraform', 'examples', 'hello', '.terraform.lock.hcl');

describe('the provider mirror', () => {
  it('holds each build once, and init installs the linked package by its locked hash', async () => {
    if (PIN === undefined) throw new Error('no pinned provider');
    const root = await mkdtemp(join(tmpdir(), 'stepform-mirror-'));
    const mirror = join(root, 'mirror');
    // The build itself comes from set-up's cache (built once per machine).
    const installed = await ensureProviderMirror(process.env, mirror);
    const { os, arch } = goPlatform();
    const [first, ...others] = MIRROR_HOSTNAMES;
    const binary = (hostname: string) =>
      join(mirrorPackageDir(mirror, hostname, PIN, `${os}_${arch}`), providerBinaryName(PIN));
    expect((await lstat(binary(first))).isFile()).toBe(true);
    for (const hostname of others) {
      expect((await lstat(binary(hostname))).isSymbolicLink()).toBe(true);
      expect(await readlink(binary(hostname))).toMatch(/^\.\.\//);
    }
    expect(new Set(installed.map((entry) => entry.hash)).size).toBe(1);
    expect((await readMirror(mirror)).map((entry) => entry.hostname)).toEqual([
      ...MIRROR_HOSTNAMES,
    ]);

    // A configuration that names the linked hostname, whichever engine runs it, with the lock
    // file's entry for it: init checks the package against that hash.
    const linked = MIRROR_HOSTNAMES[1];
    const config = join(root, 'config');
    const lock = await readFile(LOCK_FILE, 'utf8');
    const entry = new RegExp(
      `^provider "${linked.replaceAll('.', '\\.')}/hashicorp/time" \\{\\n[^]*?^\\}\\n`,
      'm',
    ).exec(lock)?.[0];
    expect(entry).toBeDefined();
    await mkdir(config);
    await writeFile(join(config, '.terraform.lock.hcl'), entry ?? '');
    await writeFile(
      join(config, 'main.tf'),
      `terraform {\n  required_providers {\n    time = { source = "${linked}/hashicorp/time", version = "${PIN.version}" }\n  }\n}\nresource "time_static" "now" {}\n`,
    );
    const cliConfig = join(root, 'terraform.tfrc');
    await writeFile(cliConfig, renderCliConfig(mirror, await readMirror(mirror)));
    const resolution = await resolveEngine(process.env);
    if (!resolution.found) throw new Error(`no engine: ${resolution.skipped.join('; ')}`);
    const init = await run(resolution.engine.path, ['init', '-input=false', '-no-color'], {
      cwd: config,
      env: terraformEnvironment(process.env, cliConfig),
    });
    expect(init.stderr).toBe('');
    expect(init.exitCode).toBe(0);
    expect(init.stdout).toMatch(new RegExp(`Installing (\\S+/)?hashicorp/time v${PIN.version}`));
    // The lock file's entry is unchanged (OpenTofu adds its header): the linked package
    // hashes to the locked h1: hash, with no other hash added.
    const after = await readFile(join(config, '.terraform.lock.hcl'), 'utf8');
    expect(after.replace(/^(#.*\n)*\n?/, '')).toBe(entry);
  });
});
