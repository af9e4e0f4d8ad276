// `npm run demo`: Stepform's main job, for real, on the embedded engine, in a throwaway
// repository and state folder: a plan-apply of terraform/examples/hello (auto-approved), then
// an ephemeral environment with a short TTL, which the scheduler is seen destroying.
import { CHANGE_COUNTS, formatCounts } from '../core/contracts/job-result.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { progressLine } from './cli/run-verbs.ts';
import type { RunOutcome } from './engine/engine.ts';
import { LocalEngine } from './engine/local-engine.ts';
import { fireDueSchedules } from './engine/scheduler.ts';
import { HELLO_EXAMPLE, makeRepo, tempDir } from './scratch-repo.ts';

const PROJECT = 'terraform/examples/hello';
/** Far below the CLI's 1-minute minimum, so that the demo fits in a minute. */
const DEMO_TTL_SECONDS = 8;
const say = (line = '') => process.stdout.write(`${line}\n`);

function describe(outcome: RunOutcome): string {
  const { run } = outcome;
  const summary = CHANGE_COUNTS.safeParse(run.details.summary);
  const counts = summary.success ? ` ${formatCounts(summary.data)}` : '';
  return `${run.workflow} ${run.status} (${run.phase ?? '-'})${counts}`;
}

async function main(): Promise<void> {
  const started = performance.now();
  const home = await tempDir('demo');
  const repo = await makeRepo();
  const commit = await repo.commitDir(HELLO_EXAMPLE, PROJECT, 'add the hello example');
  const engine = new LocalEngine({ home, print: (line) => say(`    ${line}`) });
  const onProgress = (progress: Parameters<typeof progressLine>[0]) => {
    const line = progressLine(progress);
    if (line) say(line);
  };
  const context = LocalEngine.runsOf({
    repository: repo.dir,
    commit,
    projectDir: PROJECT,
    autoApprove: true,
    approvalTimeoutSeconds: 600,
  });
  try {
    say(
      `Stepform demo: ${PROJECT} at ${commit.slice(0, 12)} of a throwaway repository (${repo.dir})`,
    );
    say(`state, artifacts and run history in ${home}\n`);

    say(
      '1. plan-apply to "dev", auto-approved: plan, apply exactly the saved plan, record the last good commit',
    );
    const applied = await engine.run(context('plan-apply', 'dev'), { onProgress });
    say(`   => ${describe(applied)}\n`);

    say(`2. an ephemeral environment "preview" with a TTL of ${DEMO_TTL_SECONDS} s`);
    const ephemeral = await engine.run(
      context('ephemeral', 'preview', { ttlSeconds: DEMO_TTL_SECONDS }),
      { onProgress },
    );
    say(`   => ${describe(ephemeral)}`);
    const outputs = ephemeral.run.details.outputs as Record<string, { value: unknown }> | undefined;
    for (const [name, output] of Object.entries(outputs ?? {}))
      say(`      output ${name} = ${JSON.stringify(output.value)}`);
    const schedule = engine.stores.schedules.list('preview')[0];
    say(`      destroy scheduled at ${schedule?.fireAt ?? '?'}\n`);

    say(
      '3. the scheduler (what `stepform serve` runs) waits for the TTL and starts the destroy workflow',
    );
    let destroyed: RunOutcome | undefined;
    while (!destroyed) {
      const fired = fireDueSchedules(engine, new Date(), { onProgress });
      if (fired[0]) destroyed = await fired[0].outcome;
      else await sleep(500);
    }
    const environment = engine.stores.records.getEnvironment('preview', PROJECT);
    say(`   => ${describe(destroyed)}; environment "preview" is ${environment?.status ?? '?'}\n`);

    say(
      `Done in ${((performance.now() - started) / 1000).toFixed(1)} s. Every run is in the history:`,
    );
    for (const run of engine.stores.runs.list()) {
      say(
        `  ${run.runId}  ${run.workflow.padEnd(10)} ${run.environment.padEnd(8)} ${run.status.padEnd(9)} ${run.phase ?? ''}`,
      );
    }
    say(
      `\nSee one run's states: STEPFORM_HOME=${home} npx stepform logs ${applied.run.runId} --repo ${repo.dir}`,
    );
    say(`Audit notes: git -C ${repo.dir} log --notes=stepform -1`);
    if (
      applied.status !== 'succeeded' ||
      ephemeral.status !== 'succeeded' ||
      destroyed.status !== 'succeeded'
    ) {
      process.exitCode = 1;
    }
  } finally {
    engine.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
