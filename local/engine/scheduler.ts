// The local stand-in for EventBridge Scheduler: TTL schedules are rows in the store, and
// whoever runs this (`stepform serve`, the demo) starts the destroy workflow for each one
// that is due, including those that came due while nothing was running. The destroy run is
// the one EventBridge Scheduler starts on AWS (core/ttl.ts).
import type { RunContext } from '../../core/contracts/workflow-input.ts';
import { scheduledDestroyRun } from '../../core/ttl.ts';
import type { RunOutcome } from './engine.ts';
import { LocalEngine } from './local-engine.ts';
import type { LocalSchedule } from './store/sqlite-schedules.ts';

export interface FiredSchedule {
  readonly schedule: LocalSchedule;
  readonly run: RunContext;
  readonly outcome: Promise<RunOutcome>;
}

/**
 * Starts a destroy run for every due schedule this process manages to claim (a claim is a
 * conditional write, so two schedulers never fire the same schedule twice).
 */
export function fireDueSchedules(
  engine: LocalEngine,
  now: Date,
  runOptions: Parameters<LocalEngine['run']>[1] = {},
): FiredSchedule[] {
  const fired: FiredSchedule[] = [];
  const { schedules } = engine.stores;
  for (const schedule of schedules.due(now)) {
    if (!schedules.claim(schedule.environment, schedule.projectDir, schedule.fireAt)) continue;
    const run = scheduledDestroyRun(schedule);
    fired.push({ schedule, run, outcome: engine.run(run, runOptions) });
  }
  return fired;
}

/** Checks for due schedules every `intervalMs` until the signal aborts. */
export function startScheduler(
  engine: LocalEngine,
  options: {
    intervalMs: number;
    signal: AbortSignal;
    onFired?: (fired: FiredSchedule) => void;
    runOptions?: Parameters<LocalEngine['run']>[1];
  },
): void {
  if (options.signal.aborted) return;
  const tick = () => {
    if (options.signal.aborted) return;
    for (const fired of fireDueSchedules(engine, new Date(), options.runOptions))
      options.onFired?.(fired);
  };
  tick();
  const timer = setInterval(tick, options.intervalMs);
  options.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}
