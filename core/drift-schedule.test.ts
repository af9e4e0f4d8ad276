import { describe, expect, it } from '@jest/globals';
import { caught } from '../test/support/caught.ts';
import {
  nextFireTime,
  parseDriftSchedule,
  scheduledDriftRunId,
  scheduledRunInput,
} from './drift-schedule.ts';
import { InvalidInput } from './errors.ts';

const at = (iso: string) => new Date(iso);

describe('parseDriftSchedule', () => {
  it.each([
    ['rate(1 minute)', 60_000],
    ['rate(5 minutes)', 300_000],
    ['rate(6 hours)', 21_600_000],
    ['rate(1 day)', 86_400_000],
  ])('reads %s as every %d ms', (text, everyMs) => {
    // Act
    const schedule = parseDriftSchedule(text);

    // Assess
    expect(schedule).toEqual({ kind: 'rate', text, everyMs });
  });

  it.each([
    ['rate(1 hours)', 'singular for 1'],
    ['rate(2 hour)', 'singular for 1'],
    ['rate(0 minutes)', 'at least 1'],
    ['rate(6 weeks)', 'is not a rate'],
    ['rate(1.5 hours)', 'is not a rate'],
    ['at(2026-01-01T00:00:00)', 'is not a recurring schedule'],
    ['every 6 hours', 'is not a recurring schedule'],
    ['cron(0 6 * * *)', 'has 6 fields'],
    ['cron(0 6 * * * *)', 'exactly one of day-of-month and day-of-week'],
    ['cron(0 6 ? * ? *)', 'exactly one of day-of-month and day-of-week'],
    ['cron(60 6 * * ? *)', 'minutes must be from 0 to 59, not "60"'],
    ['cron(0 24 * * ? *)', 'hours must be from 0 to 23'],
    ['cron(0 6 ? FOO MON *)', 'month must be from 1 to 12 or JAN, FEB'],
    ['cron(0 6 L * ? *)', 'uses L, W or #'],
    ['cron(0 6 15W * ? *)', 'uses L, W or #'],
    ['cron(0 6 ? * 6#3 *)', 'uses L, W or #'],
    ['cron(0 6 ? JAN FOO *)', 'not "FOO"'],
    ['cron(0 6 ? * 6L *)', 'uses L, W or #'],
    ['cron(0 18-6 * * ? *)', 'runs backwards'],
    ['cron(*/0 6 * * ? *)', 'step "0" must be at least 1'],
  ])('refuses %s naming the field (%s)', (text, message) => {
    // Act
    const error = caught(() => parseDriftSchedule(text, 'drift.schedule'));

    // Assess
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as InvalidInput).field).toBe('drift.schedule');
    expect((error as InvalidInput).message).toContain(message);
  });

  it('reads names of months and days, lists, ranges and steps', () => {
    // Act
    const schedule = parseDriftSchedule('cron(0/20 8-10,14 ? JAN-MAR MON-FRI 2026-2027)');

    // Assess
    if (schedule.kind !== 'cron') throw new Error('not cron');
    expect([...schedule.fields.minutes]).toEqual([0, 20, 40]);
    expect([...schedule.fields.hours]).toEqual([8, 9, 10, 14]);
    expect([...schedule.fields.months]).toEqual([1, 2, 3]);
    expect([...(schedule.fields.dayOfWeek ?? [])]).toEqual([2, 3, 4, 5, 6]);
    expect(schedule.fields.dayOfMonth).toBeUndefined();
    expect([...schedule.fields.years]).toEqual([2026, 2027]);
  });
});

describe('nextFireTime', () => {
  it.each([
    // Daily at 06:00: later the same day, else the next day.
    ['cron(0 6 * * ? *)', '2026-03-10T05:59:30Z', '2026-03-10T06:00:00.000Z'],
    ['cron(0 6 * * ? *)', '2026-03-10T06:00:00Z', '2026-03-11T06:00:00.000Z'],
    // Every 15 minutes.
    ['cron(*/15 * * * ? *)', '2026-03-10T23:50:00Z', '2026-03-11T00:00:00.000Z'],
    // Weekdays at 09:30 (2026-03-14 is a Saturday: on to Monday the 16th).
    ['cron(30 9 ? * MON-FRI *)', '2026-03-13T10:00:00Z', '2026-03-16T09:30:00.000Z'],
    // Sundays: day-of-week 1.
    ['cron(0 0 ? * 1 *)', '2026-03-10T00:00:00Z', '2026-03-15T00:00:00.000Z'],
    // The 31st skips months without one.
    ['cron(0 12 31 * ? *)', '2026-04-01T00:00:00Z', '2026-05-31T12:00:00.000Z'],
    // Leap day.
    ['cron(0 0 29 FEB ? *)', '2026-03-01T00:00:00Z', '2028-02-29T00:00:00.000Z'],
  ])('%s after %s fires at %s', (text, after, expected) => {
    // Act
    const next = nextFireTime(parseDriftSchedule(text), at(after));

    // Assess
    expect(next?.toISOString()).toBe(expected);
  });

  it('is undefined once the years of a cron expression are past', () => {
    // Prepare
    const only2025 = parseDriftSchedule('cron(0 6 * * ? 2025)');

    // Act
    const next = nextFireTime(only2025, at('2026-01-01T00:00:00Z'));

    // Assess
    expect(next).toBeUndefined();
  });

  it('counts a rate in whole intervals from when the schedule was set up', () => {
    // Prepare
    const every6Hours = parseDriftSchedule('rate(6 hours)');
    const since = at('2026-03-10T00:00:00Z');

    // Act
    const first = nextFireTime(every6Hours, since, since);
    const later = nextFireTime(every6Hours, at('2026-03-10T13:00:00Z'), since);
    const onTheDot = nextFireTime(every6Hours, at('2026-03-10T12:00:00Z'), since);

    // Assess
    expect(first?.toISOString()).toBe('2026-03-10T06:00:00.000Z');
    expect(later?.toISOString()).toBe('2026-03-10T18:00:00.000Z');
    expect(onTheDot?.toISOString()).toBe('2026-03-10T18:00:00.000Z');
  });
});

describe('scheduledRunInput', () => {
  it('gives each fire its own run id: Scheduler’s invocation id in place of the slot', () => {
    // Prepare
    const runId = scheduledDriftRunId('prod', 80);
    const run = { runId, workflow: 'drift' };

    // Act
    const input = JSON.parse(scheduledRunInput(run)) as unknown;

    // Assess
    expect(runId).toMatch(/^drift-prod-[A-Z]+$/);
    expect(input).toEqual({ runId: 'drift-prod-<aws.scheduler.execution-id>', workflow: 'drift' });
  });

  it('shortens a long environment name so the run id fits the limit', () => {
    // Act
    const runId = scheduledDriftRunId('e'.repeat(63), 80);

    // Assess: it fits with any invocation id of up to 40 characters (it names the execution)
    const fired = JSON.parse(scheduledRunInput({ runId })) as { runId: string };
    expect(fired.runId.replace('<aws.scheduler.execution-id>', 'x'.repeat(40)).length).toBe(80);
    expect(runId.startsWith('drift-eee')).toBe(true);
  });

  it('refuses a run that is not a scheduled one', () => {
    // Act
    const error = caught(() => scheduledRunInput({ runId: 'cli-20260101T000000Z-abcdef' }));

    // Assess
    expect(error).toBeInstanceOf(InvalidInput);
  });
});
