// Durations as people write them (`90s`, `30m`, `4h`, `2d`, `1h30m`, `1d12h`), for TTLs and
// timeouts. Pure.
import { InvalidInput } from './errors.ts';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Units from largest to smallest: a duration names each at most once, in this order. */
const UNITS = [
  ['d', DAY],
  ['h', HOUR],
  ['m', MINUTE],
  ['s', SECOND],
] as const;

/** `1d12h`, `1h30m`, `90s`: integer amounts, units d h m s in that order, each at most once. */
const DURATION_PATTERN = /^(?:(\d{1,9})d)?(?:(\d{1,9})h)?(?:(\d{1,9})m)?(?:(\d{1,9})s)?$/;

export interface TtlBounds {
  readonly minMs: number;
  readonly maxMs: number;
}

export const DEFAULT_TTL_BOUNDS: TtlBounds = { minMs: MINUTE, maxMs: 30 * DAY };

/**
 * Parses a duration into milliseconds. Accepts integer amounts of d, h, m and s, largest
 * first, with no spaces, sign or decimals; anything else is InvalidInput naming `field`.
 */
export function parseDuration(text: string, field = 'ttl'): number {
  const match = DURATION_PATTERN.exec(text);
  if (text === '' || match === null) {
    throw new InvalidInput(
      field,
      'must be a duration such as 90s, 30m, 4h, 2d or 1h30m (whole numbers of d, h, m, s)',
    );
  }
  let total = 0;
  UNITS.forEach(([, unitMs], index) => {
    const amount = match[index + 1];
    if (amount !== undefined) total += Number(amount) * unitMs;
  });
  if (!Number.isSafeInteger(total)) throw new InvalidInput(field, 'is too long');
  return total;
}

/** Parses a TTL and checks it against the bounds (by default 1m to 30d). */
export function parseTtl(
  text: string,
  bounds: TtlBounds = DEFAULT_TTL_BOUNDS,
  field = 'ttl',
): number {
  const ms = parseDuration(text, field);
  if (ms < bounds.minMs || ms > bounds.maxMs) {
    throw new InvalidInput(
      field,
      `must be between ${formatDuration(bounds.minMs)} and ${formatDuration(bounds.maxMs)}`,
    );
  }
  return ms;
}

/**
 * Formats milliseconds compactly, largest unit first, rounded to whole seconds:
 * `1h30m`, `45s`, `2d`, `0s`.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) {
    throw new InvalidInput('duration', 'must be a non-negative number of milliseconds');
  }
  let rest = Math.round(ms / SECOND) * SECOND;
  let text = '';
  for (const [unit, unitMs] of UNITS) {
    const amount = Math.floor(rest / unitMs);
    if (amount > 0) text += `${amount}${unit}`;
    rest -= amount * unitMs;
  }
  return text === '' ? '0s' : text;
}
