// The drift schedule of stepform.yaml (`drift.schedule`): an EventBridge Scheduler recurring
// expression, `rate(6 hours)` or `cron(0 6 * * ? *)`, parsed once and answered with the next
// time it fires. EventBridge Scheduler fires it on AWS (the expression is passed as written);
// `stepform serve` fires it locally from nextFireTime, so both read the same syntax. Times are
// UTC, as the schedule the CLI writes says (ScheduleExpressionTimezone: UTC). Pure.
import { InvalidInput } from './errors.ts';

export type DriftScheduleExpression =
  | { readonly kind: 'rate'; readonly text: string; readonly everyMs: number }
  | { readonly kind: 'cron'; readonly text: string; readonly fields: CronFields };

/** The values each field allows, as sets; `dayOfMonth`/`dayOfWeek` undefined for `?`. */
export interface CronFields {
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly dayOfMonth?: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 1 = Sunday ... 7 = Saturday, as AWS numbers them. */
  readonly dayOfWeek?: ReadonlySet<number>;
  readonly years: ReadonlySet<number>;
}

const RATE_UNITS_MS: Readonly<Record<string, number>> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

const MONTH_NAMES = [
  'JAN',
  'FEB',
  'MAR',
  'APR',
  'MAY',
  'JUN',
  'JUL',
  'AUG',
  'SEP',
  'OCT',
  'NOV',
  'DEC',
];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names standing for min, min+1, ... (months, days of the week). */
  readonly names?: readonly string[];
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'minutes', min: 0, max: 59 },
  { name: 'hours', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { name: 'day-of-week', min: 1, max: 7, names: DAY_NAMES },
  { name: 'year', min: 1970, max: 2199 },
];

/**
 * `rate(value unit)`: a whole number of minutes, hours or days, the unit singular for 1 and
 * plural otherwise (EventBridge Scheduler refuses `rate(1 hours)` and `rate(2 hour)`).
 */
function parseRate(text: string, inner: string, field: string): DriftScheduleExpression {
  const match = /^(\d{1,6}) (minute|hour|day)(s?)$/.exec(inner);
  if (!match) {
    throw new InvalidInput(
      field,
      `${text} is not a rate: write rate(N minutes|hours|days), such as rate(6 hours)`,
    );
  }
  const value = Number(match[1]);
  const unit = match[2] ?? '';
  if (value < 1) throw new InvalidInput(field, `${text}: the rate must be at least 1`);
  if ((value === 1) !== (match[3] === '')) {
    throw new InvalidInput(
      field,
      `${text}: the unit is singular for 1 and plural otherwise (rate(1 ${unit}), rate(2 ${unit}s))`,
    );
  }
  return { kind: 'rate', text, everyMs: value * (RATE_UNITS_MS[unit] ?? 0) };
}

/** One value of a field: a number or (months, days) a name; InvalidInput naming the field. */
function fieldValue(spec: FieldSpec, token: string, field: string, text: string): number {
  const named = spec.names?.indexOf(token.toUpperCase()) ?? -1;
  const number = /^\d{1,4}$/.test(token) ? Number(token) : Number.NaN;
  const value = named >= 0 ? spec.min + named : number;
  if (!(value >= spec.min && value <= spec.max)) {
    const names = spec.names ? ` or ${spec.names.join(', ')}` : '';
    throw new InvalidInput(
      field,
      `${text}: ${spec.name} must be from ${spec.min} to ${spec.max}${names}, not "${token}"`,
    );
  }
  return value;
}

/** A field's set: `*`, lists, ranges and steps (`0,30`, `MON-FRI`, `*\/15`, `5/10`). */
function parseField(spec: FieldSpec, source: string, field: string, text: string): Set<number> {
  // Names (MON, JUL...) may hold an L or a W; AWS's L, W and # are what is left after them.
  const withoutNames = spec.names ? source.replace(/[A-Z]{3}/gi, '') : source;
  if (/[LW#]/i.test(withoutNames)) {
    throw new InvalidInput(
      field,
      `${text}: ${spec.name} "${source}" uses L, W or #, which Stepform does not support: list the days instead`,
    );
  }
  const values = new Set<number>();
  for (const part of source.split(',')) {
    const [range = '', stepText, extra] = part.split('/');
    if (extra !== undefined || range === '')
      throw new InvalidInput(field, `${text}: ${spec.name} "${source}" is not a cron field`);
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!(Number.isInteger(step) && step >= 1) || stepText === '') {
      const shown = stepText ?? '';
      throw new InvalidInput(field, `${text}: ${spec.name} step "${shown}" must be at least 1`);
    }
    let from: number;
    let to: number;
    if (range === '*') {
      from = spec.min;
      to = spec.max;
    } else {
      const [low = '', high] = range.split('-');
      from = fieldValue(spec, low, field, text);
      // `5/10`: from 5 to the end, every 10.
      const end = stepText === undefined ? from : spec.max;
      to = high === undefined ? end : fieldValue(spec, high, field, text);
      if (to < from)
        throw new InvalidInput(field, `${text}: ${spec.name} range "${range}" runs backwards`);
    }
    for (let value = from; value <= to; value += step) values.add(value);
  }
  return values;
}

type Six<T> = [T, T, T, T, T, T];

/**
 * `cron(minutes hours day-of-month month day-of-week year)`, AWS's six fields: exactly one of
 * day-of-month and day-of-week is `?` (AWS refuses both or neither). L, W and # are refused
 * with a message saying so.
 */
