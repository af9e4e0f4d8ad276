// What running Stepform needs on a machine, built once into the cache outside any clone when
// missing: a Terraform engine (the pinned OpenTofu, unless one is usable), the provider
// mirror and the pinned OPA. Run by set-up in a clone and by `stepform setup` from the package.
import { resolveEngine } from './engine.ts';
import { ensureOpa } from './opa-build.ts';
import { buildOpenTofu } from './opentofu-build.ts';
import { providerMirrorDir } from './paths.ts';
import { ensureProviderMirror } from './provider-mirror.ts';

type Env = Readonly<Record<string, string | undefined>>;

export async function ensureToolchain(env: Env, log: (line: string) => void): Promise<void> {
  let resolution = await resolveEngine(env);
  if (!resolution.found) {
    for (const reason of resolution.skipped) log(`not usable: ${reason}`);
    const buildStarted = performance.now();
    await buildOpenTofu(env, log);
    log(`OpenTofu built in ${((performance.now() - buildStarted) / 1000).toFixed(1)} s`);
    resolution = await resolveEngine(env);
    if (!resolution.found)
      throw new Error(`the built OpenTofu is not usable: ${resolution.skipped.join('; ')}`);
  }
  const { engine } = resolution;
  log(`engine: ${engine.name} ${engine.version} (${engine.path}, from ${engine.source})`);

  const mirror = providerMirrorDir(env);
  const providers = await ensureProviderMirror(env, mirror, log);
  const names = [
    ...new Set(providers.map(({ provider: p }) => `${p.namespace}/${p.type} ${p.version}`)),
  ];
  log(`provider mirror: ${mirror} (${names.join(', ')})`);
  // Always the pinned build, even with an opa on PATH: the policy tests run this version.
  const opa = await ensureOpa(env, log);
  const built =
    opa.buildSeconds === undefined ? 'cached' : `built in ${opa.buildSeconds.toFixed(1)} s`;
  log(`OPA: ${opa.path} (${built})`);
}
