// The local stand-in for the recurring drift schedule: `stepform serve` reads stepform.yaml's
// drift.schedule and, each time it comes due, starts one drift run per environment it names,
// as EventBridge Scheduler starts the drift workflow on AWS. The expression and its next fire
// time are core's (core/drift-schedule.ts); what a fire starts is the caller's.
import { type DriftScheduleExpression, nextFireTime } from '../../core/drift-schedule.ts';

/**
 * The next fire time of one expression, counted from `since` (a rate counts whole intervals
 * from it). Fires that came due while nothing looked (a sleeping laptop) are one fire, not a
 * burst of them.
 */
export class DriftSchedule {
  readonly expression: DriftScheduleExpression;
  readonly #since: Date;
  #next: Date | undefined;

  constructor(expression: DriftScheduleExpression, since: Date) {
    this.expression = expression;
    this.#since = since;
    this.#next = nextFireTime(expression, since, since);
  }

  /** When it fires next; undefined once it never fires again (a cron of past years). */
  get next(): Date | undefined {
    return this.#next;
  }

  /** True when a fire time has come by `now`; the next one is then counted from `now`. */
  due(now: Date): boolean {
    if (this.#next === undefined || now.getTime() < this.#next.getTime()) return false;
    this.#next = nextFireTime(this.expression, now, this.#since);
    return true;
  }
}

/**
 * Looks every `intervalMs` whether the schedule is due (by `now`, injectable for tests) and
 * then calls `fire` with the environments, until the signal aborts. A fire still running
 * when the next comes due is not started twice: that fire is skipped (onSkipped says so).
 */
export function startDriftScheduler(options: {
  readonly schedule: DriftSchedule;
  readonly environments: readonly string[];
  readonly fire: (environments: readonly string[], at: Date) => Promise<unknown>;
  readonly intervalMs: number;
  readonly signal: AbortSignal;
  readonly now?: () => Date;
  readonly onSkipped?: (at: Date) => void;
}): void {
  if (options.signal.aborted) return;
  const now = options.now ?? (() => new Date());
  let running: Promise<unknown> | undefined;
  const tick = () => {
    if (options.signal.aborted) return;
    const at = now();
    if (!options.schedule.due(at)) return;
    if (running !== undefined) {
      options.onSkipped?.(at);
      return;
    }
    // The caller reports a fire's failure; the schedule goes on all the same.
    running = options
      .fire(options.environments, at)
      .catch(() => undefined)
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, options.intervalMs);
  options.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}
