// What the run console reads, as one narrow interface: the pages and the event streams ask
// only this, so another source (a deployed stack's tables, bucket and executions, for a
// read-only `serve --stack`) can stand in for the local engine's store later.
/* eslint-disable @typescript-eslint/require-await -- node:sqlite is synchronous; the interface is async for other sources */
import { existsSync, readdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { type ApprovalRecord, withoutSecrets } from '../../core/approval.ts';
import { LOG_FILE } from '../../core/contracts/job-result.ts';
import type { LockRecord } from '../../core/locks.ts';
import type { EnvironmentRecord, LastGoodCommit } from '../../core/ports.ts';
import { type ShownPlan, runPlanDiffs } from '../engine/plan-diffs.ts';
import type { LocalStores } from '../engine/store/local-stores.ts';
import type { LocalSchedule } from '../engine/store/sqlite-schedules.ts';
import type { RunEventRow, RunRow } from '../engine/store/sqlite-runs.ts';

export type RunEvent = Omit<RunEventRow, 'runId' | 'seq'>;

export interface EnvironmentsView {
  readonly locks: readonly LockRecord[];
  readonly schedules: readonly LocalSchedule[];
  readonly lastGood: readonly (LastGoodCommit & { environment: string; projectDir: string })[];
  readonly environments: readonly EnvironmentRecord[];
}

/** A piece of a job's log from a byte offset, and where the next read starts. */
export interface LogChunk {
  readonly text: string;
  readonly next: number;
}

export interface ConsoleSource {
  /** Newest first. */
  runs(limit: number): Promise<readonly RunRow[]>;
  run(runId: string): Promise<RunRow | undefined>;
  events(runId: string): Promise<readonly RunEvent[]>;
  /** The run's newest approval, without its task token. */
  approval(runId: string): Promise<ApprovalRecord | undefined>;
  planDiffs(run: RunRow): Promise<readonly ShownPlan[]>;
  /** The names of the run's job logs (their folder in the run's artifacts, e.g. `plan`). */
  logNames(runId: string): Promise<readonly string[]>;
  readLog(runId: string, name: string, from: number): Promise<LogChunk>;
  environments(): Promise<EnvironmentsView>;
}

/** The most of a log read at once: a page shows the tail of a longer one. */
export const LOG_READ_LIMIT = 256 * 1024;

/** The length of `bytes` cut after its last whole UTF-8 character. */
export function wholeCharacters(bytes: Uint8Array): number {
  let end = bytes.length;
  let continuation = 0;
  while (end > 0 && continuation < 3 && ((bytes[end - 1] ?? 0) & 0xc0) === 0x80) {
    end -= 1;
    continuation += 1;
  }
  if (end === 0) return bytes.length;
  const lead = bytes[end - 1] ?? 0;
  const size = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return size === continuation + 1 ? bytes.length : end - 1;
}

/** Where a read of a log of `size` bytes from `from` starts: a tail when there is more than one read's worth, never before `from`. */
export function tailStart(size: number, from: number): number {
  return Math.max(from, size - LOG_READ_LIMIT);
}

/** The text of `bytes` read from `start` (asked from `from`): whole characters only. */
export function logChunk(bytes: Uint8Array, start: number, from: number): LogChunk {
  // A tail may start inside a character: from the next whole one.
  let skip = 0;
  while (start > from && skip < bytes.length && ((bytes[skip] ?? 0) & 0xc0) === 0x80) skip += 1;
  const whole = wholeCharacters(bytes);
  return { text: Buffer.from(bytes.subarray(skip, whole)).toString('utf8'), next: start + whole };
}

/** The folders under a run's artifacts that hold an executor log, two levels deep at most. */
function logFolders(runFolder: string): string[] {
  const found: string[] = [];
  const walk = (folder: string, depth: number) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const child = join(folder, entry.name);
      if (existsSync(join(child, LOG_FILE))) found.push(relative(runFolder, child));
      if (depth > 0) walk(child, depth - 1);
    }
  };
  if (existsSync(runFolder)) walk(runFolder, 1);
  return found.sort();
}

/** The local engine's store and artifacts folder as a console source. */
export function localSource(stores: LocalStores, artifactsRoot: string): ConsoleSource {
  const logPath = (runId: string, name: string): string | undefined =>
    // Only a name this source listed: never a path a request made up.
    logFolders(join(artifactsRoot, runId)).includes(name)
      ? join(artifactsRoot, runId, name, LOG_FILE)
      : undefined;
  return {
    runs: async (limit) => stores.runs.list(limit),
    run: async (runId) => stores.runs.get(runId),
    events: async (runId) => stores.runs.listEvents(runId),
    approval: async (runId) => {
      const stored = stores.approvals.forRun(runId);
      return stored === undefined ? undefined : withoutSecrets(stored);
    },
    planDiffs: async (run) => runPlanDiffs(run, artifactsRoot),
    logNames: async (runId) => logFolders(join(artifactsRoot, runId)),
    readLog: async (runId, name, from) => {
      const path = logPath(runId, name);
      if (path === undefined) return { text: '', next: from };
      const file = await open(path, 'r');
      try {
        const { size } = await file.stat();
        const start = tailStart(size, from);
        if (start >= size) return { text: '', next: Math.min(from, size) };
        const buffer = Buffer.alloc(size - start);
        const { bytesRead } = await file.read(buffer, 0, buffer.length, start);
        return logChunk(buffer.subarray(0, bytesRead), start, from);
      } finally {
        await file.close();
      }
    },
    environments: async () => ({
      locks: stores.locks.list(),
      schedules: stores.schedules.list(),
      lastGood: stores.records.listLastGood(),
      environments: stores.records.listEnvironments(),
    }),
  };
}
