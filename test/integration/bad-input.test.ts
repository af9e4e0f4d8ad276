// The bad-input corpus (issue 12): what a user, a workflow or a browser may send that is wrong,
// over the three surfaces that take input from outside: the `stepform` CLI, the executor's job
// and the approval server. Each case must be refused as the caller's mistake (exit 2, or the
// 4xx the endpoint defines), say which field was wrong, and leave nothing behind: no run, no
// status event, no lock, no schedule, no git note, no state, no work folder, no decision.
// The figures (refused/total per surface) are printed at the end.
import { MAX_FORM_BYTES } from '../../core/approval-endpoint.ts';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { StoredApproval } from '../../core/ports.ts';
import { JOB } from '../../core/contracts/job-input.ts';
import { EXECUTOR_MAIN } from '../../local/executor-process.ts';
import { run } from '../../toolchain/process.ts';
import {
  type Reply,
  type Started,
  TASK_TOKEN,
  addApproval,
  flipLast,
  inSeconds,
  link,
  linkFields,
  post,
  request,
  startApprovalServer,
  stopServers,
  withQuery,
} from '../support/approval-server.ts';
import {
  COMPILE_CACHE,
  type CliResult,
  PROJECT,
  type Workspace,
  helloWorkspace,
} from '../support/cli.ts';
import { jobFactory } from '../support/executor.ts';
import { HELLO_EXAMPLE, makeRepo, tempDir } from '../support/repo.ts';

type Surface = 'cli' | 'executor' | 'approval server';
const tally = new Map<Surface, { refused: number; total: number }>();
function expectCases(surface: Surface, total: number): void {
  tally.set(surface, { refused: 0, total });
}
/** Called at the end of a case, once every assertion of it has passed. */
function refused(surface: Surface): void {
  const figures = tally.get(surface);
  if (figures) figures.refused += 1;
}

afterAll(() => {
  const lines = [...tally].map(([surface, f]) => `  ${surface}: ${f.refused}/${f.total}`);
  const refusedAll = [...tally.values()].reduce((sum, f) => sum + f.refused, 0);
  const totalAll = [...tally.values()].reduce((sum, f) => sum + f.total, 0);
  console.log(
    ['bad inputs refused/total:', ...lines, `  overall: ${refusedAll}/${totalAll}`].join('\n'),
  );
});

/** Runs `work` over `items`, at most `width` at a time (each CLI case is a Node process). */
async function pool<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>) {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

/** Every path under `dir`, relative to it, sorted ([] when it does not exist). */
async function listing(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true });
  return entries.map((entry) => relative(dir, join(dir, entry))).sort();
}

/** The message line a refusal prints first on stderr (the usage text may follow it). */
function firstLine(text: string): string {
  return text.split('\n')[0] ?? '';
}

// ---------------------------------------------------------------------------------------------
// The CLI: every case on one workspace and one home, all run before the checks.

interface CliCase {
  readonly name: string;
  /** The arguments, or a function of the fixtures. `--json` is added to every case. */
  readonly args: readonly string[] | ((f: Fixtures) => readonly string[]);
  /** What the first line of stderr and the JSON error's message must name. */
  readonly named: string | ((f: Fixtures) => string);
  /** The JSON error's name: InvalidInput unless said. */
  readonly error?: 'NotFound';
}

interface Fixtures {
  /** The commit holding the hello example, and one after it that adds `later/`. */
  readonly first: string;
  readonly tree: string;
  readonly blob: string;
  readonly notRepo: string;
}

const DIR = ['--dir', PROJECT] as const;

