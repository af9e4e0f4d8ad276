// The local drift schedule: when it comes due (a rate counted from serve's start, a cron by
// the clock), and that each fire starts the drift check of every environment once. The clock
// is injected and the interval timer faked, so nothing here waits.
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { parseDriftSchedule } from '../../core/drift-schedule.ts';
import { DriftSchedule, startDriftScheduler } from './drift-scheduler.ts';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const minutes = (n: number) => new Date(T0.getTime() + n * 60_000);

describe('DriftSchedule', () => {
  it('comes due once per rate interval counted from its start, never for a missed burst', () => {
    // Prepare
    const schedule = new DriftSchedule(parseDriftSchedule('rate(10 minutes)'), T0);

    // Act
    const checks = [0, 9, 10, 11, 19, 45, 46, 50].map((n) => [n, schedule.due(minutes(n))]);

    // Assess
    expect(checks).toEqual([
      [0, false],
      [9, false],
      [10, true],
      [11, false],
      [19, false],
      // 20, 30 and 40 passed unseen: one fire at 45, the next at 50.
      [45, true],
      [46, false],
      [50, true],
    ]);
  });

  it('comes due at the cron expression’s times', () => {
    // Prepare
    const schedule = new DriftSchedule(parseDriftSchedule('cron(0 6 * * ? *)'), T0);

    // Act
    const before = schedule.due(new Date('2030-01-01T05:59:59Z'));
    const at = schedule.due(new Date('2030-01-01T06:00:00Z'));
    const again = schedule.due(new Date('2030-01-01T06:00:30Z'));

    // Assess
    expect([before, at, again]).toEqual([false, true, false]);
    expect(schedule.next?.toISOString()).toBe('2030-01-02T06:00:00.000Z');
  });
});

describe('startDriftScheduler', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('fires every environment when due, skips a fire while the last still runs, stops on abort', async () => {
    // Prepare
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    let clock = T0;
    const fired: { environments: readonly string[]; at: string }[] = [];
    const skipped: string[] = [];
    let finish: () => void = () => undefined;
    const controller = new AbortController();
    startDriftScheduler({
      schedule: new DriftSchedule(parseDriftSchedule('rate(1 minute)'), T0),
      environments: ['dev', 'prod'],
      fire: (environments, at) => {
        fired.push({ environments, at: at.toISOString() });
        return new Promise<void>((resolve) => {
          finish = resolve;
        });
      },
      intervalMs: 1000,
      signal: controller.signal,
      now: () => clock,
      onSkipped: (at) => skipped.push(at.toISOString()),
    });

    // Act
    jest.advanceTimersByTime(1000); // T0: not due yet
    clock = minutes(1);
    jest.advanceTimersByTime(1000); // due: fires
    clock = minutes(2);
    jest.advanceTimersByTime(1000); // due, but the first fire still runs
    finish();
    // setImmediate is real: every promise callback of the first fire has run by then.
    await new Promise((resolve) => setImmediate(resolve));
    clock = minutes(3);
    jest.advanceTimersByTime(1000); // due again: fires
    controller.abort();

    // Assess
    expect(fired).toEqual([
      { environments: ['dev', 'prod'], at: minutes(1).toISOString() },
      { environments: ['dev', 'prod'], at: minutes(3).toISOString() },
    ]);
    expect(skipped).toEqual([minutes(2).toISOString()]);
    expect(jest.getTimerCount()).toBe(0);
  });
});
