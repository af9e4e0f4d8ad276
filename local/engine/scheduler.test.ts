// The local TTL scheduler's choice of what to fire. Only the cases that start no destroy run
// are here; firing one runs a real workflow, which the scenario tests cover.
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalEngine } from './local-engine.ts';
import { fireDueSchedules, startScheduler } from './scheduler.ts';
import { localSchedule } from '../../test/support/store-fixtures.ts';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const opened: LocalEngine[] = [];

afterEach(() => {
  for (const engine of opened.splice(0)) engine.close();
});

/** Two engines on one home, as `stepform serve` and a demo would share it. */
async function twoEngines(): Promise<[LocalEngine, LocalEngine]> {
  const home = await mkdtemp(join(tmpdir(), 'stepform-scheduler-'));
  const a = new LocalEngine({ home, env: {} });
  const b = new LocalEngine({ home, env: {} });
  opened.push(a, b);
  return [a, b];
}

describe('fireDueSchedules', () => {
  it('fires nothing before fireAt', async () => {
    const [engine] = await twoEngines();
    await engine.stores.schedules.upsert(localSchedule());

    expect(fireDueSchedules(engine, T0)).toEqual([]);
    expect(engine.stores.schedules.list()[0]?.status).toBe('pending');
    expect(engine.stores.runs.list()).toEqual([]);
  });

  it('fires nothing that another process claimed first, or that was deleted', async () => {
    const [a, b] = await twoEngines();
    const claimed = localSchedule({ environment: 'pr-1' });
    const deleted = localSchedule({ environment: 'pr-2' });
    await a.stores.schedules.upsert(claimed);
    await a.stores.schedules.upsert(deleted);
    await a.stores.schedules.remove(deleted.environment, deleted.projectDir);
    expect(b.stores.schedules.claim(claimed.environment, claimed.projectDir, claimed.fireAt)).toBe(
      true,
    );

    expect(fireDueSchedules(a, new Date(T0.getTime() + 7200_000))).toEqual([]);
    expect(a.stores.runs.list()).toEqual([]);
  });
});

describe('startScheduler', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('checks on every interval and stops when its signal aborts', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    const [engine] = await twoEngines();
    await engine.stores.schedules.upsert(localSchedule()); // due in 2030, not now
    const controller = new AbortController();
    const fired: unknown[] = [];

    startScheduler(engine, {
      intervalMs: 1000,
      signal: controller.signal,
      onFired: (f) => fired.push(f),
    });
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(5000);
    controller.abort();

    expect(fired).toEqual([]);
    expect(jest.getTimerCount()).toBe(0);
    expect(engine.stores.schedules.list()[0]?.status).toBe('pending');
  });

  // A scheduler given an already-aborted signal must not start a timer that nothing stops.
  it('starts no timer when its signal is already aborted', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    const [engine] = await twoEngines();
    const controller = new AbortController();
    controller.abort();

    startScheduler(engine, { intervalMs: 1000, signal: controller.signal });

    expect(jest.getTimerCount()).toBe(0);
  });
});
