import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { executorEnv } from './executor-process.ts';

describe("the executor child's environment", () => {
  const env = { PATH: '/bin', STEPFORM_CACHE_DIR: '/home/u/.cache/stepform' };

  it("gives the package's executor the compile cache in Stepform's cache", () => {
    expect(executorEnv(env, true)).toEqual({
      ...env,
      NODE_COMPILE_CACHE: join('/home/u/.cache/stepform', 'node-compile-cache'),
    });
  });

  it("gives a clone's executor none, so that tests share no cache", () => {
    expect(executorEnv(env, false)).toEqual(env);
  });

  it("leaves the user's own NODE_COMPILE_CACHE or NODE_DISABLE_COMPILE_CACHE alone", () => {
    const own = { ...env, NODE_COMPILE_CACHE: '/elsewhere' };
    expect(executorEnv(own, true)).toEqual(own);
    const none = { ...env, NODE_DISABLE_COMPILE_CACHE: '1' };
    expect(executorEnv(none, true)).toEqual(none);
  });
});
