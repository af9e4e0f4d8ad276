// The bundled action run the way the Actions runner runs it: `node dist/index.js` with the
// GITHUB_* variables, a pull_request event payload file, INPUT_* variables named as the runner
// names them (INPUT_STATE-MACHINE-ARN) with action.yml's defaults, and the GITHUB_OUTPUT,
// GITHUB_STATE and GITHUB_STEP_SUMMARY files. AWS is whatever endpoint the test gives (moto
// on loopback). Used by dist-moto.test.ts and by the emulated stack's workflows test.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';

export const ACTION_DIST = new URL('../dist/index.js', import.meta.url).pathname;

/** action.yml's defaults, as the runner passes them: INPUT_<NAME> (upper case, dashes kept). */
export async function defaultInputs(): Promise<Record<string, string>> {
  const action = parse(await readFile(new URL('../action.yml', import.meta.url), 'utf8')) as {
    inputs: Record<string, { default?: string }>;
  };
  return Object.fromEntries(
    Object.entries(action.inputs).flatMap(([name, input]) =>
      input.default === undefined ? [] : [[`INPUT_${name.toUpperCase()}`, input.default]],
    ),
  );
}

/** What `name<<delimiter` file commands (GITHUB_OUTPUT, GITHUB_STATE) hold. */
export function fileCommands(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const match = /^([^<=]+)<<(.+)$/.exec(lines[i] ?? '');
    if (!match) continue;
    const [, name = '', delimiter] = match;
    const value: string[] = [];
    for (i += 1; i < lines.length && lines[i] !== delimiter; i += 1) value.push(lines[i] ?? '');
    values[name] = value.join('\n');
  }
  return values;
}

export interface ActionStep {
  readonly child: ChildProcess;
  /** Its exit code, and stdout and stderr together. */
  readonly exited: Promise<{ code: number | null; stdout: string }>;
  readonly files: { output: string; state: string; summary: string };
  /** The file commands the step wrote so far. */
  outputs(): Promise<Record<string, string>>;
  state(): Promise<Record<string, string>>;
}

export interface StepOptions {
  /** Where the step's files go (the runner's RUNNER_TEMP). */
  readonly dir: string;
  /** GITHUB_RUN_ID. */
  readonly runId: string;
  /** The inputs the workflow gives, by their action.yml names; the others take its defaults. */
  readonly inputs: Record<string, string>;
  /** STATE_ variables: what the main step saved, for the post step. */
  readonly state?: Record<string, string>;
  /** The pull request #7 the event is of: its head and base commits. */
  readonly pullRequest: { readonly head: string; readonly base: string };
  /** GITHUB_WORKSPACE, a checkout of the head (default: none). */
  readonly workspace?: string;
  /** The AWS endpoint (moto server). */
  readonly endpoint: string;
}

let steps = 0;

/** Starts `node dist/index.js` as the runner would, for one step. */
export async function startActionStep(options: StepOptions): Promise<ActionStep> {
  steps += 1;
  const { dir } = options;
  const files = {
    output: join(dir, `output-${steps}`),
    state: join(dir, `state-${steps}`),
    summary: join(dir, `summary-${steps}`),
  };
  const event = join(dir, `event-${steps}.json`);
  await writeFile(
    event,
    JSON.stringify({
      action: 'synchronize',
      number: 7,
      pull_request: {
        number: 7,
        head: { sha: options.pullRequest.head },
        base: { sha: options.pullRequest.base },
      },
    }),
  );
  await Promise.all(Object.values(files).map(async (file) => writeFile(file, '')));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_EVENT_PATH: event,
    GITHUB_REPOSITORY: 'acme/infra',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_SHA: 'f'.repeat(40),
    GITHUB_RUN_ID: options.runId,
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_OUTPUT: files.output,
    GITHUB_STATE: files.state,
    GITHUB_STEP_SUMMARY: files.summary,
    RUNNER_TEMP: dir,
    ...(options.workspace === undefined ? {} : { GITHUB_WORKSPACE: options.workspace }),
    AWS_ENDPOINT_URL: options.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    ...(await defaultInputs()),
    ...Object.fromEntries(
      Object.entries(options.inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v]),
    ),
    ...Object.fromEntries(Object.entries(options.state ?? {}).map(([k, v]) => [`STATE_${k}`, v])),
  };
  const child = spawn(process.execPath, [ACTION_DIST], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; stdout: string }>((resolve) => {
    child.on('exit', (code) => {
      resolve({ code, stdout });
    });
  });
  return {
    child,
    exited,
    files,
    outputs: async () => fileCommands(await readFile(files.output, 'utf8')),
    state: async () => fileCommands(await readFile(files.state, 'utf8')),
  };
}
