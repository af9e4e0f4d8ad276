// `npm run demo`: Stepform's main job, for real, in a throwaway repository and state folder.
// Until the local engine lands, it drives the executor directly: plan the example, apply
// exactly that saved plan, and plan again to show nothing is left to do.
import { join } from 'node:path';
import type { JobInput } from '../executor-image/src/job.ts';
import type { JobResult } from '../executor-image/src/run-job.ts';
import { type ExecutorRun, runExecutorProcess } from './executor-process.ts';
import { HELLO_EXAMPLE, makeRepo, tempDir } from './scratch-repo.ts';

const PROJECT = 'terraform/examples/hello';
const say = (line = '') => process.stdout.write(`${line}\n`);

function describeSummary(result: JobResult): string[] {
  const s = result.summary;
  if (!s) return [];
  const lines = [
    `  plan: +${s.add} ~${s.change} -${s.destroy}${s.replace ? ` (${s.replace} replaced)` : ''}`,
  ];
  for (const r of s.resources) lines.push(`    ${r.action.padEnd(8)} ${r.address}`);
  return lines;
}

async function step(title: string, job: JobInput): Promise<JobResult> {
  say(`\n== ${title}`);
  const started = performance.now();
  const ran: ExecutorRun = await runExecutorProcess(job);
  const result = ran.result;
  if (ran.exitCode !== 0 || !result) {
    say(ran.stdout);
    process.stderr.write(ran.stderr);
    throw new Error(`${job.verb} failed: ${result?.error?.message ?? `exit ${ran.exitCode}`}`);
  }
  for (const line of describeSummary(result)) say(line);
  if (result.plan) say(`  saved plan sha256 ${result.plan.sha256}`);
  for (const [name, output] of Object.entries(result.outputs ?? {})) {
    say(`  output ${name} = ${JSON.stringify(output.value)}`);
  }
  say(
    `  ${result.status} in ${((performance.now() - started) / 1000).toFixed(1)} s; log: ${result.artifacts.log}`,
  );
  return result;
}

async function main(): Promise<void> {
  const root = await tempDir('demo');
  const repo = await makeRepo();
  const commit = await repo.commitDir(HELLO_EXAMPLE, PROJECT, 'add the hello example');
  say(`Stepform demo: ${PROJECT} at commit ${commit.slice(0, 12)} of a throwaway repository`);
  say(`  repository ${repo.dir}`);
  say(`  state and artifacts under ${root}`);
  const job = (runId: string, verb: 'plan' | 'destroy') => ({
    runId,
    verb,
    repository: repo.dir,
    commit,
    projectDir: PROJECT,
    environment: 'demo',
    backend: { type: 'local' as const, stateDir: join(root, 'state') },
    artifactsDir: join(root, 'artifacts', runId),
  });

  const plan = await step('plan (empty state)', job('demo-1-plan', 'plan'));
  const sha256 = plan.plan?.sha256 ?? '';
  await step('apply the saved plan, after checking its digest, commit and state', {
    ...job('demo-2-apply', 'plan'),
    verb: 'apply',
    plan: { dir: join(root, 'artifacts', 'demo-1-plan'), sha256 },
  });
  const again = await step('plan again', job('demo-3-plan', 'plan'));
  say(
    again.hasChanges
      ? '  unexpected: changes left after apply'
      : '  no changes: the apply did exactly what was planned',
  );
  say(
    '\nThe sensitive output `secret` stays masked everywhere: result, log, plan text and stdout.',
  );
  say(`Clean up with: rm -rf ${root} ${repo.dir}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
