// The package's bin computes Stepform's cache folder in ES5 (BIN_CACHE_ROOT): it must agree
// with toolchain/paths.ts's cacheRoot, which every other part uses.
import { describe, expect, it } from '@jest/globals';
import { homedir } from 'node:os';
import path from 'node:path';
import { runInNewContext } from 'node:vm';
import { BIN_CACHE_ROOT, binText } from './build-package.ts';
import { cacheRoot } from './paths.ts';

type Env = Record<string, string | undefined>;

/** The bin's function, run as the bin runs it: plain script, Node's join and home folder. */
function binCacheRoot(env: Env): string {
  const cacheRootOf: unknown = runInNewContext(`(${BIN_CACHE_ROOT})`);
  if (typeof cacheRootOf !== 'function') throw new Error('BIN_CACHE_ROOT is not a function');
  return (cacheRootOf as (env: Env, home: string, p: typeof path) => string)(env, homedir(), path);
}

describe("the bin's cache folder", () => {
  it.each<[string, Env]>([
    ['nothing set', {}],
    ['XDG_CACHE_HOME', { XDG_CACHE_HOME: '/xdg/cache' }],
    ['STEPFORM_CACHE_DIR over XDG_CACHE_HOME', { STEPFORM_CACHE_DIR: '/sf', XDG_CACHE_HOME: '/x' }],
    ['an empty STEPFORM_CACHE_DIR', { STEPFORM_CACHE_DIR: '', XDG_CACHE_HOME: '/x' }],
    ['an empty XDG_CACHE_HOME', { XDG_CACHE_HOME: '' }],
    ['a relative XDG_CACHE_HOME', { XDG_CACHE_HOME: 'cache' }],
  ])('is cacheRoot with %s', (_, env) => {
    expect(binCacheRoot(env)).toBe(cacheRoot(env));
    expect(path.isAbsolute(cacheRoot(env)) || env.STEPFORM_CACHE_DIR !== undefined).toBe(true);
  });

  it('is what the bin runs, before it loads the bundle', () => {
    const bin = binText();
    expect(bin).toContain(BIN_CACHE_ROOT);
    expect(bin.indexOf('enableCompileCache(')).toBeGreaterThan(bin.indexOf(BIN_CACHE_ROOT));
    expect(bin.indexOf("import('../lib/cli.js')")).toBeGreaterThan(
      bin.indexOf('enableCompileCache('),
    );
  });
});
