// Drives the real `stepform` CLI as a user does: `node bin/stepform.js VERB ...` in a child
// process whose working directory is a throwaway git repository, with its own Stepform home.
import { expect } from '@jest/globals';
import { type ChangeCounts } from '../../core/contracts/job-result.ts';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stateKey } from '../../core/contracts/job-input.ts';
import { type LocalStores, openLocalStores } from '../../local/engine/store/local-stores.ts';
import { run } from '../../toolchain/process.ts';
import { HELLO_EXAMPLE, REPO_ROOT, type TestRepo, makeRepo, tempDir } from './repo.ts';

export const STEPFORM = join(REPO_ROOT, 'bin', 'stepform.js');

/** The project folder every workspace commits the hello example to. */
export const PROJECT = 'stack';

export interface CliResult {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall-clock milliseconds the command took. */
  readonly ms: number;
}

/** What `--json` prints for a run verb (see runJson in local/cli/run-verbs.ts). */
export interface RunJson {
  runId: string;
  workflow: string;
  status: 'running' | 'succeeded' | 'failed';
  environment: string;
  projectDir: string;
  commit: string;
  phase: string | null;
  summary: ChangeCounts | null;
  outputs?: Record<string, { sensitive: boolean; value: unknown }>;
  rollback?: { commit: string; failedCommit: string; message: string };
  error?: { name: string; message: string } | string;
  startedAt: string;
  finishedAt: string | null;
}

/**
 * Node's on-disk cache of compiled modules, shared by the children of every test: a CLI or
 * executor child then starts in about half the CPU time (entries are keyed by content).
 */
export const COMPILE_CACHE = { NODE_COMPILE_CACHE: join(tmpdir(), 'stepform-test-compile-cache') };

/** The environment a CLI child gets: this process's, minus anything that would leak out. */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of [
    'SLACK_WEBHOOK_URL',
    'STEPFORM_HOME',
    'STEPFORM_APPROVAL_URL',
    'STEPFORM_APPROVAL_SIGNING_KEY',
    'STEPFORM_APPROVERS',
  ])
    Reflect.deleteProperty(env, key);
  return { ...env, ...COMPILE_CACHE, ...extra };
}

/** Parses stdout that must be exactly one JSON object (JSON.parse refuses anything more). */
/** Exit 0; otherwise the failure shows the CLI's stderr, which says why. */
export function expectExitZero(result: Pick<CliResult, 'exitCode' | 'stderr'>): void {
  expect({
    exitCode: result.exitCode,
    stderr: result.exitCode === 0 ? '' : result.stderr,
  }).toEqual({ exitCode: 0, stderr: '' });
}

export function parseJson(result: CliResult): unknown {
  const text = result.stdout.trim();
  if (!text.startsWith('{')) {
    throw new Error(
      `stdout is not one JSON object (exit ${result.exitCode}):\n${result.stdout}\n${result.stderr}`,
    );
  }
  return JSON.parse(text) as unknown;
}

/** A running CLI child: its process, and a promise of how it ended. */
export interface RunningCli {
  readonly child: ChildProcess;
  readonly done: Promise<CliResult>;
  /** Output so far. */
  stderr(): string;
  stdout(): string;
}

/** Drives a command on a pseudo-terminal: see the file. */
const PTY_RUN = new URL('./pty_run.py', import.meta.url).pathname;

export function startCli(
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; program?: readonly [string, string] },
): RunningCli {
  const started = performance.now();
  const [command, script] = options.program ?? [process.execPath, STEPFORM];
  const child = spawn(command, [script, ...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode) => {
      resolve({
        exitCode,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: Math.round(performance.now() - started),
      });
    });
  });
  return {
    child,
    done,
    stderr: () => Buffer.concat(err).toString('utf8'),
    stdout: () => Buffer.concat(out).toString('utf8'),
  };
}

/** Polls until `probe` returns a value (not undefined), or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string | (() => string),
  probe: () => T | undefined,
  timeoutMs = 60_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms: ${typeof what === 'string' ? what : what()}`,
      );
    }
    await sleep(intervalMs);
  }
}

/** A Terraform state file as far as these tests read it. */
export interface TfState {
  serial: number;
  lineage: string;
  resources: {
    mode: string;
    type: string;
    name: string;
    instances: { attributes: Record<string, unknown> }[];
  }[];
}

