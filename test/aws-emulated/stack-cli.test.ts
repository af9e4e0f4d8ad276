// The CLI against a deployed stack (issue 13, item 5): the real `stepform` process with
// `--stack outputs.json` (the file `cdk deploy --outputs-file` writes, here the emulated
// stack's outputs) and the AWS environment pointing at moto, as an operator's terminal would
// with credentials. One emulated stack for the file (harness.ts).
//
// Not emulated: the EventBridge rule that runs ExecutionEnded when an execution ends. Where a
// scenario needs it (cancel), the test invokes the ExecutionEnded bundle with the event the
// rule would send, as the ephemeral scenario starts what Scheduler would.
//
// With STEPFORM_SESSION_TRANSCRIPT=<file>, the commands and their output are written there.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SendTaskSuccessCommand,
} from '@aws-sdk/client-sfn';
import { GetScheduleCommand, ListSchedulesCommand } from '@aws-sdk/client-scheduler';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BATCH_ARTIFACTS_ROOT } from '../../core/contracts/job-input.ts';
import { WORKFLOWS } from '../../core/contracts/workflow-input.ts';
import { SCHEDULER_EXECUTION_ID } from '../../core/drift-schedule.ts';
import { START_EXECUTION_TARGET, scheduledExecution } from '../../adapters/aws/scheduler.ts';
import { fireSecond } from '../../core/ttl.ts';
import { keys } from '../../adapters/aws/dynamodb/table.ts';
import { executionArnOf } from '../../adapters/aws/sfn.ts';
import {
  type CliResult,
  type RunningCli,
  cliEnv,
  parseJson,
  startCli,
  waitFor,
} from '../support/cli.ts';
import { HELLO_EXAMPLE, type TestRepo, makeRepo } from '../support/repo.ts';
import { EmulatedAws, GITHUB_URL, synthesize } from './harness.ts';
import { Scenario, sleep } from './scenario.ts';

const PROJECT = 'stack';

let scratch: string;
// Undefined until beforeAll made them (afterAll stops what it made).
let aws: EmulatedAws | undefined;
let scenario: Scenario | undefined;
let repo: TestRepo;
let commit: string;
let outputsFile: string;
let env: NodeJS.ProcessEnv;
const transcript: string[] = [];
// `serve --stack`, started by the first test that reads the console (afterAll stops it).
let served: { process: RunningCli; base: string } | undefined;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'stepform-stack-cli-'));
  const outdir = join(scratch, 'cdk.out');
  const template = synthesize(outdir);
  repo = await makeRepo();
  commit = await repo.commitDir(HELLO_EXAMPLE, PROJECT);
  const stack = new EmulatedAws(template, outdir, scratch);
  aws = stack;
  await stack.start();
  stack.repositoryMirror = repo.dir;
  scenario = new Scenario(stack);
  outputsFile = join(scratch, 'outputs.json');
  await writeFile(outputsFile, JSON.stringify(stack.stackOutputs(), null, 2));
  env = cliEnv({ ...stack.awsEnvironment(), STEPFORM_S3_FORCE_PATH_STYLE: 'true', USER: 'ops' });
  Reflect.deleteProperty(env, 'STEPFORM_STACK');
}, 180_000);