const CLI_CASES: readonly CliCase[] = [
  // --dir: the project folder must be a folder of the commit that runs, inside the repository.
  { name: '--dir outside the repository', args: ['plan', '--dir', '../outside'], named: '--dir' },
  {
    name: '--dir climbing out with ..',
    args: ['plan', '--dir', `${PROJECT}/../../x`],
    named: '--dir',
  },
  {
    name: '--dir that is a file',
    args: ['plan', '--dir', `${PROJECT}/main.tf`],
    named: `--dir: ${PROJECT}/main.tf is not a folder`,
  },
  {
    name: '--dir that does not exist',
    args: ['plan', '--dir', 'nowhere'],
    named: '--dir: nowhere does not exist',
  },
  {
    name: '--dir only in the working tree, not in the commit',
    args: ['plan', '--dir', 'draft'],
    named: 'it exists only uncommitted',
  },
  {
    name: '--dir a symlink out of the repository',
    args: ['plan', '--dir', 'escape'],
    named: '--dir: escape is outside the repository',
  },
  { name: "--dir git's own folder", args: ['plan', '--dir', '.git'], named: '--dir: .git' },
  {
    name: '--dir missing at the --commit given',
    args: (f) => ['plan', '--dir', 'later', '--commit', f.first],
    named: '--dir: later does not exist',
  },
  {
    name: '--dir empty (not the root)',
    args: ['plan', '--dir='],
    named: '--dir: must not be empty',
  },
  { name: 'plan without --dir', args: ['plan'], named: '--dir: is required' },
  // --env: an environment name, exactly.
  {
    name: '--env with shell metacharacters',
    args: ['plan', ...DIR, '--env', 'dev;rm'],
    named: '--env',
  },
  {
    name: '--env of 64 characters',
    args: ['plan', ...DIR, '--env', 'e'.repeat(64)],
    named: '--env',
  },
  { name: '--env in upper case', args: ['plan', ...DIR, '--env', 'Dev'], named: '--env' },
  { name: '--env with a leading dash', args: ['plan', ...DIR, '--env=-dev'], named: '--env' },
  {
    name: '--env taking the next option as its value',
    args: ['plan', ...DIR, '--env', '-dev'],
    named: "'--env' argument is ambiguous",
  },
  { name: '--env not ASCII', args: ['plan', ...DIR, '--env', 'dév'], named: '--env' },
  { name: '--env empty', args: ['plan', ...DIR, '--env='], named: '--env: must not be empty' },
  {
    name: '--env given twice (which one?)',
    args: ['apply', ...DIR, '--env', 'dev', '--env', 'prod'],
    named: '--env: is given more than once',
  },
  // --commit: a commit of the repository, nothing else git resolves.
  { name: '--commit no commit', args: ['plan', ...DIR, '--commit', 'deadbeef'], named: '--commit' },
  {
    name: '--commit a tree',
    args: (f) => ['plan', ...DIR, '--commit', f.tree],
    named: (f) => `--commit: ${f.tree} is not a commit`,
  },
  {
    name: '--commit a blob',
    args: (f) => ['plan', ...DIR, '--commit', f.blob],
    named: (f) => `--commit: ${f.blob} is not a commit`,
  },
  {
    name: '--commit an option',
    args: ['plan', ...DIR, '--commit=-x'],
    named: '--commit: must be a commit, not an option',
  },
  {
    name: '--commit a ref that does not exist',
    args: ['plan', ...DIR, '--commit', 'refs/heads/nope'],
    named: '--commit: refs/heads/nope is not a commit',
  },
  {
    name: '--commit a range',
    args: ['plan', ...DIR, '--commit', 'HEAD~1..HEAD'],
    named: '--commit: HEAD~1..HEAD is not a commit',
  },
  // --ttl and --approval-timeout: whole durations within bounds.
  { name: 'ephemeral without --ttl', args: ['ephemeral', ...DIR, '--env', 'pr-9'], named: '--ttl' },
  ...[
    ['0s', 'must be between 1m and 30d'],
    ['5s', 'must be between 1m and 30d'],
    ['31d', 'must be between 1m and 30d'],
    ['1.5h', 'must be a duration'],
    ['-1h', 'must be a duration'],
    ['1h1h', 'must be a duration'],
    ['', 'must not be empty'],
  ].map(([ttl, message]) => ({
    name: `--ttl "${ttl}"`,
    args: ['ephemeral', ...DIR, '--env', 'pr-9', `--ttl=${ttl}`],
    named: `--ttl: ${message}`,
  })),
  ...[
    ['soon', 'must be a duration'],
    ['0s', 'must be between 1s and 7d'],
    ['8d', 'must be between 1s and 7d'],
    ['', 'must not be empty'],
  ].map(([timeout, message]) => ({
    name: `--approval-timeout "${timeout}"`,
    args: ['apply', ...DIR, '--env', 'dev', `--approval-timeout=${timeout}`],
    named: `--approval-timeout: ${message}`,
  })),
  // The verb and its options.
  {
    name: 'apply without --env',
    args: ['apply', ...DIR, '--auto-approve'],
    named: '--env: is required',
  },
  {
    name: 'destroy without --env',
    args: ['destroy', ...DIR, '--yes'],
    named: '--env: is required',
  },
  {
    name: 'destroy with no terminal and no --yes',
    args: ['destroy', ...DIR, '--env', 'dev'],
    named: '--yes: destroy asks for confirmation on a terminal',
  },
  { name: 'an unknown verb', args: ['frobnicate', ...DIR], named: 'unknown verb "frobnicate"' },
  { name: 'no verb', args: [], named: 'no verb given' },
  {
    name: 'an unknown flag',
    args: ['apply', ...DIR, '--frobnicate'],
    named: "Unknown option '--frobnicate'",
  },
  {
    name: 'a flag of unlock on apply',
    args: ['apply', ...DIR, '--force'],
    named: '--force is not an option of apply',
  },
  {
    name: 'unlock of an environment that is not locked',
    args: ['unlock', 'nowhere'],
    named: 'nowhere is not locked',
    error: 'NotFound',
  },
  {
    name: 'cancel of an unknown run',
    args: ['cancel', '20200101T000000Z-abcdef'],
    named: 'no run 20200101T000000Z-abcdef',
    error: 'NotFound',
  },
  { name: 'cancel without a run id', args: ['cancel'], named: 'RUN_ID' },
  { name: 'envs with an argument', args: ['envs', 'dev'], named: 'unexpected argument' },
  {
    name: 'a flag of another verb',
    args: ['plan', ...DIR, '--auto-approve'],
    named: '--auto-approve is not an option of plan',
  },
  {
    name: 'a stray argument to a run verb',
    args: ['apply', ...DIR, '--env', 'dev', 'prod'],
    named: 'unexpected argument "prod": apply takes no arguments',
  },
  {
    name: 'a stray argument to runs',
    args: ['runs', 'all'],
    named: 'unexpected argument "all": runs takes no arguments',
  },
  {
    name: '--repo not a git repository',
    args: (f) => ['runs', '--repo', f.notRepo],
    named: (f) => `--repo: ${f.notRepo} is not inside a git repository`,
  },
  {
    name: '--repo a file',
    args: ['plan', ...DIR, '--repo', `${PROJECT}/main.tf`],
    named: 'is not inside a git repository',
  },
  // ttl ENV DURATION.
  {
    name: 'ttl with a bad duration',
    args: ['ttl', 'pr-9', '1.5h'],
    named: 'DURATION: must be a duration',
  },
  { name: 'ttl beyond 30 days', args: ['ttl', 'pr-9', '31d'], named: 'DURATION: must be between' },
  { name: 'ttl with a bad environment name', args: ['ttl', 'PR_9', '1h'], named: 'ENV:' },
  {
    name: 'ttl of an environment that is not a live ephemeral one',
    args: ['ttl', 'pr-404', '1h'],
    named: 'ENV: no live ephemeral environment named pr-404',
  },
  {
    name: 'ttl --cancel with a duration',
    args: ['ttl', 'pr-9', '1h', '--cancel'],
    named: 'arguments:',
  },
  // command --env ENV -- ARGS: what follows -- is the command (this suite's --json would be
  // one of its words), so the refused commands are in command.test.ts.
  {
    name: 'command without --',
    args: ['command', '--env', 'dev', 'state', 'list'],
    named: '--: give the command after --',
  },
  {
    name: 'ttl without a duration',
    args: ['ttl', 'pr-9'],
    named: 'arguments: ttl takes ENV and DURATION (or ENV --cancel)',
  },
  // approve, reject, logs RUN_ID.
  {
    name: 'approve an unknown run id',
    args: ['approve', '20200101T000000Z-abcdef'],
    named: 'run 20200101T000000Z-abcdef has no approval request',
    error: 'NotFound',
  },
  { name: 'approve a path as run id', args: ['approve', '../../etc'], named: 'RUN_ID:' },
  {
    name: 'approve two run ids',
    args: ['approve', '20200101T000000Z-abcdef', '20200101T000000Z-fedcba'],
    named: 'RUN_ID: approve takes exactly one run id',
  },
  {
    name: 'reject with an empty --by',
    args: ['reject', '20200101T000000Z-abcdef', '--by='],
    named: '--by: must not be empty',
  },
  { name: 'logs of a path-like run id', args: ['logs', 'runs/../../x'], named: 'RUN_ID:' },
  {
    name: 'logs of an unknown run id',
    args: ['logs', '20200101T000000Z-abcdef'],
    named: 'no run 20200101T000000Z-abcdef',
    error: 'NotFound',
  },
  // serve --port: decimal digits, 0 to 65535.
  ...['', '3.1e4', '0x7a6a', '65536', '+80', '-1'].map((port) => ({
    name: `serve --port "${port}"`,
    args: ['serve', `--port=${port}`],
    named: port === '' ? '--port: must not be empty' : '--port: must be a port number',
  })),
  {
    name: 'serve --port taking the next option as its value',
    args: ['serve', '--port', '-1'],
    named: "'--port' argument is ambiguous",
  },
];

