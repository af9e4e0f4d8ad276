// Set-up, run by `npm test`, `npm run demo` and `npm run setup` (through scripts/bootstrap.mjs,
// which first installs the npm dependencies). Makes sure there is a Terraform engine, a
// provider mirror and the pinned OPA, building them once into the cache when they are missing,
// and Chromium for the browser tests, installed from the machine's packages.
import { ensureChromium, spawnRunner } from './chromium.ts';
import { resolveEngine } from './engine.ts';
import { ensureOpa } from './opa-build.ts';
import { buildOpenTofu } from './opentofu-build.ts';
import { providerMirrorDir } from './paths.ts';
import { ensureProviderMirror } from './provider-mirror.ts';
import { ensurePythonTools, pythonToolPath } from './python-tools.ts';

const log = (line: string) => process.stdout.write(`[setup] ${line}\n`);

async function main(): Promise<void> {
  const started = performance.now();
  let resolution = await resolveEngine(process.env);
  if (!resolution.found) {
    for (const reason of resolution.skipped) log(`not usable: ${reason}`);
    const buildStarted = performance.now();
    await buildOpenTofu(process.env, log);
    log(`OpenTofu built in ${((performance.now() - buildStarted) / 1000).toFixed(1)} s`);
    resolution = await resolveEngine(process.env);
    if (!resolution.found)
      throw new Error(`the built OpenTofu is not usable: ${resolution.skipped.join('; ')}`);
  }
  const { engine } = resolution;
  log(`engine: ${engine.name} ${engine.version} (${engine.path}, from ${engine.source})`);

  const mirror = providerMirrorDir(process.env);
  const providers = await ensureProviderMirror(process.env, mirror, log);
  const names = [
    ...new Set(providers.map(({ provider: p }) => `${p.namespace}/${p.type} ${p.version}`)),
  ];
  log(`provider mirror: ${mirror} (${names.join(', ')})`);
  // Always the pinned build, even with an opa on PATH: the policy tests run this version.
  const opa = await ensureOpa(process.env, log);
  const built =
    opa.buildSeconds === undefined ? 'cached' : `built in ${opa.buildSeconds.toFixed(1)} s`;
  log(`OPA: ${opa.path} (${built})`);
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
