// The installable package, as a user gets it: `npm run build:package` into a temporary
// folder, `npm pack`, `npm install --offline` of the tarball into a git repository outside the
// clone, then the installed `stepform` there: --version, setup, doctor, plan, apply, show, runs.
// Every module those load is recorded (a module hook): none is TypeScript or outside the
// package, the read-only verbs load neither the workflow engine nor the AWS SDK, and plan and
// apply load no AWS Lambda client (aws-local-stepfunctions gets the stub instead).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, delimiter, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { run } from '../../toolchain/process.ts';
import { REPO_ROOT, tempDir } from '../support/repo.ts';
import {
  HELLO_RESOURCES,
  PROJECT,
  type Workspace,
  expectExitZero,
  helloWorkspace,
} from '../support/cli.ts';

const NPM_PACK = z.array(
  z.looseObject({
    filename: z.string(),
    size: z.number(),
    unpackedSize: z.number(),
    files: z.array(z.object({ path: z.string() })),
  }),
);

const METAFILE = z.object({
  outputs: z.record(z.string(), z.object({ inputs: z.record(z.string(), z.unknown()) })),
});

/** What only a workflow run needs: the ASL interpreter, the engine, the AWS SDK. */
const RUN_ONLY = /aws-local-stepfunctions|@aws-sdk\/|local\/engine\/engine\.ts$/;

/** The SDK that only the executor's own clone-token request may load, never the local engine. */
const LAMBDA_SDK = /node_modules\/@aws-sdk\/(?:client-lambda|credential-providers)\//;

/** What aws-local-stepfunctions gets instead (toolchain/build-package.ts). */
const LAMBDA_STUB = /toolchain\/package-stubs\/local-lambda-stub\.ts$/;

/** Records every module a Node process loads, one URL a line, into $STEPFORM_TEST_LOADED. */
const LOAD_HOOK = `import { registerHooks } from 'node:module';
import { appendFileSync } from 'node:fs';
registerHooks({
  load(url, context, nextLoad) {
    appendFileSync(process.env.STEPFORM_TEST_LOADED, url + '\\n');
    return nextLoad(url, context);
  },
});
`;

let scratch: string;
let dist: string;
let ws: Workspace;
let installed: string;
let hook: string;
/** The package's output files (lib/…) holding code that only a workflow run needs. */
let runOnlyFiles: Set<string>;
/** The package's output files holding AWS Lambda SDK code, and those holding the stub. */
let lambdaFiles: Set<string>;
let stubFiles: Set<string>;
let expectedVersion: string;
let appliedRunId: string;

interface Ran {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The files of modules the CLI (and the executors it started) loaded. */
  readonly loaded: string[];
  readonly ms: number;
}

/** The installed `stepform` (its bin link), the pinned Node first on PATH, as npx would. */
async function stepform(args: readonly string[], env: Record<string, string> = {}): Promise<Ran> {
  const loadedLog = join(scratch, `loaded-${Math.random().toString(16).slice(2)}.txt`);
  await writeFile(loadedLog, '');
  const started = performance.now();
  const result = await run(join(ws.repo.dir, 'node_modules', '.bin', 'stepform'), args, {
    cwd: ws.repo.dir,
    env: {
      ...ws.env,
      PATH: `${dirname(process.execPath)}${delimiter}${ws.env.PATH ?? ''}`,
      NODE_OPTIONS: `--import=${pathToFileURL(hook).href}`,
      STEPFORM_TEST_LOADED: loadedLog,
      ...env,
    },
  });
  const ms = performance.now() - started;
  const loaded = (await readFile(loadedLog, 'utf8'))
    .split('\n')
    .filter((url) => url.startsWith('file:'))
    .map((url) => fileURLToPath(url));
  return { ...result, loaded, ms };
}

async function checked(command: string, args: readonly string[], cwd: string): Promise<string> {
  const result = await run(command, args, { cwd });
  if (result.exitCode !== 0)
    throw new Error(`${command} ${args.join(' ')} exited ${result.exitCode}: ${result.stderr}`);
  return result.stdout;
}