describe('the CLI refuses bad input: exit 2, the flag named, nothing recorded', () => {
  let ws: Workspace;
  let fixtures: Fixtures;
  const results = new Map<string, CliResult>();
  let homeBefore: string[];
  let gitStatusBefore: string;
  /** What the home looks like once every case has run (computed once, checked by each). */
  let after: {
    runs: unknown;
    outbox: number;
    locks: number;
    schedules: number;
    notes: string;
    home: string[];
    state: string[];
    work: string[];
    gitStatus: string;
    defaultHome: boolean;
  };

  expectCases('cli', CLI_CASES.length);

  beforeAll(async () => {
    ws = await helloWorkspace();
    const first = ws.commit;
    await ws.repo.commitFiles({ 'later/main.tf': 'terraform {}\n' }, 'add later/');
    // Only in the working tree: a project folder not committed, and a link out of the repo.
    await mkdir(join(ws.repo.dir, 'draft'));
    await writeFile(join(ws.repo.dir, 'draft', 'main.tf'), 'terraform {}\n');
    await symlink(tmpdir(), join(ws.repo.dir, 'escape'));
    fixtures = {
      first,
      tree: (await ws.git(['rev-parse', 'HEAD^{tree}'])).trim(),
      blob: (await ws.git(['rev-parse', `HEAD:${PROJECT}/main.tf`])).trim(),
      notRepo: await tempDir('not-a-repo'),
    };
    // The first command makes the home: what it holds then is what must not change.
    expect((await ws.cli(['runs', '--json'])).exitCode).toBe(0);
    homeBefore = await listing(ws.home);
    gitStatusBefore = await ws.git(['status', '--porcelain']);

    await pool(CLI_CASES, 6, async (c) => {
      const args = typeof c.args === 'function' ? c.args(fixtures) : c.args;
      const started = ws.start([...args, '--json']);
      // A case that is wrongly accepted must not hang the suite (serve would run forever).
      const timer = setTimeout(() => started.child.kill('SIGTERM'), 30_000);
      results.set(c.name, await started.done);
      clearTimeout(timer);
    });

    // The listing first: opening the store adds SQLite's -wal and -shm files while it is open.
    const home = await listing(ws.home);
    const runs = await ws.cli(['runs', '--json']);
    const store = ws.store();
    after = {
      runs: JSON.parse(runs.stdout) as unknown,
      outbox: store.outbox.list().length,
      locks: store.locks.list().length,
      schedules: store.schedules.list().length,
      notes: await ws.git(['for-each-ref', 'refs/notes']),
      home,
      state: await listing(join(ws.home, 'state')),
      work: await listing(join(ws.home, 'work')),
      gitStatus: await ws.git(['status', '--porcelain']),
      defaultHome: existsSync(join(ws.repo.dir, '.git', 'stepform')),
    };
  }, 120_000);

  afterAll(() => ws.close());

  it.each(CLI_CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const result = results.get(c.name)!;
    const named = typeof c.named === 'function' ? c.named(fixtures) : c.named;
    expect([result.exitCode, firstLine(result.stderr)]).toEqual([
      2,
      expect.stringContaining(named),
    ]);
    // With --json, stdout is exactly one JSON object: the error, naming the same thing.
    const json = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(json).toEqual({
      error: { name: c.error ?? 'InvalidInput', message: expect.stringContaining(named) },
    });
    // Nothing recorded or created by any case: the home is as the first command left it.
    expect(after).toEqual({
      runs: { runs: [] },
      outbox: 0,
      locks: 0,
      schedules: 0,
      notes: '',
      home: homeBefore,
      state: [],
      work: [],
      gitStatus: gitStatusBefore,
      defaultHome: false,
    });
    refused('cli');
  });
});

