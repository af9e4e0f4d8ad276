// This machine's processes, as the local engine needs them: who this process is (a run's
// holder), whether a recorded holder still runs, and stopping a job's process group (the
// executor and every Terraform it started) gracefully, then for good.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type LivenessCheck,
  type ProcessHolder,
  type ProcessProbe,
  isHolderGone,
} from '../../core/liveness.ts';

/**
 * The start time of a process, in clock ticks since boot (field 22 of /proc/PID/stat): a pid
 * reused by a later process has another. null where /proc does not exist (macOS).
 */
export function processIdentity(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from its end.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function signalled(target: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(target, signal);
    return true;
  } catch (error) {
    // EPERM: it exists, and belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function probeProcess(pid: number, identity: string | null): ProcessProbe {
  if (!signalled(pid, 0)) return 'gone';
  if (identity === null) return 'unknown';
  const now = processIdentity(pid);
  if (now === null) return 'unknown';
  return now === identity ? 'alive' : 'gone';
}

export function thisProcess(now: Date): ProcessHolder {
  return {
    host: hostname(),
    pid: process.pid,
    identity: processIdentity(process.pid),
    heartbeatAt: now.toISOString(),
  };
}

export function livenessCheck(now: Date): LivenessCheck {
  return { now, host: hostname(), probe: probeProcess };
}

/** Whether the process holding a running run is gone, asked of this machine (core/liveness.ts). */
export function isRunHolderGone(
  run: { readonly startedAt: string },
  holder: ProcessHolder | undefined,
  now = new Date(),
): boolean {
  return isHolderGone(holder, run.startedAt, livenessCheck(now));
}

/** Whether any process of the group still runs. */
export function groupAlive(pgid: number): boolean {
  return signalled(-pgid, 0);
}

async function waitGone(pgid: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (groupAlive(pgid)) {
    if (performance.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

export interface StopTimings {
  /** After SIGINT (Terraform finishes its current operations and releases its state lock). */
  readonly interruptMs: number;
  /** After SIGTERM. SIGKILL follows. */
  readonly terminateMs: number;
}

export const STOP_TIMINGS: StopTimings = { interruptMs: 60_000, terminateMs: 10_000 };

/**
 * Stops every process of a group and returns once none is left: SIGINT, then SIGTERM to the
 * group, then SIGKILL, each after its wait (bounded: SIGKILL cannot be refused). The SIGINT
 * goes to the leader alone while it lives (the executor stops its Terraform gracefully; a
 * Terraform interrupted twice stops at once), else to the group (a Terraform left behind).
 * `force` starts at SIGKILL.
 */
export async function stopGroup(
  pgid: number,
  options: { timings?: StopTimings; force?: boolean } = {},
): Promise<void> {
  const timings = options.timings ?? STOP_TIMINGS;
  if (!groupAlive(pgid)) return;
  if (!options.force) {
    const interrupt = signalled(pgid, 0) ? pgid : -pgid;
    if (!signalled(interrupt, 'SIGINT') || (await waitGone(pgid, timings.interruptMs))) return;
    if (!signalled(-pgid, 'SIGTERM') || (await waitGone(pgid, timings.terminateMs))) return;
  }
  signalled(-pgid, 'SIGKILL');
  await waitGone(pgid, 10_000);
}
