// The run console over a deployed stack (`stepform serve --stack OUTPUTS.json`), read-only:
// runs from Step Functions (executions, their input and history) and the table (details,
// approvals, locks, records), plan diffs and job logs from the artifacts bucket, TTLs from
// Scheduler. The same pages as over the local engine, from the same ConsoleSource interface.
import { withoutSecrets } from '../../../core/approval.ts';
import { LOG_FILE } from '../../../core/contracts/job-result.ts';
import { parsePlanDiff } from '../../../core/plan-diff.ts';
import type { EnvironmentRecord } from '../../../core/ports.ts';
import {
  type ConsoleSource,
  type EnvironmentsView,
  type LogChunk,
  logChunk,
  tailStart,
} from '../../console/source.ts';
import { type ShownPlan, namedPlans, planDiffFiles } from '../../engine/plan-diffs.ts';
import type { LocalSchedule } from '../../engine/store/sqlite-schedules.ts';
import { type StackOperator, scheduleFolders } from './stack.ts';
import { runArtifactsFolder } from '../../../core/run.ts';
import { BATCH_ARTIFACTS_ROOT } from '../../../core/contracts/job-input.ts';

/**
 * How many runs the console lists from a stack: each is a DescribeExecution (once, when it
 * has ended) and a GetItem per refresh.
 */
export const STACK_CONSOLE_RUNS = 100;

/** How often the console's streams look at a stack: every look is a few dozen API calls. */
export const STACK_POLL_MS = 5000;

/** The run's folder in the bucket (an absolute artifacts path is under `artifacts/`). */
function runFolder(runId: string): string {
  return runArtifactsFolder(BATCH_ARTIFACTS_ROOT, runId);
}

/**
 * The destroys the TTLs of live environments will start: one schedule per ephemeral run, kept
 * under its project's folder, or under the folder its projects share (a run of several).
 */
async function schedulesOf(
  stack: StackOperator,
  records: readonly EnvironmentRecord[],
): Promise<LocalSchedule[]> {
  const live = records.filter((r) => r.status === 'active' && r.ttlExpiresAt !== null);
  const found = await Promise.all(
    scheduleFolders(live).map(async ({ environment, projectDir }) =>
      stack.aws.pendingSchedule(environment, projectDir),
    ),
  );
  return found
    .filter((schedule) => schedule !== undefined)
    .map((schedule) => ({ ...schedule, status: 'pending' as const }))
    .sort((a, b) => a.fireAt.localeCompare(b.fireAt));
}

/** How many runs' log names the console remembers (the pages list at most STACK_CONSOLE_RUNS). */
const REMEMBERED_LOG_LISTS = 2 * STACK_CONSOLE_RUNS;

export function stackConsoleSource(stack: StackOperator): ConsoleSource {
  // The job logs each run was last seen with. A log, once uploaded, stays: a name listed once
  // is read without listing the bucket again, so a look at a run costs one listing, not one
  // per log. A name not seen yet is looked for in a new listing.
  const listed = new Map<string, ReadonlySet<string>>();
  const logNames = async (runId: string): Promise<string[]> => {
    const names = (await stack.aws.artifacts.listArtifacts(runFolder(runId)))
      .filter((name) => name.endsWith(`/${LOG_FILE}`))
      .map((name) => name.slice(0, -LOG_FILE.length - 1));
    listed.delete(runId);
    listed.set(runId, new Set(names));
    // The least recently listed run is forgotten first.
    for (const oldest of listed.keys()) {
      if (listed.size <= REMEMBERED_LOG_LISTS) break;
      listed.delete(oldest);
    }
    return names;
  };
  const isLog = async (runId: string, name: string): Promise<boolean> =>
    listed.get(runId)?.has(name) === true || (await logNames(runId)).includes(name);

  return {
    runs: async (limit) => stack.runs(Math.min(limit, STACK_CONSOLE_RUNS)),
    run: async (runId) => {
      const found = await stack.find(runId);
      return found === undefined ? undefined : stack.row(found);
    },
    events: async (runId) => {
      const found = await stack.find(runId);
      return found === undefined ? [] : stack.events(found.execution.executionArn);
    },
    approval: async (runId) => {
      const stored = await stack.aws.approvals.latestForRun(runId);
      return stored === undefined ? undefined : withoutSecrets(stored);
    },
    planDiffs: async (run) => {
      const folder = runFolder(run.runId);
      const files = planDiffFiles(await stack.aws.artifacts.listArtifacts(folder));
      const plans: ShownPlan[] = [];
      for (const { project, name } of files) {
        const bytes = await stack.aws.artifacts.getArtifact(folder, name);
        if (bytes === undefined) continue;
        const where = `s3://${stack.config.artifactsBucket}/artifacts/${run.runId}/${name}`;
        plans.push({ project, diff: parsePlanDiff(Buffer.from(bytes).toString('utf8'), where) });
      }
      return namedPlans(run, plans);
    },
    logNames,
    readLog: async (runId, name, from): Promise<LogChunk> => {
      // Only a name this source listed: never a key a request made up.
      if (!(await isLog(runId, name))) return { text: '', next: from };
      const read = await stack.aws.artifacts.readArtifactFrom(
        runFolder(runId),
        `${name}/${LOG_FILE}`,
        (size) => tailStart(size, from),
      );
      if (read === undefined) return { text: '', next: from };
      if (read.from >= read.size) return { text: '', next: Math.min(from, read.size) };
      return logChunk(read.bytes, read.from, from);
    },
    environments: async (): Promise<EnvironmentsView> => {
      const [locks, environments] = await Promise.all([
        stack.aws.locks.list(),
        stack.aws.records.listEnvironments(),
      ]);
      const [lastGood, schedules] = await Promise.all([
        Promise.all(
          environments.map(async ({ environment, projectDir }) => {
            const good = await stack.aws.records.getLastGood(environment, projectDir);
            return good === undefined ? undefined : { ...good, environment, projectDir };
          }),
        ),
        schedulesOf(stack, environments),
      ]);
      return {
        locks,
        schedules,
        lastGood: lastGood.filter((good) => good !== undefined),
        environments,
      };
    },
  };
}