// ---------------------------------------------------------------------------------------------
// The executor: the real entrypoint, one job each, its own folders under a fresh root.

interface ExecutorCase {
  readonly name: string;
  /** Changes to a valid plan job (undefined removes the field)... */
  readonly job?: Record<string, unknown>;
  /** ...or the whole command line, given the valid job's JSON and a place for files. */
  readonly argv?: (job: string, root: string) => Promise<readonly string[]> | readonly string[];
  readonly named: string;
}

const EXECUTOR_CASES: readonly ExecutorCase[] = [
  { name: 'runId with a dot', job: { runId: 'run.1' }, named: 'job.runId:' },
  { name: 'runId with a slash', job: { runId: 'runs/../x' }, named: 'job.runId:' },
  { name: 'runId of 81 characters', job: { runId: 'r'.repeat(81) }, named: 'job.runId:' },
  { name: 'runId empty', job: { runId: '' }, named: 'job.runId:' },
  { name: 'verb unknown', job: { verb: 'sh' }, named: 'job.verb:' },
  { name: 'verb missing', job: { verb: undefined }, named: 'job.verb:' },
  { name: 'commit short', job: { commit: 'deadbeef' }, named: 'job.commit:' },
  { name: 'commit a ref name', job: { commit: 'HEAD' }, named: 'job.commit:' },
  { name: 'commit in upper case', job: { commit: 'A'.repeat(40) }, named: 'job.commit:' },
  {
    name: 'repository ext::',
    job: { repository: 'ext::sh -c touch% /tmp/pwned' },
    named: 'job.repository:',
  },
  { name: 'repository file://', job: { repository: 'file:///tmp/repo' }, named: 'job.repository:' },
  {
    name: 'repository that is an option',
    job: { repository: '-oProxyCommand=touch /tmp/pwned' },
    named: 'job.repository:',
  },
  {
    name: 'repository with --upload-pack',
    job: { repository: '--upload-pack=touch /tmp/pwned' },
    named: 'job.repository:',
  },
  {
    name: 'repository with credentials',
    job: { repository: 'https://user:secret@github.com/o/r' },
    named: 'job.repository:',
  },
  { name: 'repository relative', job: { repository: 'repo' }, named: 'job.repository:' },
  { name: 'projectDir absolute', job: { projectDir: '/etc' }, named: 'job.projectDir:' },
  { name: 'projectDir ..', job: { projectDir: '../outside' }, named: 'job.projectDir:' },
  {
    name: 'projectDir climbing out',
    job: { projectDir: 'stacks/../../x' },
    named: 'job.projectDir:',
  },
  {
    name: 'projectDir a hidden segment',
    job: { projectDir: '.git/hooks' },
    named: 'job.projectDir:',
  },
  {
    name: 'environment with a shell command',
    job: { environment: 'dev;rm -rf /' },
    named: 'job.environment:',
  },
  { name: 'environment a substitution', job: { environment: '$(id)' }, named: 'job.environment:' },
  { name: 'environment in upper case', job: { environment: 'Prod' }, named: 'job.environment:' },
  {
    name: 'backend without stateDir',
    job: { backend: { type: 'local' } },
    named: 'job.backend.stateDir:',
  },
  {
    name: 'backend stateDir relative',
    job: { backend: { type: 'local', stateDir: 'state' } },
    named: 'job.backend.stateDir:',
  },
  {
    name: 'backend of an unknown type',
    job: { backend: { type: 'gcs', bucket: 'b' } },
    named: 'job.backend.type:',
  },
  {
    name: 'backend s3 with a bad bucket',
    job: { backend: { type: 's3', bucket: 'My_Bucket', region: 'eu-west-1' } },
    named: 'job.backend.bucket:',
  },
  {
    name: 'artifactsDir relative',
    job: { artifactsDir: 'artifacts/run' },
    named: 'job.artifactsDir:',
  },
  {
    name: 'artifactsDir with a NUL',
    job: { artifactsDir: '/tmp/a\0b' },
    named: 'job.artifactsDir:',
  },
  {
    name: 'artifactsDir with a newline',
    job: { artifactsDir: '/tmp/a\nb' },
    named: 'job.artifactsDir:',
  },
  { name: 'apply without the approved plan', job: { verb: 'apply' }, named: 'job.plan:' },
  {
    name: 'apply with a plan digest not hex',
    job: { verb: 'apply', plan: { dir: '/tmp/plan', sha256: 'z'.repeat(64) } },
    named: 'job.plan.sha256:',
  },
  {
    name: 'command not allowlisted',
    job: { verb: 'command', args: ['workspace', 'delete', 'dev'] },
    named: 'CommandNotAllowed',
  },
  { name: 'command with no words', job: { verb: 'command', args: [] }, named: 'job.args:' },
  { name: 'an unknown key', job: { shell: '/bin/sh' }, named: '"shell"' },
  {
    name: 'a job that is not JSON',
    argv: () => ['--job', '{"runId":'],
    named: 'job: is not valid JSON',
  },
  { name: 'a job that is JSON null', argv: () => ['--job', 'null'], named: 'job:' },
  { name: 'no job at all', argv: () => [], named: 'job: no job given' },
  {
    name: 'both --job and --job-file',
    argv: async (job) => {
      const file = join(await tempDir('job'), 'job.json');
      await writeFile(file, job);
      return ['--job', job, '--job-file', file];
    },
    named: 'arguments: give one job, not 2',
  },
  {
    name: '--job twice',
    argv: (job) => ['--job', job, '--job', job],
    named: 'arguments: give one job, not 2',
  },
  {
    name: '--job-file that does not exist',
    argv: (_job, root) => ['--job-file', join(root, 'nope.json')],
    named: '--job-file: cannot read',
  },
  {
    name: 'an unknown flag',
    argv: (job) => ['--jobs', job],
    named: "arguments: Unknown option '--jobs'",
  },
];

