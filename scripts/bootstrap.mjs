// First step of `npm test`, `npm run demo` and `npm run setup` on any machine, fresh or not.
// Runs on whatever `node` is first on PATH (a fresh machine may have Node 20), so it is plain
// JavaScript with no dependencies: it installs the locked npm dependencies, which include the
// pinned Node 24 binary, then hands over to toolchain/setup.ts running on that Node 24.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'node_modules', '.stepform-installed');
const node24 = join(root, 'node_modules', '.bin', 'node');

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.error) throw result.error;
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const lockHash = createHash('sha256')
  .update(readFileSync(join(root, 'package-lock.json')))
  .digest('hex');
const installed =
  existsSync(stamp) && readFileSync(stamp, 'utf8') === lockHash && existsSync(node24);
if (!installed) {
  console.log('[setup] installing npm dependencies (npm ci)');
  // Inside an npm script npm_execpath names the running npm; outside one, npm is on PATH.
  const npmCli = process.env.npm_execpath;
  if (npmCli && npmCli.endsWith('.js'))
    run(process.execPath, [npmCli, 'ci', '--no-audit', '--no-fund']);
  else run('npm', ['ci', '--no-audit', '--no-fund']);
  writeFileSync(stamp, lockHash);
}

run(node24, [join(root, 'toolchain', 'setup.ts')]);
