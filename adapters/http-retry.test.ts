import { describe, expect, it } from '@jest/globals';
import { rejection } from '../test/support/caught.ts';
import {
  backoffDelay,
  HttpStatusError,
  isRetryableError,
  NetworkError,
  parseRetryAfter,
  retryAfterOf,
  withRetries,
} from './http-retry.ts';

/** A fake sleep that records the waits and returns at once. */
function fakeSleep() {
  const waits: number[] = [];
  return {
    waits,
    sleep: (ms: number) => {
      waits.push(ms);
      return Promise.resolve();
    },
  };
}

/** A function that fails with the given errors in turn, then resolves with 'ok'. */
function failing(...errors: Error[]) {
  const calls: number[] = [];
  return {
    calls,
    fn: (attempt: number) => {
      calls.push(attempt);
      const error = errors[calls.length - 1];
      return error === undefined ? Promise.resolve('ok') : Promise.reject(error);
    },
  };
}

describe('withRetries', () => {
  it('returns the first success without waiting', async () => {
    // Prepare
    const { waits, sleep } = fakeSleep();
    const { calls, fn } = failing();

    // Act
    const result = await withRetries(fn, {
      attempts: 3,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      sleep,
    });

    // Assess
    expect(result).toBe('ok');
    expect(calls).toEqual([1]);
    expect(waits).toEqual([]);
  });

  it('retries 429, 5xx and network errors, with exponential backoff and full jitter', async () => {
    // Prepare: the jitter draws the top of each range
    const { waits, sleep } = fakeSleep();
    const { calls, fn } = failing(
      new HttpStatusError(429, 'HTTP 429'),
      new HttpStatusError(503, 'HTTP 503'),
      new NetworkError('refused', 'ECONNREFUSED'),
    );

    // Act
    const result = await withRetries(fn, {
      attempts: 4,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      sleep,
      random: () => 0.999,
    });

    // Assess
    expect(result).toBe('ok');
    expect(calls).toEqual([1, 2, 3, 4]);
    expect(waits).toEqual([99, 199, 399]);
  });

  it('draws each wait from zero up to the capped exponential ceiling', async () => {
    // Prepare
    const { waits, sleep } = fakeSleep();
    const errors = Array.from({ length: 6 }, () => new HttpStatusError(500, 'HTTP 500'));
    const { fn } = failing(...errors);
    const draws = [0, 0.5, 0.5, 0.5, 0.5, 0.5];

    // Act
    await withRetries(fn, {
      attempts: 7,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      sleep,
      random: () => draws.shift() ?? 0,
    });

    // Assess: ceilings 100, 200, 400, 800, then the 1000 cap
    expect(waits).toEqual([0, 100, 200, 400, 500, 500]);
  });

  it('honours Retry-After in seconds, capped at maxDelayMs', async () => {
    // Prepare
    const { waits, sleep } = fakeSleep();
    const { fn } = failing(
      new HttpStatusError(429, 'HTTP 429', parseRetryAfter('2')),
      new HttpStatusError(429, 'HTTP 429', parseRetryAfter('120')),
      new HttpStatusError(429, 'HTTP 429', parseRetryAfter('0')),
    );

    // Act
    await withRetries(fn, {
      attempts: 4,
      baseDelayMs: 100,
      maxDelayMs: 5000,
      sleep,
      random: () => 0.5,
    });

    // Assess
    expect(waits).toEqual([2000, 5000, 0]);
  });

  it('reads Retry-After from an Octokit-style error response', async () => {
    // Prepare
    const { waits, sleep } = fakeSleep();
    const octokitError = Object.assign(new Error('rate limited'), {
      status: 429,
      response: { headers: { 'retry-after': '3' } },
    });
    const { fn } = failing(octokitError);

    // Act
    await withRetries(fn, { attempts: 2, baseDelayMs: 1, maxDelayMs: 10_000, sleep });

    // Assess
    expect(waits).toEqual([3000]);
  });

  it('rethrows the last error after the cap', async () => {
    // Prepare
    const { waits, sleep } = fakeSleep();
    const last = new HttpStatusError(502, 'HTTP 502');
    const { calls, fn } = failing(
      new HttpStatusError(500, 'HTTP 500'),
      last,
      new Error('never reached'),
    );

    // Act
    const error = await rejection(
      withRetries(fn, { attempts: 2, baseDelayMs: 10, maxDelayMs: 10, sleep }),
    );

    // Assess
    expect(error).toBe(last);
    expect(calls).toEqual([1, 2]);
    expect(waits).toHaveLength(1);
  });

  it.each([
    ['400', new HttpStatusError(400, 'HTTP 400')],
    ['404', new HttpStatusError(404, 'HTTP 404')],
    ['a programming error', new TypeError('x is not a function')],
  ])('does not retry %s', async (_name, failure) => {
    // Prepare
    const { waits, sleep } = fakeSleep();
    const { calls, fn } = failing(failure);

    // Act
    const error = await rejection(
      withRetries(fn, { attempts: 5, baseDelayMs: 10, maxDelayMs: 10, sleep }),
    );

    // Assess
    expect(error).toBe(failure);
    expect(calls).toEqual([1]);
    expect(waits).toEqual([]);
  });

  it('uses a custom isRetryable and reports each retry', async () => {
    // Prepare
    const { sleep } = fakeSleep();
    const retries: number[] = [];
    const { calls, fn } = failing(new Error('flaky'), new Error('flaky'));

    // Act
    const result = await withRetries(fn, {
      attempts: 3,
      baseDelayMs: 0,
      maxDelayMs: 0,
      sleep,
      isRetryable: (error) => error instanceof Error && error.message === 'flaky',
      onRetry: ({ attempt }) => retries.push(attempt),
    });

    // Assess
    expect(result).toBe('ok');
    expect(calls).toEqual([1, 2, 3]);
    expect(retries).toEqual([1, 2]);
  });

  it('tries once when attempts is below 1', async () => {
    const { calls, fn } = failing(new HttpStatusError(500, 'HTTP 500'));
    await rejection(withRetries(fn, { attempts: 0, baseDelayMs: 0, maxDelayMs: 0 }));
    expect(calls).toEqual([1]);
  });
});