describe('the executor refuses a bad job: exit 2, the field named, nothing created', () => {
  let repository: string;
  let commit: string;
  const ran = new Map<
    string,
    { exitCode: number | null; stdout: string; stderr: string; left: string[] }
  >();

  expectCases('executor', EXECUTOR_CASES.length);

  beforeAll(async () => {
    const repo = await makeRepo();
    repository = repo.dir;
    commit = await repo.commitDir(HELLO_EXAMPLE, PROJECT);
    await pool(EXECUTOR_CASES, 6, async (c) => {
      // Each case has its own root for state, artifacts and work: it must stay empty.
      const jobs = await jobFactory(repository, PROJECT);
      const valid = jobs.job('plan', commit);
      const job = JSON.stringify({ ...valid, ...c.job });
      const argv = c.argv ? await c.argv(JSON.stringify(valid), jobs.root) : ['--job', job];
      const env = { ...process.env, ...COMPILE_CACHE, STEPFORM_WORK_ROOT: jobs.workRoot };
      Reflect.deleteProperty(env, 'STEPFORM_JOB');
      const result = await run(process.execPath, [EXECUTOR_MAIN, ...argv], { env });
      ran.set(c.name, { ...result, left: await listing(jobs.root) });
    });
  }, 120_000);

  it('starts every case from a valid job', async () => {
    const jobs = await jobFactory('/tmp/repo', PROJECT);
    expect(JOB.safeParse(jobs.job('plan', 'f'.repeat(40))).success).toBe(true);
  });

  it.each(EXECUTOR_CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const result = ran.get(c.name)!;
    expect([result.exitCode, result.stderr]).toEqual([2, expect.stringContaining(c.named)]);
    expect(result.stderr).toMatch(/^stepform executor: (InvalidInput|CommandNotAllowed): /);
    expect(result.stdout).toBe('');
    // No artifacts folder, no state, no work folder: the job's root is as it was made.
    expect(result.left).toEqual([]);
    refused('executor');
  });
});

