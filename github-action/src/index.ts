// The action's entrypoint, both steps of it (action.yml runs this file as `main` and as
// `post`). Main: read the inputs and the event, select the projects (stepform.yaml), start (or
// follow) the execution, and with `wait` follow it to the end; nothing selected, nothing starts. Post: stop the execution when the job was cancelled while the
// main step followed it. Everything outside goes through the injected Deps; one catch.
import { realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import * as actionsCore from '@actions/core';
import { SFNClient } from '@aws-sdk/client-sfn';
import { InvalidInput } from '../../core/errors.ts';
import type { Deps } from './deps.ts';
import { readGitHubRun } from './event.ts';
import {
  ExecutionNotSucceeded,
  decideStop,
  executionName,
  followExecution,
  runInput,
  startOrFollow,
  stopIfRunning,
} from './execution.ts';
import { readInputs, regionOf } from './inputs.ts';
import { selectForAction } from './selection.ts';
import {
  type RunSummary,
  executionUrl,
  jobSummaryMarkdown,
  runSummary,
  skippedSummaryMarkdown,
  stepOutputs,
} from './summary.ts';

/** Names of the step state (core.saveState) the main step leaves for the post step. */
export const STATE = {
  isPost: 'isPost',
  executionArn: 'executionArn',
  follow: 'follow',
  outcome: 'outcome',
  cancelled: 'cancelled',
} as const;

/** The outputs every main step that started (or found) an execution ends with. */
function setSummaryOutputs(core: Deps['core'], summary: RunSummary): void {
  core.setOutput('status', summary.status);
  core.setOutput('summary', JSON.stringify(summary));
  for (const [name, value] of Object.entries(stepOutputs(summary))) core.setOutput(name, value);
}

export function defaultDeps(): Deps {
  return {
    core: actionsCore,
    // Credentials and AWS_ENDPOINT_URL(_SFN) come from the environment, as the SDK reads them.
    sfn: (region) => new SFNClient({ region }),
    env: process.env,
    readFile: async (path) => readFile(path, 'utf8'),
    sleep: async (ms) =>
      new Promise<void>((resolve) => {
        setTimeout(resolve, ms);
      }),
    now: () => Date.now(),
    onCancel: (handler) => {
      // The runner cancels a step with SIGINT, then SIGTERM 7.5 s later.
      const once = () => {
        handler();
        process.exit(1);
      };
      process.once('SIGINT', once);
      process.once('SIGTERM', once);
    },
  };
}

async function main(deps: Deps): Promise<void> {
  const { core } = deps;
  core.saveState(STATE.isPost, 'true');
  const inputs = readInputs(core);
  const github = await readGitHubRun(deps.env, deps.readFile);
  const selection = await selectForAction(inputs, github, (line) => {
    core.info(line);
  });
  if (selection.nothing !== undefined) {
    core.setOutput('projects', '[]');
    core.setOutput('status', 'SKIPPED');
    core.info(`${selection.nothing}: no ${inputs.workflow} execution started`);
    await core.summary
      .addRaw(
        skippedSummaryMarkdown({
          workflow: inputs.workflow,
          environment: inputs.environment,
          commit: github.commit,
          reason: selection.nothing,
        }),
      )
      .write();
    return;
  }
  const projectNames = selection.projects?.map((project) => project.name);
  // Without stepform.yaml the one project is named by its folder, as the workflows name it.
  core.setOutput('projects', JSON.stringify(projectNames ?? [selection.projectDir]));
  const name = executionName({
    runId: github.runId,
    runAttempt: github.runAttempt,
    workflow: inputs.workflow,
    environment: inputs.environment,
    projectDir: selection.projectDir,
    ...(projectNames === undefined ? {} : { projects: projectNames }),
  });
  const input = runInput(name, inputs, github, selection);
  const sfn = deps.sfn(regionOf(inputs.stateMachineArn));

  const { executionArn } = await startOrFollow(sfn, inputs.stateMachineArn, input, (line) => {
    core.info(line);
  });
  core.saveState(STATE.executionArn, executionArn);
  core.setOutput('execution-arn', executionArn);
  core.info(`execution: ${executionUrl(executionArn)}`);

  const pullRequestUrl =
    github.pullRequest === undefined
      ? undefined
      : `${github.serverUrl}/${github.repositoryName}/pull/${github.pullRequest}`;
  const facts = {
    workflow: inputs.workflow,
    environment: inputs.environment,
    projectDir: selection.projectDir,
    commit: github.commit,
    ...(github.pullRequest === undefined ? {} : { pullRequest: github.pullRequest }),
    executionArn,
  };

  if (!inputs.wait) {
    const summary = runSummary({ ...facts, status: 'RUNNING' });
    setSummaryOutputs(core, summary);
    await core.summary.addRaw(jobSummaryMarkdown(summary, pullRequestUrl, projectNames)).write();
    return;
  }

  core.saveState(STATE.follow, 'true');
  deps.onCancel(() => {
    core.saveState(STATE.cancelled, 'true');
    core.info('the job was cancelled: the post step stops the execution');
  });
  core.startGroup(`${inputs.workflow} in ${inputs.environment}`);
  let followed;
  try {
    followed = await followExecution(sfn, executionArn, {
      timeoutMs: inputs.timeoutMs,
      sleep: deps.sleep,
      now: deps.now,
      log: (line) => {
        core.info(line);
      },
      warn: (line) => {
        core.warning(line);
      },
    });
  } finally {
    core.endGroup();
  }
  const { execution, timedOut } = followed;
  const status = execution.status ?? 'UNKNOWN';
  core.saveState(STATE.outcome, timedOut ? 'WAIT_TIMED_OUT' : status);
  const summary = runSummary({
    ...facts,
    status,
    ...(execution.output === undefined ? {} : { output: execution.output }),
    ...(execution.error === undefined ? {} : { error: execution.error }),
    ...(execution.cause === undefined ? {} : { cause: execution.cause }),
  });
  setSummaryOutputs(core, summary);
  await core.summary.addRaw(jobSummaryMarkdown(summary, pullRequestUrl, projectNames)).write();

  if (timedOut) {
    throw new ExecutionNotSucceeded(
      `the execution is still ${status} after the timeout; it goes on: ${executionUrl(executionArn)}`,
    );
  }
  if (status !== 'SUCCEEDED') {
    const reason = [execution.error, execution.cause].filter(Boolean).join(': ');
    throw new ExecutionNotSucceeded(
      `the ${inputs.workflow} execution ended ${status}${reason === '' ? '' : ` (${reason})`}`,
    );
  }
  core.info(`the ${inputs.workflow} execution succeeded`);
}

async function post(deps: Deps): Promise<void> {
  const { core } = deps;
  const decision = decideStop({
    executionArn: core.getState(STATE.executionArn),
    follow: core.getState(STATE.follow),
    outcome: core.getState(STATE.outcome),
    cancelled: core.getState(STATE.cancelled),
  });
  if (!decision.stop) {
    core.debug(`nothing to stop: ${decision.reason}`);
    return;
  }
  const { GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID } = deps.env;
  const cause =
    GITHUB_REPOSITORY !== undefined && GITHUB_RUN_ID !== undefined
      ? `the GitHub job that started it was cancelled: ${GITHUB_SERVER_URL ?? 'https://github.com'}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}`
      : 'the GitHub job that started it was cancelled';
  const sfn = deps.sfn(regionOf(decision.executionArn));
  const { stopped, status } = await stopIfRunning(sfn, decision.executionArn, cause);
  core.info(
    stopped
      ? `stopped the execution ${decision.executionArn}`
      : `the execution had already ended (${status ?? 'unknown'}): nothing to stop`,
  );
}

/** Runs the main or the post step, whichever this is; every failure ends in setFailed. */
export async function run(overrides: Partial<Deps> = {}): Promise<void> {
  const deps: Deps = { ...defaultDeps(), ...overrides };
  const { core } = deps;
  try {
    if (core.getState(STATE.isPost) === 'true') await post(deps);
    else await main(deps);
  } catch (error) {
    if (error instanceof InvalidInput) core.setFailed(`invalid input ${error.message}`);
    else core.setFailed(error instanceof Error ? error.message : String(error));
  }
}

function isEntrypoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntrypoint()) await run();