/**
 * A git repository holding the hello example at `stack/`, a Stepform home for it, and the
 * means to run the CLI there. `home: 'default'` leaves STEPFORM_HOME unset, so the CLI uses
 * `<repo>/.git/stepform` and creates it itself.
 */
export interface Workspace {
  readonly repo: TestRepo;
  readonly home: string;
  /** The commit holding the hello example. */
  readonly commit: string;
  readonly env: NodeJS.ProcessEnv;
  cli(args: readonly string[]): Promise<CliResult>;
  start(args: readonly string[]): RunningCli;
  /**
   * Runs the CLI on a real pseudo-terminal (test/support/pty_run.py) and types `answer` when
   * it prints `prompt`; stdout is everything the terminal showed.
   */
  onTerminal(args: readonly string[], prompt: string, answer: string): Promise<CliResult>;
  /** The store the CLI writes (opened once, closed by close()). */
  store(): LocalStores;
  /** The environment's state file for `stack`, or undefined when there is none. */
  state(environment: string): TfState | undefined;
  /** `type.name` of every managed resource in the environment's state (undefined: no state). */
  resources(environment: string): string[] | undefined;
  git(args: readonly string[]): Promise<string>;
  close(): void;
}

export async function helloWorkspace(
  options: { home?: 'default' | 'separate'; env?: Record<string, string> } = {},
): Promise<Workspace> {
  const repo = await makeRepo();
  const commit = await repo.commitDir(HELLO_EXAMPLE, PROJECT, 'add the hello example');
  const separate = options.home !== 'default';
  const home = separate ? await tempDir('home') : join(repo.dir, '.git', 'stepform');
  const env = cliEnv({ ...options.env, ...(separate ? { STEPFORM_HOME: home } : {}) });
  const running: ChildProcess[] = [];
  let store: LocalStores | undefined;
  const state = (environment: string): TfState | undefined => {
    const path = join(home, 'state', stateKey(environment, PROJECT));
    return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as TfState) : undefined;
  };
  return {
    repo,
    home,
    commit,
    env,
    cli: (args) => startCli(args, { cwd: repo.dir, env }).done,
    onTerminal: (args, prompt, answer) =>
      startCli([prompt, answer, '--', process.execPath, STEPFORM, ...args], {
        cwd: repo.dir,
        env,
        program: ['python3', PTY_RUN],
      }).done,
    start(args) {
      const started = startCli(args, { cwd: repo.dir, env });
      running.push(started.child);
      return started;
    },
    store() {
      store ??= openLocalStores(join(home, 'stepform.db'));
      return store;
    },
    state,
    resources(environment) {
      return state(environment)
        ?.resources.filter((r) => r.mode === 'managed')
        .map((r) => `${r.type}.${r.name}`)
        .sort();
    },
    async git(args) {
      const result = await run('git', ['-C', repo.dir, ...args]);
      if (result.exitCode !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
      return result.stdout;
    },
    close() {
      store?.close();
      store = undefined;
      // Only the children this workspace started, and only those still running.
      for (const child of running) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      }
    },
  };
}

/** The hello example's resources, as `type.name`, sorted. */
export const HELLO_RESOURCES = [
  'terraform_data.greeting',
  'terraform_data.secret_holder',
  'time_static.greeted_at',
];

/**
 * Starts `stepform apply` (no --auto-approve) of the hello project in `environment` and
 * waits until its run holds the lock and waits for approval; returns the CLI and the run id.
 */
export async function startApplyAwaitingApproval(
  ws: Workspace,
  environment: string,
): Promise<{ cli: RunningCli; runId: string }> {
  const cli = ws.start(['apply', '--dir', PROJECT, '--env', environment, '--json']);
  const runId = await waitFor(
    () => `an approval request in ${environment}; stderr so far:\n${cli.stderr()}`,
    () => {
      const store = ws.store();
      const held = store.runs.running().find((h) => h.run.environment === environment);
      return held && store.approvals.forRun(held.run.runId)?.status === 'pending'
        ? held.run.runId
        : undefined;
    },
    120_000,
  );
  return { cli, runId };
}
