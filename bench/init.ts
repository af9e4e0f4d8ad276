// 3. Init: a cold `init` (empty plugin cache, new .terraform) against a warm one (plugin
// cache already holding the provider, new .terraform), both with the executor's CLI
// configuration: hashicorp/time from the filesystem mirror, nothing from a registry. A third
// variant, the mirror with no plugin cache at all, shows what the cache itself adds.
import { cp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HELLO_EXAMPLE } from '../local/scratch-repo.ts';
import { type BareEngine, bareEngine, benchTemp, tf } from './lib/fixtures.ts';
import { type Benchmark, table } from './lib/report.ts';
import { ratio, spread, summarize, times } from './lib/stats.ts';

const INIT_ARGS = ['init', '-input=false', '-no-color'];

/** `init` of the hello example in a fresh folder; the folder is removed afterwards. */
async function timedInit(bare: BareEngine): Promise<number> {
  const dir = await benchTemp('init');
  try {
    await cp(HELLO_EXAMPLE, dir, { recursive: true });
    return (await tf(bare, dir, INIT_ARGS)).ms;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Files and links under `dir` (the cache may hold links into the mirror). */
async function cacheEntries(dir: string | undefined): Promise<string[]> {
  if (dir === undefined) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile() || e.isSymbolicLink())
    .map(
      (e) =>
        `${join(e.parentPath, e.name).slice(dir.length + 1)}${e.isSymbolicLink() ? ' (link)' : ''}`,
    );
}

type Variant = 'cold' | 'warm' | 'none';

export const init: Benchmark = {
  id: 'init',
  title: 'Init: cold against warm',
  async run(ctx) {
    const runs = ctx.reps(7, 2);
    const root = ctx.temp(await benchTemp('init-root'));
    // Warm: one plugin cache, filled once (untimed) and reused by every warm run.
    const warm = await bareEngine(join(root, 'warm'), join(root, 'warm-cache'));
    await timedInit(warm);
    const cached = await cacheEntries(warm.pluginCache);
    if (cached.length === 0) throw new Error('the warm-up init left the plugin cache empty');
    const none = await bareEngine(join(root, 'none'), null);

    const samples: Record<Variant, number[]> = { cold: [], warm: [], none: [] };
    for (let i = 0; i < runs; i += 1) {
      // Cold: a new, empty plugin cache for each run.
      const cold = await bareEngine(join(root, `cold-${i}`), join(root, `cold-cache-${i}`));
      const engines: Record<Variant, BareEngine> = { cold, warm, none };
      // Rotate the order, so that no variant always runs first.
      const order: Variant[] = (['cold', 'warm', 'none'] as const).map(
        (_, k, all) => all[(k + i) % all.length] ?? 'cold',
      );
      for (const variant of order) samples[variant].push(await timedInit(engines[variant]));
      ctx.log(
        `  run ${i + 1}/${runs}: ${order.map((v) => `${v} ${Math.round(samples[v].at(-1) ?? 0)} ms`).join(', ')}`,
      );
    }
    const c = summarize(samples.cold);
    const w = summarize(samples.warm);
    const n = summarize(samples.none);
    const r = ratio(c.median, w.median);
    return {
      tables: [
        table(
          ['`init` of terraform/examples/hello', 'runs', 'median (min–max)'],
          [
            ['cold: empty plugin cache, new .terraform', c.n, spread(c, 3)],
            ['warm: plugin cache filled, new .terraform', w.n, spread(w, 3)],
            ['mirror only: no plugin cache, new .terraform', n.n, spread(n, 3)],
            ['**cold / warm**', '', `**${times(r)}**`],
          ],
          [1, 2],
        ),
      ],
      notes: [
        `Engine: ${warm.engine.name} ${warm.engine.version}. Every run copies the example into a new folder (untimed) and runs \`init -input=false\` with the executor's CLI configuration (renderCliConfig: hashicorp/time only from the filesystem mirror, plus a plugin_cache_dir). A cold run gets a new, empty cache; warm runs share one cache filled by an untimed first init. The order of the variants rotates from run to run.`,
        `What the cache holds after a warm-up: ${cached.join(', ')}. The mirror is unpacked, so the engine installs by linking, not copying: a cold init links the mirror's package into the cache and .terraform to the cache, a warm one only the second link, and with no cache .terraform links straight to the mirror. None of them copies the provider binary, which is why cold and warm are close.`,
      ],
      targets: [],
      data: { engine: warm.engine, samples, cold: c, warm: w, mirrorOnly: n, ratio: r, cached },
    };
  },
};