describe('parseRetryAfter', () => {
  it.each([
    ['0', 0],
    ['7', 7000],
    [' 12 ', 12_000],
    [3, 3000],
    ['-1', undefined],
    ['1.5', undefined],
    ['soon', undefined],
    ['', undefined],
    [null, undefined],
    [undefined, undefined],
  ])('reads %p as %p ms', (value, expected) => {
    expect(parseRetryAfter(value, 0)).toBe(expected);
  });

  it('reads an HTTP date relative to now, never negative', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(parseRetryAfter('Tue, 01 Jan 2030 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Mon, 31 Dec 2029 23:59:00 GMT', now)).toBe(0);
  });
});

describe('isRetryableError and retryAfterOf', () => {
  it('classifies by status, network failure and timeout', () => {
    expect(isRetryableError(new HttpStatusError(429, ''))).toBe(true);
    expect(isRetryableError(new HttpStatusError(500, ''))).toBe(true);
    expect(isRetryableError(new HttpStatusError(599, ''))).toBe(true);
    expect(isRetryableError(new HttpStatusError(403, ''))).toBe(false);
    expect(isRetryableError({ status: 503 })).toBe(true);
    expect(isRetryableError(new NetworkError('reset'))).toBe(true);
    expect(isRetryableError(new DOMException('timed out', 'TimeoutError'))).toBe(true);
    expect(isRetryableError(new Error('other'))).toBe(false);
    expect(isRetryableError('a string')).toBe(false);
  });

  it('finds no Retry-After where there is none', () => {
    expect(retryAfterOf(new HttpStatusError(429, ''))).toBeUndefined();
    expect(retryAfterOf({ status: 429, response: { headers: {} } })).toBeUndefined();
    expect(retryAfterOf(undefined)).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  it('never exceeds maxDelayMs, even for late retries', () => {
    expect(backoffDelay(60, { baseDelayMs: 500, maxDelayMs: 8000 }, () => 0.999999)).toBe(7999);
    expect(backoffDelay(1, { baseDelayMs: 500, maxDelayMs: 8000 }, () => 0)).toBe(0);
  });
});