// ---------------------------------------------------------------------------------------------
// The approval server: a real server on loopback over a real engine home. Each case has its own
// pending approval; the bad request must leave it exactly as it was.

interface ApprovalCase {
  readonly name: string;
  /** The server's approver list, when the case needs one. */
  readonly approvers?: readonly string[];
  /** Anything the case needs done before the snapshot of the approval (e.g. a first decision). */
  readonly prepare?: (s: Started, row: StoredApproval) => Promise<void> | void;
  readonly overrides?: Partial<StoredApproval>;
  readonly send: (s: Started, row: StoredApproval) => Promise<Reply>;
  readonly status: 400 | 403 | 404 | 405 | 409 | 410;
  /** What the page says. */
  readonly says: string;
}

const path = (s: Started, row: StoredApproval) => `${s.base}/approvals/${row.id}`;
const approveLink = (s: Started, row: StoredApproval) => link(s, row, 'approve');
const sigOf = (url: string) => new URL(url).searchParams.get('sig') ?? '';

const APPROVAL_CASES: readonly ApprovalCase[] = [
  ...(['sig', 'action', 'expires'] as const).map((field) => ({
    name: `a link without ${field}`,
    send: (s: Started, row: StoredApproval) =>
      request(withQuery(approveLink(s, row), { [field]: null })),
    status: 400 as const,
    says: `query.${field}`,
  })),
  ...(['sig', 'action', 'expires'] as const).map((field) => ({
    name: `a form without ${field}`,
    send: (s: Started, row: StoredApproval) => {
      const fields = linkFields(approveLink(s, row));
      Reflect.deleteProperty(fields, field);
      return post(path(s, row), fields);
    },
    status: 400 as const,
    says: `query.${field}`,
  })),
  {
    name: 'a link to no approval id',
    send: (s) => request(`${s.base}/approvals/?action=approve&expires=1&sig=abc`),
    status: 404,
    says: 'Not found',
  },
  {
    name: 'an action other than approve or reject',
    send: (s, row) => request(withQuery(approveLink(s, row), { action: 'maybe' })),
    status: 400,
    says: 'query.action',
  },
  {
    name: 'expires not a number',
    send: (s, row) => request(withQuery(approveLink(s, row), { expires: 'tomorrow' })),
    status: 400,
    says: 'query.expires',
  },
  {
    name: 'expires of 13 digits',
    send: (s, row) => request(withQuery(approveLink(s, row), { expires: '9'.repeat(13) })),
    status: 400,
    says: 'query.expires',
  },
  {
    name: 'a signature not base64url',
    send: (s, row) => request(withQuery(approveLink(s, row), { sig: 'not base64url!' })),
    status: 400,
    says: 'query.sig',
  },
  {
    name: 'a link that expired (signed so)',
    send: (s, row) => post(path(s, row), linkFields(link(s, row, 'approve', inSeconds(-60_000)))),
    status: 410,
    says: 'expired',
  },
  {
    name: 'a live link to an approval that expired',
    overrides: { expiresAt: inSeconds(-60_000).toISOString() },
    send: (s, row) => post(path(s, row), linkFields(link(s, row, 'approve', inSeconds(3600_000)))),
    status: 410,
    says: 'expired',
  },
  {
    name: 'expires moved to the far future',
    send: (s, row) => request(withQuery(approveLink(s, row), { expires: '999999999999' })),
    status: 403,
    says: 'signature does not match',
  },
  {
    name: 'a signature one character off',
    send: (s, row) => {
      const url = approveLink(s, row);
      return post(path(s, row), { ...linkFields(url), sig: flipLast(sigOf(url)) });
    },
    status: 403,
    says: 'signature does not match',
  },
  {
    name: "the reject link's signature with action=approve",
    send: (s, row) =>
      post(path(s, row), { ...linkFields(link(s, row, 'reject')), action: 'approve' }),
    status: 403,
    says: 'signature does not match',
  },
  {
    name: "another approval's signature",
    send: async (s, row) => {
      const other = await addApproval(s.engine);
      return post(path(s, row), {
        ...linkFields(approveLink(s, row)),
        sig: sigOf(approveLink(s, other)),
      });
    },
    status: 403,
    says: 'signature does not match',
  },
  {
    name: 'an approver added to a bare link',
    send: (s, row) =>
      post(path(s, row), { ...linkFields(approveLink(s, row)), approver: 'mallory' }),
    status: 403,
    says: 'signature does not match',
  },
  {
    name: 'a bare link where approvers are listed',
    approvers: ['alice'],
    send: (s, row) => post(path(s, row), linkFields(approveLink(s, row))),
    status: 403,
    says: 'names no approver',
  },
  {
    name: 'a link signed for someone off the list',
    approvers: ['alice'],
    send: (s, row) => post(path(s, row), linkFields(link(s, row, 'approve', undefined, 'mallory'))),
    status: 403,
    says: 'mallory is not on the approver list',
  },
  {
    name: 'an unknown approval behind a valid signature',
    send: (s, row) => {
      const ghost = { ...row, id: 'A'.repeat(22) };
      return post(path(s, ghost), linkFields(approveLink(s, ghost)));
    },
    status: 404,
    says: `no approval ${'A'.repeat(22)}`,
  },
  ...(['PUT', 'DELETE', 'PATCH'] as const).map((method) => ({
    name: `method ${method}`,
    send: (s: Started, row: StoredApproval) =>
      request(approveLink(s, row), {
        method,
        body: new URLSearchParams(linkFields(approveLink(s, row))),
      }),
    status: 405 as const,
    says: 'Method not allowed',
  })),
  {
    name: 'path traversal in the id',
    send: (s, row) =>
      post(`${s.base}/approvals/..%2F..%2Fetc%2Fpasswd`, linkFields(approveLink(s, row))),
    status: 400,
    says: 'query.id',
  },
  {
    name: 'a malformed escape in the id',
    send: (s) => request(`${s.base}/approvals/%E0%A4%A?action=approve&expires=1&sig=abc`),
    status: 400,
    says: 'id: is not a valid approval id',
  },
  {
    name: 'a body over the form limit (16 KB)',
    send: (s, row) =>
      post(path(s, row), {
        ...linkFields(approveLink(s, row)),
        padding: 'x'.repeat(MAX_FORM_BYTES),
      }),
    status: 400,
    says: 'body: is too large',
  },
  {
    name: 'a form giving action twice',
    send: (s, row) => {
      const fields = linkFields(approveLink(s, row));
      const body = `action=reject&${new URLSearchParams(fields).toString()}`;
      return post(path(s, row), body);
    },
    status: 400,
    says: 'form.action: is given more than once',
  },
  {
    name: 'a link giving sig twice',
    send: (s, row) => {
      const url = approveLink(s, row);
      return request(`${url}&sig=${sigOf(link(s, row, 'reject'))}`);
    },
    status: 400,
    says: 'query.sig: is given more than once',
  },
  {
    name: 'a JSON body instead of a form',
    send: (s, row) =>
      request(path(s, row), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(linkFields(approveLink(s, row))),
      }),
    status: 400,
    says: 'query.',
  },
  { name: 'an empty form', send: (s, row) => post(path(s, row), ''), status: 400, says: 'query.' },
  {
    name: 'a link for a run that ended',
    prepare: (s, row) => {
      s.engine.stores.runs.finish(row.runId, 'failed', new Date().toISOString(), 'E: x');
    },
    send: (s, row) => post(path(s, row), linkFields(approveLink(s, row))),
    status: 409,
    says: 'it ended failed',
  },
  // The run console, served beside it: its filters and run ids are input too.
  ...(
    [
      ['a console filter of an unknown status', '/?status=exploded', 400, 'query.status:'],
      [
        'a console filter given twice',
        '/?environment=dev&environment=prod',
        400,
        'query.environment: is given more than once',
      ],
      [
        'a console filter that does not exist',
        '/?colour=red',
        400,
        'query.colour: is not a filter',
      ],
      ['a console filter holding a control character', '/?project=a%07b', 400, 'query.project:'],
      ['a run page of a malformed run id', '/runs/..%2Fetc', 400, 'runId:'],
      [
        'a run page of no run',
        '/runs/20990101T000000Z-000000',
        404,
        'no run 20990101T000000Z-000000',
      ],
      ['a run event stream of a malformed run id', '/runs/a%00b/events', 400, 'runId:'],
    ] as const
  ).map(([name, target, status, says]) => ({
    name,
    send: (s: Started) => request(`${s.base}${target}`),
    status,
    says,
  })),
  {
    name: 'a replayed decision',
    prepare: async (s, row) => {
      expect((await post(path(s, row), linkFields(link(s, row, 'reject')))).status).toBe(200);
    },
    send: (s, row) => post(path(s, row), linkFields(approveLink(s, row))),
    status: 409,
    says: 'already',
  },
];

