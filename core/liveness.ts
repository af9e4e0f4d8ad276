// Whether the process that runs a run is still there. Locally a run is held by the CLI process
// that runs its engine: it records who it is (host, pid, and what tells its pid from a reused
// one) and a heartbeat it renews while it lives. A run whose holder is gone is interrupted:
// its lock is stale and the next command takes it over. Pure.

/** Who holds a run: the process running its engine. */
export interface ProcessHolder {
  readonly host: string;
  readonly pid: number;
  /** What tells this process from a later one given the same pid (its start time), if known. */
  readonly identity: string | null;
  /** ISO-8601: renewed every HEARTBEAT_INTERVAL_MS while the holder lives. */
  readonly heartbeatAt: string;
}

export const HEARTBEAT_INTERVAL_MS = 10_000;

/**
 * A heartbeat older than this means the holder is gone when nothing else can tell (another
 * host, a platform without process identities): many missed beats, so a busy or briefly
 * suspended process is never taken for dead.
 */
export const HEARTBEAT_STALE_MS = 5 * 60_000;

/** What the machine says about a pid: a process with that identity runs, none does, or unknown. */
export type ProcessProbe = 'alive' | 'gone' | 'unknown';

export interface LivenessCheck {
  readonly now: Date;
  /** This machine's host name. */
  readonly host: string;
  /** Asks this machine about a process (only for holders on this host). */
  readonly probe: (pid: number, identity: string | null) => ProcessProbe;
}

/**
 * Whether a run's holder is gone. On this host the process table decides (a dead pid, or a
 * pid now used by another process); elsewhere, or when the table cannot tell, a heartbeat
 * older than HEARTBEAT_STALE_MS. A run with no holder at all (recorded by a version that kept
 * none, or dead before it recorded one) is gone once it is that old.
 */
export function isHolderGone(
  holder: ProcessHolder | undefined,
  startedAt: string,
  check: LivenessCheck,
): boolean {
  const ageMs = (iso: string) => check.now.getTime() - Date.parse(iso);
  if (holder === undefined) return ageMs(startedAt) > HEARTBEAT_STALE_MS;
  if (holder.host === check.host) {
    const probed = check.probe(holder.pid, holder.identity);
    if (probed !== 'unknown') return probed === 'gone';
  }
  return ageMs(holder.heartbeatAt) > HEARTBEAT_STALE_MS;
}
