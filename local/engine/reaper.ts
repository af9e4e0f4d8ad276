// Runs whose process died (a killed CLI, a closed terminal, a crash) are found by the next
// command and closed: whatever their job left running is stopped, their work folder removed,
// their lock released and their approval expired, the run ended `failed` (RunInterrupted),
// and everyone told. Locks left by runs that ended are released too. So no
// lock outlives its holder and no run stays `running` after its process is gone.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RUN_INPUT } from '../../core/contracts/workflow-input.ts';
import { releaseLeftoverLock, releaseRunLeftovers } from '../../core/steps.ts';
import { noteRunEnded } from './audit-notes.ts';
import { notifyEnded } from './notifier.ts';
import type { StepformHome } from './home.ts';
import type { LocalNotifier } from './notifier.ts';
import { type StopTimings, groupAlive, isRunHolderGone, stopGroup } from './processes.ts';
import type { LocalStores } from './store/local-stores.ts';
import type { RunRow } from './store/sqlite-runs.ts';

export interface ReaperContext {
  readonly home: StepformHome;
  readonly stores: LocalStores;
  readonly notifier: LocalNotifier;
  readonly now: () => Date;
  readonly print: (line: string) => void;
  readonly stopTimings?: StopTimings;
  /** Skip the git note (tests of stores without a repository). */
  readonly auditNotes?: boolean;
}

export interface ReapedRun {
  readonly run: RunRow;
  readonly message: string;
}

/** Closes every interrupted run; returns those this call closed. */
export async function reapInterruptedRuns(ctx: ReaperContext): Promise<ReapedRun[]> {
  const reaped: ReapedRun[] = [];
  for (const held of ctx.stores.runs.running()) {
    const { run, holder, jobGroup } = held;
    if (!isRunHolderGone(run, holder, ctx.now())) continue;
    // Its job may still be changing the state: stopped (gracefully first) before anything
    // of the run is released.
    if (jobGroup !== undefined && groupAlive(jobGroup)) {
      await stopGroup(jobGroup, ctx.stopTimings ? { timings: ctx.stopTimings } : {});
    }
    await rm(join(ctx.home.work, run.runId), { recursive: true, force: true });
    const who = holder
      ? `its process ${holder.pid} on ${holder.host} is gone`
      : 'its process is gone';
    const message = `run ${run.runId} (${run.workflow} ${run.projectDir} in ${run.environment}) was interrupted: ${who}`;
    const now = ctx.now().toISOString();
    // Of two commands closing it at once, one does the rest.
    if (!ctx.stores.runs.finish(run.runId, 'failed', now, `RunInterrupted: ${message}`)) continue;
    const context = RUN_INPUT.safeParse({
      runId: run.runId,
      workflow: run.workflow,
      repository: run.repository,
      commit: run.commit,
      projectDir: run.projectDir,
      environment: run.environment,
    });
    const { released } = await releaseRunLeftovers(run, ctx.stores, ctx.now());
    ctx.stores.runs.addEvent({
      runId: run.runId,
      at: now,
      type: 'failed',
      state: 'Engine',
      durationMs: null,
      detail: `${message}; closed${released ? ` and its lock on ${run.environment} released` : ''}`,
    });
    if (context.success) {
      await notifyEnded(
        context.data,
        'failed',
        { name: 'RunInterrupted', message },
        { notifier: ctx.notifier, now: ctx.now },
      );
    }
    if (ctx.auditNotes !== false) {
      const phases = ctx.stores.outbox.list(run.runId).map((o) => o.phase);
      await noteRunEnded(run, { status: 'failed', phases, finishedAt: now }).catch(() => undefined);
    }
    ctx.print(
      `${message}; closed it${released ? `, taking its lock on ${run.environment} over` : ''}`,
    );
    reaped.push({ run, message });
  }
  await releaseLocksOfEndedRuns(ctx);
  await removeOrphanWork(ctx);
  return reaped;
}

/**
 * A lock whose run has ended is left over (its process died between the two writes): every
 * lock of that run in its environment is released.
 */
async function releaseLocksOfEndedRuns(ctx: ReaperContext): Promise<void> {
  for (const lock of ctx.stores.locks.list()) {
    const owner = ctx.stores.runs.get(lock.owner);
    if (owner === undefined || owner.status === 'running') continue;
    if (await releaseLeftoverLock(ctx.stores.locks, owner, ctx.now())) {
      ctx.print(
        `released the locks on ${lock.environment} left by run ${owner.runId}, which ended`,
      );
    }
  }
}

/** Work folders of runs that are not running (a job killed before it could clean up). */
async function removeOrphanWork(ctx: ReaperContext): Promise<void> {
  const folders = await readdir(ctx.home.work).catch(() => [] as string[]);
  for (const name of folders) {
    if (ctx.stores.runs.get(name)?.status === 'running') continue;
    await rm(join(ctx.home.work, name), { recursive: true, force: true });
  }
}