describe('the approval server refuses a bad request: its 4xx, nothing decided', () => {
  const servers = new Map<string, Started>();
  let bodies: string[] = [];

  expectCases('approval server', APPROVAL_CASES.length);

  beforeAll(async () => {
    servers.set('open', await startApprovalServer());
    servers.set('alice', await startApprovalServer({ approvers: ['alice'] }));
  });

  afterAll(async () => {
    bodies = await stopServers();
    // Not one answer, to a good request or a bad one, carried the task token.
    expect(bodies.length).toBeGreaterThan(APPROVAL_CASES.length);
    for (const body of bodies) expect(body).not.toContain(TASK_TOKEN);
  });

  it.each(APPROVAL_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const s = servers.get(c.approvers ? 'alice' : 'open')!;
    const row = await addApproval(s.engine, c.overrides);
    await c.prepare?.(s, row);
    const before = await s.engine.stores.approvals.get(row.id);

    const reply = await c.send(s, row);

    expect([reply.status, reply.body]).toEqual([c.status, expect.stringContaining(c.says)]);
    expect(reply.body).not.toContain(TASK_TOKEN);
    expect(await s.engine.stores.approvals.get(row.id)).toEqual(before);
    if (c.prepare === undefined) expect(before?.status).toBe('pending');
    refused('approval server');
  });
});