beforeAll(async () => {
  scratch = await tempDir('package');
  dist = join(scratch, 'dist');
  hook = join(scratch, 'load-hook.mjs');
  await writeFile(hook, LOAD_HOOK);
  const manifest = z
    .looseObject({ version: z.string() })
    .parse(JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')));
  const commit = (await checked('git', ['rev-parse', 'HEAD'], REPO_ROOT)).trim();
  expectedVersion = `stepform ${manifest.version} (commit ${commit})`;

  await checked(
    process.execPath,
    [join(REPO_ROOT, 'toolchain', 'build-package.ts'), dist],
    REPO_ROOT,
  );
  const meta = METAFILE.parse(JSON.parse(await readFile(join(dist, 'meta.json'), 'utf8')));
  const outputsWith = (pattern: RegExp) =>
    new Set(
      Object.entries(meta.outputs)
        .filter(([file]) => file.endsWith('.js'))
        .filter(([, output]) => Object.keys(output.inputs).some((input) => pattern.test(input)))
        .map(([file]) => basename(file)),
    );
  runOnlyFiles = outputsWith(RUN_ONLY);
  lambdaFiles = outputsWith(LAMBDA_SDK);
  stubFiles = outputsWith(LAMBDA_STUB);

  const packed = NPM_PACK.parse(
    JSON.parse(
      await checked('npm', ['pack', dist, '--json', '--pack-destination', scratch], scratch),
    ),
  );
  const [tarball] = packed;
  if (!tarball) throw new Error('npm pack made no tarball');
  process.stdout.write(
    `package: ${(tarball.size / 1e6).toFixed(2)} MB packed, ${(tarball.unpackedSize / 1e6).toFixed(2)} MB unpacked, ${tarball.files.length} files\n`,
  );
  expect(tarball.files.map((f) => f.path).filter((path) => path.endsWith('.ts'))).toEqual([]);
  expect(tarball.files.map((f) => f.path)).not.toContain('meta.json');

  ws = await helloWorkspace();
  const installStarted = performance.now();
  // A cache of its own: nothing from the registry, nothing left in the user's cache.
  await checked(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--offline',
      '--cache',
      join(scratch, 'npm-cache'),
      join(scratch, tarball.filename),
    ],
    ws.repo.dir,
  );
  process.stdout.write(
    `npm install --offline of the tarball: ${(performance.now() - installStarted).toFixed(0)} ms\n`,
  );
  installed = join(ws.repo.dir, 'node_modules', 'stepform');
}, 120_000);

afterAll(async () => {
  ws.close();
  await rm(scratch, { recursive: true, force: true });
});