afterAll(async () => {
  if (served) {
    served.process.child.kill('SIGINT');
    await served.process.done;
  }
  scenario?.destroy();
  await aws?.settled();
  await aws?.stop();
  for (const runId of scenario?.runIds ?? [])
    await rm(join(BATCH_ARTIFACTS_ROOT, runId), { recursive: true, force: true });
  const file = process.env.STEPFORM_SESSION_TRANSCRIPT;
  if (file) await writeFile(file, transcript.join('\n'));
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** The emulated stack and its observer, once beforeAll made them. */
function emulated(): EmulatedAws {
  if (!aws) throw new Error('the emulated stack did not start (see beforeAll)');
  return aws;
}
function observer(): Scenario {
  if (!scenario) throw new Error('the emulated stack did not start (see beforeAll)');
  return scenario;
}

/** `stepform ARGS --stack outputs.json`, from the clone. */
function start(args: readonly string[]): RunningCli {
  return startCli([...args, '--stack', outputsFile], { cwd: repo.dir, env });
}

function record(args: readonly string[], result: CliResult): CliResult {
  // As an operator types it: --stack where the args put it, else at the end.
  const shown = args.includes('--stack')
    ? args.map((arg) => (arg === outputsFile ? 'outputs.json' : arg))
    : [...args, '--stack', 'outputs.json'];
  transcript.push(
    `$ stepform ${shown.join(' ')}`,
    result.stdout.trimEnd(),
    ...(result.stderr.trim() === '' ? [] : [result.stderr.trimEnd()]),
    `[exit ${String(result.exitCode)}]`,
    '',
  );
  return result;
}

async function cli(args: readonly string[]): Promise<CliResult> {
  return record(args, await start(args).done);
}

/** The run id the header line of a run verb names. */
function runIdOf(output: string): string | undefined {
  return /\(run (cli-[A-Za-z0-9_-]+)\)/.exec(output)?.[1];
}

/** Waits until a watching CLI prints the approve command, and returns its run id. */
async function awaitingApproval(running: RunningCli, stdout: () => string): Promise<string> {
  await waitFor(
    () => `the approve command; stderr so far:\n${running.stderr()}\nstdout:\n${stdout()}`,
    () => (stdout().includes('approve: npx stepform approve') ? true : undefined),
    150_000,
    250,
  );
  const runId = runIdOf(stdout());
  if (!runId) throw new Error(`no run id in ${stdout()}`);
  observer().runIds.push(runId);
  return runId;
}

/** The read-only console of the stack (`serve --stack`): its base URL, started once. */
async function stackConsole(): Promise<string> {
  if (served) return served.base;
  const process = start(['serve', '--port', '0']);
  const port = await waitFor(
    () => `serve --stack listening; stderr so far:\n${process.stderr()}`,
    () =>
      /read-only console of the stack \S+ on http:\/\/127\.0\.0\.1:(\d+)/.exec(
        process.stdout(),
      )?.[1],
    60_000,
    100,
  );
  served = { process, base: `http://127.0.0.1:${port}` };
  return served.base;
}

/** A console page's status and text. */
async function page(path: string, init?: RequestInit): Promise<{ status: number; html: string }> {
  const response = await fetch(`${await stackConsole()}${path}`, init);
  return { status: response.status, html: await response.text() };
}

/** The first events of a console stream, read until `until` holds of them (or 20 s pass). */
async function streamed(path: string, until: (text: string) => boolean): Promise<string> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 20_000);
  let text = '';
  try {
    const response = await fetch(`${await stackConsole()}${path}`, { signal: controller.signal });
    const decoder = new TextDecoder();
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      if (until(text)) break;
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return text;
}

function collect(running: RunningCli): () => string {
  const chunks: Buffer[] = [];
  running.child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
  return () => Buffer.concat(chunks).toString('utf8');
}

describe('stepform --stack', () => {
  let planRunId: string;
  let appliedRunId: string;

  it('plans on the stack: progress lines, then the summary; --json gives the run', async () => {
    const text = await cli(['plan', '--dir', PROJECT, '--env', 'dev']);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(
      /^plan stack in dev at [0-9a-f]{12} \(run cli-\d{8}T\d{6}Z-[0-9a-f]{6}\)$/m,
    );
    expect(text.stdout).toContain('  … RunPlanJob');
    expect(text.stdout).toMatch(/ {2}✓ RunPlanJob \(\d+\.\d s\)/);
    expect(text.stdout).toMatch(/^run cli-\S+: succeeded \(planned\) \+3 ~0 -0/m);
    expect(text.stdout).toContain(
      `logs: npx stepform logs ${runIdOf(text.stdout)!} --stack ${outputsFile}`,
    );
    observer().runIds.push(runIdOf(text.stdout)!);

    const json = await cli(['plan', '--dir', PROJECT, '--json']);
    expect(json.exitCode).toBe(0);
    const run = parseJson(json) as Record<string, unknown>;
    expect(run).toMatchObject({
      workflow: 'plan',
      status: 'succeeded',
      environment: 'dev',
      projectDir: PROJECT,
      commit,
      phase: 'planned',
      summary: { add: 3, change: 0, destroy: 0 },
    });
    planRunId = run.runId as string;
    observer().runIds.push(planRunId);
    // It ran the stack's repository at the clone's commit.
    const execution = await observer().sfn.send(
      new DescribeExecutionCommand({
        executionArn: executionArnOf(emulated().stateMachineArn('plan'), planRunId),
      }),
    );
    expect(JSON.parse(execution.input!)).toMatchObject({ repository: GITHUB_URL, commit });
  }, 240_000);

  it('applies after an approval given from a second terminal', async () => {
    const args = ['apply', '--dir', PROJECT, '--env', 'dev'];
    const applying = start(args);
    const stdout = collect(applying);
    appliedRunId = await awaitingApproval(applying, stdout);
    expect(stdout()).toContain(
      `approve: npx stepform approve ${appliedRunId} --stack ${outputsFile}`,
    );

    const approved = await cli(['approve', appliedRunId]);
    expect(approved.exitCode).toBe(0);
    expect(approved.stdout).toBe(`run ${appliedRunId}: approved by ops@cli\n`);

    const applied = record(args, await applying.done);
    expect(applied.exitCode).toBe(0);
    expect(applied.stdout).toContain('  ✓ RequestApproval');
    expect(applied.stdout).toMatch(
      new RegExp(`^run ${appliedRunId}: succeeded \\(applied\\)`, 'm'),
    );
    expect(await observer().stateResources('dev', PROJECT)).toHaveLength(3);
  }, 300_000);

  it('lists the runs newest first and shows a run with its states and job logs', async () => {
    const runs = await cli(['runs', '--json']);
    expect(runs.exitCode).toBe(0);
    const listed = (parseJson(runs) as { runs: { runId: string; status: string; phase: string }[] })
      .runs;
    expect(listed[0]).toMatchObject({ runId: appliedRunId, status: 'succeeded', phase: 'applied' });
    expect(listed.map((r) => r.runId)).toContain(planRunId);

    const table = await cli(['runs']);
    expect(table.stdout).toMatch(
      new RegExp(`^${appliedRunId} {2}plan-apply +dev +[0-9a-f]{12} {2}succeeded +applied`, 'm'),
    );

    const logs = await cli(['logs', appliedRunId]);
    expect(logs.exitCode).toBe(0);
    expect(logs.stdout).toContain(`run ${appliedRunId}: plan-apply stack in dev at ${commit}`);
    expect(logs.stdout).toMatch(/exited +RunApplyJob \d+ ms/);
    expect(logs.stdout).toContain('job log plan/executor.log:');
    expect(logs.stdout).toContain('job log apply/executor.log:');

    // show: the plan's diff from the artifacts bucket (this repository checks no policy).
    const shown = await cli(['show', planRunId, '--json']);
    expect(shown.exitCode).toBe(0);
    const plans = (parseJson(shown) as { plans: { project: string; diff: unknown }[] }).plans;
    expect(plans.map((plan) => plan.project)).toEqual([PROJECT]);
    expect(JSON.stringify(plans[0]?.diff)).toContain('terraform_data.greeting');
    expect(parseJson(shown)).not.toHaveProperty('policy');
  }, 120_000);

  it('shows the environments and their locks', async () => {
    const envs = await cli(['envs', '--json']);
    expect(envs.exitCode).toBe(0);
    expect(parseJson(envs)).toEqual({
      environments: [
        expect.objectContaining({
          environment: 'dev',
          projectDir: PROJECT,
          status: 'active',
          lastRunId: appliedRunId,
          lastGood: expect.objectContaining({ commit, runId: appliedRunId }),
          lock: null,
        }),
      ],
    });
    const locks = await cli(['locks']);
    expect(locks.stdout).toBe('no environment is locked\n');
  }, 60_000);

  it('serves a read-only console of the stack: runs, a run with its graph, diff and logs, environments', async () => {
    const runs = await page('/');
    expect(runs.status).toBe(200);
    expect(runs.html).toContain('Read-only view of the stack Stepform');
    expect(runs.html).toContain(`href="/runs/${appliedRunId}"`);
    expect(runs.html).toContain(`href="/runs/${planRunId}"`);

    const run = await page(`/runs/${appliedRunId}`);
    expect(run.status).toBe(200);
    // The workflow graph from the ASL file, its states coloured by the execution's history.
    expect(run.html).toMatch(/<svg[^>]*>/);
    expect(run.html).toMatch(/RunApplyJob[\s\S]*succeeded/);
    // The plan's diff, read from the bucket, as Terraform shows each value.
    expect(run.html).toContain('terraform_data.greeting');
    expect(run.html).toContain('&quot;hello, world&quot;');
    expect(run.html).toContain('(sensitive value)');
    expect(run.html).not.toContain('example-secret-value');
    // Each job's log, from the bucket.
    expect(run.html).toContain('data-log="plan"');
    expect(run.html).toContain('data-log="apply"');
    expect(run.html).toContain('Apply complete!');
    // Approval decided, shown; nothing on these pages decides anything.
    expect(run.html).toContain('Approval approved by ops@cli');
    expect(run.html).not.toMatch(/<form|\/approve\?/);

    // The run's stream: a change, then each log from its start.
    const events = await streamed(
      `/runs/${appliedRunId}/events`,
      (text) => text.includes('"name":"plan"') && text.includes('"name":"apply"'),
    );
    expect(events).toMatch(/^event: change\n/);
    const logs = new Map(
      events
        .split('\n\n')
        .filter((event) => event.startsWith('event: log\n'))
        .map(
          (event) =>
            JSON.parse(event.slice('event: log\ndata: '.length)) as { name: string; text: string },
        )
        .map((log) => [log.name, log.text]),
    );
    expect(logs.get('plan')).toContain('Plan: 3 to add, 0 to change, 0 to destroy.');
    expect(logs.get('apply')).toContain('Apply complete! Resources: 3 added');

    const environments = await page('/environments');
    expect(environments.html).toMatch(
      new RegExp(
        `<td>dev</td><td>${PROJECT}</td><td><code>${commit.slice(0, 12)}</code></td><td><a href="/runs/${appliedRunId}">`,
      ),
    );

    expect((await page('/runs/cli-20260101T000000Z-000000')).status).toBe(404);
    const posted = await page('/', { method: 'POST', body: '' });
    expect(posted.status).toBe(405);
  }, 120_000);

  it('cancels a run waiting for its approval: released, expired, recorded and told cancelled', async () => {
    const args = ['apply', '--dir', PROJECT, '--env', 'qa'];
    const applying = start(args);
    const stdout = collect(applying);
    const runId = await awaitingApproval(applying, stdout);
    const held = await cli(['locks', '--json']);
    expect(parseJson(held)).toMatchObject({
      locks: [{ environment: 'qa', owner: runId, state: 'held' }],
    });
    // The console shows it waiting, and how to decide from a terminal: it has no links.
    const waitingPage = await page(`/runs/${runId}`);
    expect(waitingPage.html).toContain('Waiting for approval');
    expect(waitingPage.html).toContain(`npx stepform approve ${runId} --stack ${outputsFile}`);
    expect(waitingPage.html).not.toMatch(/<form|\/approve\?/);
    expect((await page('/environments')).html).toMatch(
      new RegExp(`<td>qa</td><td>${PROJECT}</td><td><a href="/runs/${runId}">`),
    );

    const cancelling = start(['cancel', runId]);
    // moto's interpreter holds a StopExecution of an execution that waits in a
    // waitForTaskToken task until the token is answered (AWS stops it at once). So once the
    // CLI's StopExecution is under way, the token is answered here: the stop then lands, and
    // the execution ends ABORTED before it reaches the apply. (The approval item is left
    // pending: only the CLI or the endpoint decides it.)
    await sleep(6_000);
    const [waiting] = await observer().waitForItems('approval', runId);
    await observer().sfn.send(
      new SendTaskSuccessCommand({ taskToken: String(waiting?.taskToken), output: '{}' }),
    );
    const executionArn = executionArnOf(emulated().stateMachineArn('plan-apply'), runId);
    const stopped = await observer().waitFor(executionArn, (e) => e.status !== 'RUNNING', 60_000);
    expect(stopped.entered).not.toContain('RunApplyJob');
    expect(stopped.status).toBe('ABORTED');
    // What the EventBridge rule does on AWS: ExecutionEnded with the status change event.
    const { input } = await observer().sfn.send(new DescribeExecutionCommand({ executionArn }));
    const settled = await emulated().invoke(emulated().functionId('ExecutionEnded'), {
      source: 'emulated().states',
      'detail-type': 'Step Functions Execution Status Change',
      detail: {
        executionArn,
        stateMachineArn: emulated().stateMachineArn('plan-apply'),
        name: runId,
        status: 'ABORTED',
        input,
      },
    });
    expect(settled.result).toEqual({
      released: true,
      runId,
      approvalExpired: true,
      outcome: 'cancelled',
    });

    const cancelled = record(['cancel', runId], await cancelling.done);
    expect(cancelled.exitCode).toBe(0);
    expect(cancelled.stdout).toBe(`run ${runId}: cancelled (cancelled)\n`);
    const watched = record(args, await applying.done);
    expect(watched.exitCode).toBe(130);
    expect(watched.stdout).toMatch(new RegExp(`^run ${runId}: cancelled \\(cancelled\\)`, 'm'));

    expect(await observer().locksOf('qa')).toEqual([]);
    const [approval] = await observer().waitForItems('approval', runId);
    expect(approval?.status).toBe('expired');
    expect(await observer().phasesOf(runId)).toContain('cancelled');
    const shown = await cli(['runs', '--json']);
    expect((parseJson(shown) as { runs: unknown[] }).runs[0]).toMatchObject({
      runId,
      status: 'cancelled',
      phase: 'cancelled',
    });
  }, 300_000);

  it('clears a stale lock, recording who did', async () => {
    // A lock left by a run that ended (the plan), as a lost release would leave it.
    await observer().dynamo.send(
      new PutItemCommand({
        TableName: emulated().ref('AWS::DynamoDB::Table', 'Table'),
        Item: marshall({
          ...keys.lock('stale', PROJECT),
          type: 'lock',
          environment: 'stale',
          project: PROJECT,
          owner: planRunId,
          acquiredAt: '2026-12-01T00:00:00.000Z',
          expiresAt: '2099-01-01T00:00:00.000Z',
        }),
      }),
    );
    const locks = await cli(['locks']);
    expect(locks.stdout).toMatch(
      new RegExp(`^stale +${PROJECT} +stale +run ${planRunId} \\(execution arn:`, 'm'),
    );
    const unlocked = await cli(['unlock', 'stale']);
    expect(unlocked.exitCode).toBe(0);
    expect(unlocked.stdout).toBe(
      `released the lock on ${PROJECT} in stale held by run ${planRunId} (its run is gone), recorded as cleared by ops@cli\n`,
    );
    expect(await observer().locksOf('stale')).toEqual([]);
    const [item] = (await observer().itemsOfType('run')).filter((r) => r.runId === planRunId);
    expect(item?.details).toMatchObject({ unlocked: { by: 'ops@cli' } });
  }, 60_000);

  it('refuses bad input with exit 2 naming the field, starting nothing', async () => {
    // A run of another repository, started behind the stack's back (PrepareRun refuses it).
    const foreign = 'foreign-run-1';
    await observer().startWith(
      'plan',
      {
        runId: foreign,
        workflow: 'plan',
        repository: 'https://github.com/other/repo',
        commit,
        projectDir: PROJECT,
        environment: 'dev',
      },
      { name: foreign },
    );
    const before = await executionCount();

    const unknown = await cli(['logs', 'no-such-run']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('RUN_ID: no run no-such-run');

    const nowhere = await cli(['unlock', 'nowhere']);
    expect(nowhere.exitCode).toBe(2);
    expect(nowhere.stderr).toMatch(/ENV: .*has no environment nowhere/);

    const other = await cli(['cancel', foreign]);
    expect(other.exitCode).toBe(2);
    expect(other.stderr).toContain('RUN_ID: run foreign-run-1 is of https://github.com/other/repo');

    const auto = await cli(['apply', '--dir', PROJECT, '--env', 'dev', '--auto-approve']);
    expect(auto.exitCode).toBe(2);
    expect(auto.stderr).toContain('--auto-approve');
    const missing = await cli(['plan', '--dir', 'nope']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('--dir');
    expect(await executionCount()).toBe(before);
  }, 120_000);

  it('runs an allowlisted Terraform command, refusing any other before it starts', async () => {
    // What follows -- is the command: --stack goes before it.
    const command = async (words: readonly string[]) => {
      const args = ['command', '--env', 'dev', '--stack', outputsFile, '--', ...words];
      return record(args, await startCli(args, { cwd: repo.dir, env }).done);
    };
    const before = await executionCount();
    const refused = await command(['state', 'push', 'x']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('-- args:');
    expect(await executionCount()).toBe(before);

    const listed = await command(['state', 'list']);
    expect(listed.exitCode).toBe(0);
    const runId = runIdOf(listed.stdout);
    if (runId) observer().runIds.push(runId);
    expect(listed.stdout).toMatch(
      new RegExp(`^run ${runId ?? '?'}: succeeded \\(command_completed\\)`, 'm'),
    );
    expect(listed.stdout).toContain('terraform_data.greeting\n');
    const logs = await cli(['logs', runId ?? '']);
    expect(logs.stdout).toContain('terraform state list:');
  }, 240_000);

  it('moves and cancels the scheduled destroy of an ephemeral environment', async () => {
    const created = await cli(['ephemeral', '--dir', PROJECT, '--env', 'preview', '--ttl', '2h']);
    expect(created.exitCode).toBe(0);
    const createdId = runIdOf(created.stdout);
    if (createdId) observer().runIds.push(createdId);
    const notLive = await cli(['ttl', 'dev', '3h']);
    expect(notLive.exitCode).toBe(2);
    expect(notLive.stderr).toContain('ENV: the stack has no live ephemeral environment named dev');

    const moved = await cli(['ttl', 'preview', '3h', '--json']);
    expect(moved.exitCode).toBe(0);
    const result = parseJson(moved) as {
      status: string;
      phase: string;
      schedule?: { fireAt: string };
    };
    expect(result).toMatchObject({ status: 'succeeded', phase: 'ttl_changed' });
    const fireAt = Date.parse(result.schedule?.fireAt ?? '');
    expect(Math.abs(fireAt - (Date.now() + 3 * 3600_000))).toBeLessThan(120_000);
    // The console reads the schedule back from Scheduler.
    expect((await page('/environments')).html).toContain(
      `<td>preview</td><td>${PROJECT}</td><td>pending</td><td>${fireSecond(result.schedule?.fireAt ?? '')}.000Z</td>`,
    );

    const kept = await cli(['ttl', 'preview', '--cancel']);
    expect(kept.exitCode).toBe(0);
    expect(kept.stdout).toContain('no scheduled destroy: kept until destroyed by hand');
    const envs = parseJson(await cli(['envs', '--json'])) as {
      environments: { environment: string; destroyAt: string | null }[];
    };
    expect(envs.environments.find((e) => e.environment === 'preview')?.destroyAt).toBeNull();
  }, 300_000);

  it('checks drift on the stack: the local verb’s report, --json and exit code', async () => {
    const checked = await cli(['drift', '--env', 'dev', '--dir', PROJECT]);
    expect(checked.exitCode).toBe(0);
    const runId = runIdOf(checked.stdout);
    if (runId) observer().runIds.push(runId);
    expect(checked.stdout).toMatch(/^drift in dev \(run cli-\S+\): no_changes$/m);
    expect(checked.stdout).toMatch(new RegExp(`^ {2}${PROJECT} +no drift$`, 'm'));

    const json = await cli(['drift', '--env', 'dev', '--dir', PROJECT, '--json']);
    expect(json.exitCode).toBe(0);
    const result = parseJson(json) as { runId: string };
    observer().runIds.push(result.runId);
    expect(result).toMatchObject({
      workflow: 'drift',
      status: 'no_drift',
      environment: 'dev',
      commit,
      projects: [{ environment: 'dev', name: PROJECT, status: 'no_drift', commit }],
      runs: [{ runId: result.runId, environment: 'dev', status: 'succeeded' }],
    });
    // Started on the stack's drift workflow, named by its run id.
    const execution = await observer().sfn.send(
      new DescribeExecutionCommand({
        executionArn: executionArnOf(emulated().stateMachineArn('drift'), result.runId),
      }),
    );
    expect(JSON.parse(execution.input!)).toMatchObject({
      workflow: 'drift',
      repository: GITHUB_URL,
    });
  }, 240_000);

  it('writes stepform.yaml’s drift schedule to Scheduler, one per environment, removing those it drops', async () => {
    const outputs = emulated().stackOutputs().Stepform!;
    const group = outputs.DriftScheduleGroupName!;
    const driftConfig = (schedule: string, environments: string) =>
      [
        'version: 1',
        'environments: { dev: {}, preview: {} }',
        'projects:',
        `  - { name: hello, dir: ${PROJECT} }`,
        `drift: { schedule: "${schedule}", environments: ${environments} }`,
        '',
      ].join('\n');
    const refused = await cli(['drift', '--schedule', '--env', 'dev']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('--env: is not for --schedule');

    const configured = await repo.commitFiles(
      { 'stepform.yaml': driftConfig('rate(6 hours)', '[dev, preview]') },
      'check drift every 6 hours',
    );
    const written = await cli(['drift', '--schedule', '--json']);
    expect(written.exitCode).toBe(0);
    expect(parseJson(written)).toEqual({
      schedule: 'rate(6 hours)',
      group,
      commit: configured,
      written: [
        { name: 'drift-dev', expression: 'rate(6 hours)', environment: 'dev' },
        { name: 'drift-preview', expression: 'rate(6 hours)', environment: 'preview' },
      ],
      removed: [],
    });
    const schedule = await observer().scheduler.send(
      new GetScheduleCommand({ Name: 'drift-dev', GroupName: group }),
    );
    expect(schedule).toMatchObject({
      ScheduleExpression: 'rate(6 hours)',
      ScheduleExpressionTimezone: 'UTC',
      State: 'ENABLED',
      Target: { Arn: START_EXECUTION_TARGET, RoleArn: outputs.DriftSchedulerRoleArn },
    });
    expect(scheduledExecution(schedule.Target)).toEqual({
      stateMachineArn: emulated().stateMachineArn('drift'),
      name: `drift-dev-${SCHEDULER_EXECUTION_ID}`,
      input: expect.objectContaining({
        runId: `drift-dev-${SCHEDULER_EXECUTION_ID}`,
        workflow: 'drift',
        repository: GITHUB_URL,
        commit: configured,
        environment: 'dev',
        projects: [{ name: 'hello', dir: PROJECT, layer: 0, varFiles: [] }],
      }),
    });

    // A fire, as Scheduler makes it (moto does not fire schedules): its invocation id in the
    // run id, an execution of the drift workflow named by it.
    const fired = await observer().fire(schedule.Target, 'd32c5kddcf5bb8c3');
    const execution = await observer().waitFor(fired.arn);
    expect({ status: execution.status, failure: observer().failureOf(execution) }).toEqual({
      status: 'SUCCEEDED',
      failure: '[]',
    });
    expect(fired).toMatchObject({
      name: 'drift-dev-d32c5kddcf5bb8c3',
      input: { runId: 'drift-dev-d32c5kddcf5bb8c3' },
    });
    expect(execution.entered).toContain('OutcomeNoDrift');
    // Named by its run id, the scheduled run is found by it, as every other run is.
    const logs = await cli(['logs', fired.name]);
    expect(logs.exitCode).toBe(0);
    expect(logs.stdout).toContain('run drift-dev-d32c5kddcf5bb8c3: drift');

    await repo.commitFiles(
      { 'stepform.yaml': driftConfig('cron(0 6 * * ? *)', '[dev]') },
      'check drift at 06:00 in dev only',
    );
    const moved = await cli(['drift', '--schedule']);
    expect(moved.exitCode).toBe(0);
    expect(moved.stdout).toBe(
      'drift schedule drift-dev: cron(0 6 * * ? *) (UTC) checks dev\ndrift schedule drift-preview: removed\n',
    );
    const dev = await observer().scheduler.send(
      new GetScheduleCommand({ Name: 'drift-dev', GroupName: group }),
    );
    expect(dev.ScheduleExpression).toBe('cron(0 6 * * ? *)');
    const listed = await observer().scheduler.send(new ListSchedulesCommand({ GroupName: group }));
    expect(listed.Schedules?.map((s) => s.Name)).toEqual(['drift-dev']);
  }, 300_000);
});

/** How many executions the stack's workflows have had. */
async function executionCount(): Promise<number> {
  let count = 0;
  for (const workflow of WORKFLOWS) {
    const listed = await observer().sfn.send(
      new ListExecutionsCommand({ stateMachineArn: emulated().stateMachineArn(workflow) }),
    );
    count += listed.executions?.length ?? 0;
  }
  return count;
}