function parseCron(text: string, inner: string, field: string): DriftScheduleExpression {
  const parts = inner.split(' ').filter((part) => part !== '');
  if (parts.length !== 6) {
    throw new InvalidInput(
      field,
      `${text}: a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), not ${parts.length}`,
    );
  }
  const [minutes, hours, dayOfMonth, month, dayOfWeek, year] = parts as Six<string>;
  if ((dayOfMonth === '?') === (dayOfWeek === '?'))
    throw new InvalidInput(
      field,
      `${text}: exactly one of day-of-month and day-of-week must be "?"`,
    );
  const [m, h, dom, mon, dow, y] = FIELDS as Six<FieldSpec>;
  const read = (spec: FieldSpec, source: string) => parseField(spec, source, field, text);
  const fields: CronFields = {
    minutes: read(m, minutes),
    hours: read(h, hours),
    ...(dayOfMonth === '?' ? {} : { dayOfMonth: read(dom, dayOfMonth) }),
    months: read(mon, month),
    ...(dayOfWeek === '?' ? {} : { dayOfWeek: read(dow, dayOfWeek) }),
    years: read(y, year),
  };
  return { kind: 'cron', text, fields };
}

/** `rate(...)` or `cron(...)`; anything else (at() included: drift recurs) is InvalidInput. */
export function parseDriftSchedule(
  text: string,
  field = 'drift.schedule',
): DriftScheduleExpression {
  const match = /^(rate|cron)\((.*)\)$/.exec(text);
  if (!match) {
    throw new InvalidInput(
      field,
      `"${text}" is not a recurring schedule: write rate(6 hours) or cron(0 6 * * ? *)`,
    );
  }
  const [, kind, inner = ''] = match;
  return kind === 'rate' ? parseRate(text, inner, field) : parseCron(text, inner, field);
}

/** Does the cron expression fire on this UTC day? */
function dayMatches(fields: CronFields, at: Date): boolean {
  if (!fields.years.has(at.getUTCFullYear()) || !fields.months.has(at.getUTCMonth() + 1))
    return false;
  if (fields.dayOfMonth !== undefined) return fields.dayOfMonth.has(at.getUTCDate());
  return fields.dayOfWeek?.has(at.getUTCDay() + 1) ?? false;
}

const MINUTE_MS = 60_000;

/**
 * The first time a cron expression fires strictly after `after` (whole minutes, UTC), or
 * undefined when it never fires again (its years are past). Skips whole days and hours that
 * cannot match, so a yearly expression costs a few hundred steps, not half a million.
 */
function nextCronTime(fields: CronFields, after: Date): Date | undefined {
  const lastYear = Math.max(...fields.years);
  const at = new Date(Math.floor(after.getTime() / MINUTE_MS) * MINUTE_MS + MINUTE_MS);
  while (at.getUTCFullYear() <= lastYear) {
    if (!dayMatches(fields, at)) {
      at.setUTCHours(24, 0, 0, 0);
    } else if (!fields.hours.has(at.getUTCHours())) {
      at.setUTCHours(at.getUTCHours() + 1, 0, 0, 0);
    } else if (!fields.minutes.has(at.getUTCMinutes())) {
      at.setTime(at.getTime() + MINUTE_MS);
    } else {
      return at;
    }
  }
  return undefined;
}

/**
 * When the schedule fires next, strictly after `after`. A rate counts from `since` (when the
 * schedule was set up: on AWS its creation, locally the start of `stepform serve`), in whole
 * intervals, as EventBridge Scheduler counts it from the schedule's creation.
 */
export function nextFireTime(
  schedule: DriftScheduleExpression,
  after: Date,
  since: Date = after,
): Date | undefined {
  if (schedule.kind === 'cron') return nextCronTime(schedule.fields, after);
  const elapsed = after.getTime() - since.getTime();
  const intervals = elapsed < 0 ? 0 : Math.floor(elapsed / schedule.everyMs) + 1;
  return new Date(since.getTime() + intervals * schedule.everyMs);
}

/** EventBridge Scheduler writes a new id for each invocation where its input says this. */
export const SCHEDULER_EXECUTION_ID = '<aws.scheduler.execution-id>';
/**
 * Room left for the invocation id in a run id, which is also the execution's name (at most 80
 * characters): Scheduler's documented example is 16 hex digits; a UUID's 36 fit too.
 */
const EXECUTION_ID_ROOM = 40;
/** Stands for it while the run input is checked: a run id allows no "<". */
const EXECUTION_ID_SLOT = 'SCHEDULEREXECUTIONID';

/**
 * The run id of a scheduled drift run, `drift-<env>-<invocation id>`: each fire of the one
 * schedule is a run of its own. Holds the slot that scheduledRunInput fills.
 */
export function scheduledDriftRunId(environment: string, limit: number): string {
  const room = limit - 'drift--'.length - EXECUTION_ID_ROOM;
  return `drift-${environment.slice(0, room).replace(/[-_]+$/, '')}-${EXECUTION_ID_SLOT}`;
}

/** The run id as the schedule holds it: Scheduler puts its invocation id in on each fire. */
export function scheduledRunId(run: { readonly runId: string }): string {
  if (!run.runId.endsWith(EXECUTION_ID_SLOT))
    throw new InvalidInput('runId', 'is not the run id of a scheduled run');
  return run.runId.replace(EXECUTION_ID_SLOT, SCHEDULER_EXECUTION_ID);
}

/** The schedule's target input: the checked run, its run id taking Scheduler's invocation id. */
export function scheduledRunInput(run: { readonly runId: string }): string {
  return JSON.stringify({ ...run, runId: scheduledRunId(run) });
}