describe('the installed package', () => {
  it('installs alone: the bundle has no dependency to fetch', async () => {
    expect((await readdir(join(ws.repo.dir, 'node_modules'))).sort()).toEqual([
      '.bin',
      '.package-lock.json',
      'stepform',
    ]);
    const manifest = z
      .looseObject({
        bin: z.record(z.string(), z.string()),
        engines: z.object({ node: z.string() }),
      })
      .parse(JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')));
    expect(manifest.bin).toEqual({ stepform: 'bin/stepform.js' });
    expect(manifest.engines.node).toBe('^22.18.0 || >=24.2.0');
  });

  it('--version prints the version and the commit it was built from, as the clone does', async () => {
    const result = await stepform(['--version']);
    expect({ exitCode: result.exitCode, stdout: result.stdout }).toEqual({
      exitCode: 0,
      stdout: `${expectedVersion}\n`,
    });
    const clone = await run(process.execPath, [join(REPO_ROOT, 'bin', 'stepform.js'), '--version']);
    expect(clone.stdout).toBe(result.stdout);
  });

  it("keeps Node's compile cache in Stepform's cache, unless the user has one or none", async () => {
    const bin = join(installed, 'bin', 'stepform.js');
    const { NODE_COMPILE_CACHE: testCache, ...userEnv } = ws.env;
    expect(testCache).toBeDefined();
    const version = async (env: NodeJS.ProcessEnv) => {
      const result = await run(process.execPath, [bin, '--version'], { cwd: ws.repo.dir, env });
      return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
    };
    const versionOk = { exitCode: 0, stdout: `${expectedVersion}\n`, stderr: '' };
    const cache = join(scratch, 'user-cache');
    expect(await version({ ...userEnv, STEPFORM_CACHE_DIR: cache })).toEqual(versionOk);
    const compileCache = join(cache, 'node-compile-cache');
    expect((await stat(compileCache)).mode & 0o777).toBe(0o700);
    expect(await readdir(compileCache)).toEqual([expect.stringMatching(/^v\d+\./)]);

    // The user's own setting wins; a cache that cannot be made is done without, silently.
    const own = join(scratch, 'own-cache');
    expect(
      await version({
        ...userEnv,
        STEPFORM_CACHE_DIR: join(scratch, 'c1'),
        NODE_COMPILE_CACHE: own,
      }),
    ).toEqual(versionOk);
    expect(existsSync(join(scratch, 'c1'))).toBe(false);
    expect(existsSync(own)).toBe(true);
    expect(
      await version({
        ...userEnv,
        STEPFORM_CACHE_DIR: join(scratch, 'c2'),
        NODE_DISABLE_COMPILE_CACHE: '1',
      }),
    ).toEqual(versionOk);
    expect(existsSync(join(scratch, 'c2'))).toBe(false);
    const notAFolder = join(scratch, 'not-a-folder');
    await writeFile(notAFolder, '');
    expect(await version({ ...userEnv, STEPFORM_CACHE_DIR: notAFolder })).toEqual(versionOk);
  });

  it('setup finds what it would build already built, then says the machine is ready', async () => {
    const result = await stepform(['setup']);
    expectExitZero(result);
    expect(result.stderr).toMatch(/^\[setup\] engine: /m);
    expect(result.stderr).toMatch(/^\[setup\] OPA: .* \(cached\)$/m);
    expect(result.stdout).toMatch(/^all ready$/m);
  });

  it('doctor names `stepform setup` as the fix, not a script of the clone', async () => {
    const result = await stepform(['doctor'], { STEPFORM_TERRAFORM_BIN: join(scratch, 'no-tofu') });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(
      /^MISSING +engine .*\n +fix: run `stepform setup` to compile OpenTofu/m,
    );
  });

  it('doctor finds this machine ready', async () => {
    const result = await stepform(['doctor']);
    expectExitZero(result);
    expect(result.stdout).toMatch(/^all ready$/m);
  });

  it('plans and applies the hello example, loading nothing but the package', async () => {
    const plan = await stepform(['plan', '--dir', PROJECT, '--env', 'dev', '--json']);
    expectExitZero(plan);
    expect(JSON.parse(plan.stdout)).toMatchObject({
      status: 'succeeded',
      workflow: 'plan',
      commit: ws.commit,
      summary: { add: 3, change: 0, destroy: 0 },
    });
    expect(ws.resources('dev')).toBeUndefined();

    const apply = await stepform([
      'apply',
      '--dir',
      PROJECT,
      '--env',
      'dev',
      '--auto-approve',
      '--json',
    ]);
    expectExitZero(apply);
    const applied = z.object({ runId: z.string() }).parse(JSON.parse(apply.stdout));
    appliedRunId = applied.runId;
    expect(JSON.parse(apply.stdout)).toMatchObject({
      status: 'succeeded',
      workflow: 'plan-apply',
      phase: 'applied',
      outputs: { greeting: { sensitive: false, value: 'hello, world' } },
    });
    expect(ws.resources('dev')).toEqual(HELLO_RESOURCES);

    // The CLI and both executor jobs ran the bundle: no TypeScript, nothing from the clone.
    const executor = join(installed, 'lib', 'executor.js');
    expect(apply.loaded.filter((file) => file === executor)).toHaveLength(2);
    expect(apply.loaded.filter((file) => !file.startsWith(installed) && file !== hook)).toEqual([]);
    expect(apply.loaded.filter((file) => file.endsWith('.ts'))).toEqual([]);
    expect(apply.loaded.some((file) => runOnlyFiles.has(basename(file)))).toBe(true);

    // The engine's library got the stub, not the AWS Lambda client: the executor's own (its
    // clone-token request on AWS) is in the package, and neither run loaded it.
    expect(lambdaFiles.size).toBeGreaterThan(0);
    const loadedLambda = (ran: Ran) => ran.loaded.filter((file) => lambdaFiles.has(basename(file)));
    expect({ plan: loadedLambda(plan), apply: loadedLambda(apply) }).toEqual({
      plan: [],
      apply: [],
    });
    expect(apply.loaded.some((file) => stubFiles.has(basename(file)))).toBe(true);
  });

  it('--help, --version, runs and show load neither the engine nor the AWS SDK', async () => {
    const runs = await stepform(['runs', '--json']);
    expect(runs.exitCode).toBe(0);
    const { runs: listed } = z
      .object({ runs: z.array(z.object({ runId: z.string(), workflow: z.string() })) })
      .parse(JSON.parse(runs.stdout));
    const applied = listed.find((r) => r.workflow === 'plan-apply');
    if (!applied) throw new Error(`no plan-apply run in ${runs.stdout}`);
    const show = await stepform(['show', applied.runId]);
    expect(show.exitCode).toBe(0);
    expect(show.stdout).toContain('terraform_data.greeting');
    const help = await stepform(['--help']);
    expect(help.exitCode).toBe(0);
    const version = await stepform(['--version']);
    const loadedRunOnly = (ran: Ran) =>
      ran.loaded.filter((file) => runOnlyFiles.has(basename(file)));
    expect({
      runs: loadedRunOnly(runs),
      show: loadedRunOnly(show),
      help: loadedRunOnly(help),
      version: loadedRunOnly(version),
    }).toEqual({ runs: [], show: [], help: [], version: [] });
    process.stdout.write(
      `start: --help ${help.ms.toFixed(0)} ms, --version ${version.ms.toFixed(0)} ms, runs ${runs.ms.toFixed(0)} ms, show ${show.ms.toFixed(0)} ms (one run each, with the module hook)\n`,
    );
  });

  it('serve draws a run from its ASL file and serves the console script, from the package', async () => {
    const child = spawn(
      join(ws.repo.dir, 'node_modules', '.bin', 'stepform'),
      ['serve', '--port', '0'],
      {
        cwd: ws.repo.dir,
        env: { ...ws.env, PATH: `${dirname(process.execPath)}${delimiter}${ws.env.PATH ?? ''}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      let output = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const [found] = /http:\/\/127\.0\.0\.1:\d+/.exec(output) ?? [];
          if (found) resolve(found);
        });
        child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${output}`)));
      });
      const page = await fetch(`${url}/runs/${appliedRunId}`);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('<svg');
      expect(html).toContain('RunApplyJob');
      const script = await fetch(`${url}/console.js`);
      expect(script.status).toBe(200);
      expect(await script.text()).toBe(
        await readFile(join(REPO_ROOT, 'local', 'console', 'console.js'), 'utf8'),
      );
    } finally {
      const exited = once(child, 'exit');
      child.kill('SIGINT');
      await exited;
    }
  });

  it('a job that finds no engine names `stepform setup`, not a script of the clone', async () => {
    // No Terraform on PATH (only Node's folder and the system's), none built in the cache.
    const emptyCache = join(scratch, 'empty-cache');
    await mkdir(emptyCache, { recursive: true });
    const result = await stepform(['plan', '--dir', PROJECT, '--env', 'engineless'], {
      STEPFORM_TERRAFORM_BIN: join(scratch, 'no-tofu'),
      STEPFORM_CACHE_DIR: emptyCache,
      PATH: [dirname(process.execPath), '/usr/bin', '/bin'].join(delimiter),
    });
    expect(result.exitCode).toBe(1);
    const said = result.stdout + result.stderr;
    expect(said).toContain('Run `stepform setup` to build the pinned OpenTofu');
    expect(said).not.toContain('npm run setup');
  });

  it('refuses a Node outside its range in one line, before loading the bundle', async () => {
    const bin = join(installed, 'bin', 'stepform.js');
    const onNode = async (version: string) => {
      // Stands in for an older Node: the bin reads process.versions.node, nothing else.
      const pretend = `data:text/javascript,Object.defineProperty(process,'versions',{value:{...process.versions,node:'${version}'}})`;
      const result = await run(process.execPath, [`--import=${pretend}`, bin, '--version']);
      return { exitCode: result.exitCode, stderr: result.stderr.replace(/\(.*\)/, '(NODE)') };
    };
    const refused = (version: string) => ({
      exitCode: 1,
      stderr: `stepform: needs Node ^22.18.0 || >=24.2.0; this is Node ${version} (NODE)\n`,
    });
    for (const version of ['20.19.0', '22.17.1', '23.11.0', '24.1.0'])
      expect(await onNode(version)).toEqual(refused(version));
    for (const version of ['22.18.0', '24.2.0', '26.0.0'])
      expect(await onNode(version)).toEqual({ exitCode: 0, stderr: '' });
  });
});
