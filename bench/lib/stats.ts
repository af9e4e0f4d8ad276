// Small statistics for benchmark samples, and the number formats the tables use. Pure.

export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
}

function sorted(values: readonly number[]): number[] {
  if (values.length === 0) throw new Error('no samples');
  for (const value of values) {
    if (!Number.isFinite(value)) throw new Error(`not a finite sample: ${String(value)}`);
  }
  return [...values].sort((a, b) => a - b);
}

/** The middle value; the mean of the two middle values when the count is even. */
export function median(values: readonly number[]): number {
  const s = sorted(values);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** The p-th percentile (0..100), linear between the closest ranks. */
export function percentile(values: readonly number[], p: number): number {
  if (p < 0 || p > 100) throw new Error(`percentile out of range: ${p}`);
  const s = sorted(values);
  const rank = (p / 100) * (s.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  const lowValue = s[low] ?? 0;
  return lowValue + ((s[high] ?? lowValue) - lowValue) * (rank - low);
}

export function summarize(values: readonly number[]): Summary {
  const s = sorted(values);
  return {
    n: s.length,
    median: median(s),
    min: s[0] ?? 0,
    max: s[s.length - 1] ?? 0,
    mean: s.reduce((sum, value) => sum + value, 0) / s.length,
  };
}

/** a / b, refusing a zero or negative denominator. */
export function ratio(a: number, b: number): number {
  if (!(b > 0)) throw new Error(`ratio with a denominator of ${b}`);
  return a / b;
}

/** Sums the values of each key over several records (missing keys count as 0). */
export function sumByKey(
  records: readonly Readonly<Record<string, number>>[],
): Record<string, number> {
  const total: Record<string, number> = {};
  for (const record of records) {
    for (const [key, value] of Object.entries(record)) total[key] = (total[key] ?? 0) + value;
  }
  return total;
}

/** The median of each key over several records; a key missing from a record counts as 0. */
export function medianByKey(
  records: readonly Readonly<Record<string, number>>[],
): Record<string, number> {
  const keys = [...new Set(records.flatMap((record) => Object.keys(record)))];
  return Object.fromEntries(keys.map((key) => [key, median(records.map((r) => r[key] ?? 0))]));
}

// ---- formats ----

export const seconds = (ms: number, digits = 2): string => `${(ms / 1000).toFixed(digits)} s`;
export const millis = (ms: number): string => `${Math.round(ms)} ms`;
export const times = (value: number, digits = 2): string => `${value.toFixed(digits)}×`;
export const mebibytes = (bytes: number, digits = 1): string =>
  `${(bytes / 1024 / 1024).toFixed(digits)} MiB`;

/** Dollars with enough digits to show sub-cent amounts. */
export function dollars(value: number): string {
  if (value === 0) return '$0';
  if (Math.abs(value) >= 1) return `$${value.toFixed(2)}`;
  if (Math.abs(value) >= 0.01) return `$${value.toFixed(4)}`;
  return `$${value.toPrecision(3)}`;
}

/** "median (min–max)" in seconds. */
export function spread(summary: Summary, digits = 2): string {
  return `${seconds(summary.median, digits)} (${(summary.min / 1000).toFixed(digits)}–${(summary.max / 1000).toFixed(digits)})`;
}
