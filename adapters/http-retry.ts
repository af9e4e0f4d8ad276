// Retries for the HTTP calls of the notification adapters (Slack, GitHub): 429, 5xx and
// network errors are tried again, with exponential backoff and full jitter, up to a cap; a
// Retry-After header is honoured (capped too). Pure apart from the timer of the default
// sleep, which tests replace.
import { setTimeout as delay } from 'node:timers/promises';

export interface RetryOptions {
  /** Tries in all, the first included (at least 1). */
  readonly attempts: number;
  /** The backoff before retry n (1-based) is drawn from [0, min(max, base × 2^(n-1))). */
  readonly baseDelayMs: number;
  /** No wait is longer, whatever the backoff or Retry-After says. */
  readonly maxDelayMs: number;
  /** Whether a failure is worth another try; isRetryableError by default. */
  readonly isRetryable?: (error: unknown) => boolean;
  /** The wait between tries; a fake one in tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** A number in [0, 1), for the jitter; Math.random by default. */
  readonly random?: () => number;
  /** The clock, for a Retry-After given as an HTTP date; Date.now by default. */
  readonly now?: () => number;
  /** Called before each wait, e.g. to log the retry (the error carries no URL or secret). */
  readonly onRetry?: (retry: { attempt: number; delayMs: number; error: unknown }) => void;
}

/** Four tries over at most about 12 seconds: enough for a blip, short enough for a Lambda. */
export const DEFAULT_RETRY: RetryOptions = { attempts: 4, baseDelayMs: 500, maxDelayMs: 8_000 };

/** An HTTP response that was not a success; says nothing of the URL it came from. */
export class HttpStatusError extends Error {
  override readonly name = 'HttpStatusError';
  readonly status: number;
  /** From the response's Retry-After header, when it had a usable one. */
  readonly retryAfterMs: number | undefined;

  constructor(status: number, message: string, retryAfterMs?: number) {
    super(message);
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/** The request never got a response (refused, reset, DNS, timeout). */
export class NetworkError extends Error {
  override readonly name = 'NetworkError';
  /** A system or undici error code such as ECONNREFUSED, when there was one. */
  readonly code: string | undefined;

  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599);
}

/** Milliseconds to wait from a Retry-After value: delay-seconds or an HTTP date. */
export function parseRetryAfter(
  value: string | number | null | undefined,
  nowMs: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined;
  }
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null
    ? (value as Record<string, unknown>)[name]
    : undefined;
}

/** The HTTP status an error carries (HttpStatusError, Octokit's RequestError), if any. */
export function statusOf(error: unknown): number | undefined {
  const status = field(error, 'status');
  return typeof status === 'number' && Number.isInteger(status) && status > 0 ? status : undefined;
}

/** The Retry-After of an error: HttpStatusError's, or the header of Octokit's response. */
export function retryAfterOf(error: unknown, nowMs: number = Date.now()): number | undefined {
  if (error instanceof HttpStatusError) return error.retryAfterMs;
  const headers = field(field(error, 'response'), 'headers');
  const header = field(headers, 'retry-after');
  return typeof header === 'string' || typeof header === 'number'
    ? parseRetryAfter(header, nowMs)
    : undefined;
}

/** 429, 5xx and network failures (including timeouts); nothing else. */
export function isRetryableError(error: unknown): boolean {
  const status = statusOf(error);
  if (status !== undefined) return isRetryableStatus(status);
  if (error instanceof NetworkError) return true;
  // By name, not instanceof: fetch's DOMException may come from another realm.
  const name = field(error, 'name');
  return name === 'AbortError' || name === 'TimeoutError';
}

/** The wait before retry `retry` (1-based): Retry-After if given, else full jitter; capped. */
export function backoffDelay(
  retry: number,
  options: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs'>,
  random: () => number,
  retryAfterMs?: number,
): number {
  const max = Math.max(0, options.maxDelayMs);
  if (retryAfterMs !== undefined) return Math.min(max, Math.max(0, retryAfterMs));
  const ceiling = Math.min(max, Math.max(0, options.baseDelayMs) * 2 ** Math.max(0, retry - 1));
  const fraction = Math.min(Math.max(random(), 0), 1);
  return Math.floor(fraction * ceiling);
}

/**
 * Calls `fn` (with the 1-based attempt number) until it resolves, throws something not
 * retryable, or `attempts` tries have failed; then rethrows the last error unchanged.
 */
export async function withRetries<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const attempts = Math.max(1, Math.floor(options.attempts));
  const isRetryable = options.isRetryable ?? isRetryableError;
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= attempts || !isRetryable(error)) throw error;
      const delayMs = backoffDelay(attempt, options, random, retryAfterOf(error, now()));
      options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs);
    }
  }
}
