// The executor image's Dockerfile, without a Docker engine: hadolint finds nothing in it, and
// it builds the versions toolchain/pins.ts names, as a non-root user, from paths that exist.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix } from 'node:path';
import { BATCH_ARTIFACTS_ROOT } from '../core/contracts/job-input.ts';
import { LOCKED_MODULES } from '../toolchain/lock-providers.ts';
import { REPO_ROOT } from '../toolchain/paths.ts';
import {
  MIRROR_HOSTNAMES,
  OPA_PACKAGE,
  OPA_VERSION,
  OPENTOFU_PACKAGE,
  OPENTOFU_VERSION,
  PROVIDER_GO_TOOLCHAIN,
  PROVIDERS,
} from '../toolchain/pins.ts';
import { run } from '../toolchain/process.ts';
import { ensurePythonTools, pythonToolPath } from '../toolchain/python-tools.ts';
import { readResult } from '../local/executor-process.ts';
import { jobFactory } from '../test/support/executor.ts';
import { HELLO_EXAMPLE, makeRepo } from '../test/support/repo.ts';
import { IMAGE_ENTRYPOINT } from './entrypoint.ts';

const DOCKERFILE = join(REPO_ROOT, 'executor-image', 'Dockerfile');

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** The instructions of a Dockerfile, continuation lines joined and comments left out. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (pending === undefined && line === '')) continue;
    const continued = line.endsWith('\\');
    const part = continued ? line.slice(0, -1).trim() : line;
    pending = pending === undefined ? part : `${pending} ${part}`;
    if (continued) continue;
    const [keyword = '', ...rest] = pending.split(/\s+/);
    instructions.push({ keyword: keyword.toUpperCase(), args: rest.join(' ') });
    pending = undefined;
  }
  return instructions;
}

/** Options (`--from=x`) and operands of an instruction's arguments. */
function splitArgs(args: string): { flags: string[]; operands: string[] } {
  const words = args.split(' ');
  return {
    flags: words.filter((word) => word.startsWith('--')),
    operands: words.filter((word) => !word.startsWith('--')),
  };
}

/** Whether a COPY source (a path or a `dir/*.ext` glob) names something in the repository. */
async function sourceExists(source: string): Promise<boolean> {
  if (!source.includes('*')) return existsSync(join(REPO_ROOT, source));
  const pattern = new RegExp(
    `^${source
      .split('/')
      .at(-1)!
      .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '[^/]*')}$`,
  );
  const names = await readdir(join(REPO_ROOT, dirname(source))).catch(() => []);
  return names.some((name) => pattern.test(name));
}

describe('executor-image/Dockerfile', () => {
  let text: string;
  let instructions: Instruction[];
  beforeAll(async () => {
    text = await readFile(DOCKERFILE, 'utf8');
    instructions = parseDockerfile(text);
  });
  const all = (keyword: string) => instructions.filter((i) => i.keyword === keyword);

  describe('hadolint', () => {
    beforeAll(async () => {
      await ensurePythonTools(process.env, (line) => process.stdout.write(`${line}\n`));
    }, 600_000);

    it('finds nothing to report', async () => {
      // No configuration from the user's home or HADOLINT_* variables: only the repository's.
      const home = await mkdtemp(join(tmpdir(), 'stepform-hadolint-'));
      const env = Object.fromEntries(
        Object.entries(process.env).filter(([name]) => !name.startsWith('HADOLINT_')),
      );
      const result = await run(
        pythonToolPath(process.env, 'hadolint'),
        ['--no-color', 'executor-image/Dockerfile'],
        { cwd: REPO_ROOT, env: { ...env, HOME: home, XDG_CONFIG_HOME: home } },
      );
      expect({ exitCode: result.exitCode, output: result.stdout + result.stderr }).toEqual({
        exitCode: 0,
        output: '',
      });
    });
  });

  it('builds the OpenTofu version and the providers that pins.ts names', () => {
    // The global arguments, declared before the first FROM with their values.
    const globals = instructions.slice(
      0,
      instructions.findIndex((i) => i.keyword === 'FROM'),
    );
    const defaults = new Map(
      globals
        .filter((i) => i.keyword === 'ARG')
        .map(({ args }) => {
          const [name = '', value] = args.split('=');
          return [name, value];
        }),
    );
    expect(defaults.get('OPENTOFU_VERSION')).toBe(OPENTOFU_VERSION);
    expect(text).toContain(` ${OPENTOFU_PACKAGE}`);
    for (const pin of PROVIDERS) {
      const version = `PROVIDER_${pin.type.toUpperCase()}_VERSION`;
      expect(defaults.get(version)).toBe(pin.version);
      expect(text).toContain(` ${pin.goPackage}`);
      expect(text).toContain(`"${pin.namespace}/${pin.type}/\${${version}}/`);
    }
  });

  it('builds the pinned OPA with the pinned toolchain and checks its committed SHA-256', () => {
    const argument = instructions.find(
      (i) => i.keyword === 'ARG' && i.args.startsWith('OPA_VERSION='),
    );
    expect(argument?.args).toBe(`OPA_VERSION=${OPA_VERSION}`);
    const build = all('RUN').find(({ args }) => args.includes(` ${OPA_PACKAGE}`));
    expect(build?.args).toContain(`GOTOOLCHAIN=${PROVIDER_GO_TOOLCHAIN} `);
    expect(build?.args).toContain("-trimpath -buildvcs=false -ldflags='-s -w'");
    // The checksum file of toolchain/opa-build.ts, for the target platform, or the build fails.
    expect(build?.args).toContain('${TARGETOS}_${TARGETARCH}/opa');
    expect(build?.args).toMatch(/test -s \/tmp\/opa\.sha256 && sha256sum -c \/tmp\/opa\.sha256$/);
    expect(text).toMatch(/^COPY toolchain\/go\/opa\/ \.\/$/m);
    expect(text).toMatch(/^COPY --from=opa .* \/usr\/local\/bin\/opa$/m);
    expect(text).toContain('STEPFORM_OPA=/usr/local/bin/opa');
  });

  it('builds the providers with the pinned Go toolchain, as toolchain/go-build.ts does', () => {
    const goImage = `golang:${PROVIDER_GO_TOOLCHAIN.replace(/^go/, '')}-bookworm`;
    const froms = all('FROM').map(({ args }) => splitArgs(args).operands[0]);
    expect(froms).toContain(goImage);
    expect(text).toContain(`GOTOOLCHAIN=${PROVIDER_GO_TOOLCHAIN} `);
    for (const setting of ['CGO_ENABLED=0', 'GOFLAGS=-mod=readonly', 'GOAMD64=v1', '-trimpath']) {
      expect(text).toContain(setting);
    }
  });

  it('runs on the Node version that package.json pins', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    const nodeImages = all('FROM')
      .map(({ args }) => splitArgs(args).operands[0] ?? '')
      .filter((image) => image.startsWith('node:'));
    expect(nodeImages.length).toBeGreaterThan(0);
    for (const image of nodeImages) {
      expect(image).toBe(`node:${pkg.devDependencies.node ?? '?'}-bookworm-slim`);
    }
  });

  it('mirrors every provider under both registry hostnames, checked against a lock file', () => {
    const build = all('RUN').find(({ args }) => args.includes('/opt/stepform/providers/'));
    for (const hostname of MIRROR_HOSTNAMES) expect(build?.args).toContain(hostname);
    // The binary once, and a relative link to it under the other hostname that resolves to it.
    const packageDir = /package="([^"]+)"/.exec(build?.args ?? '')?.[1] ?? '?';
    const args = (build?.args ?? '').replaceAll('${package}', packageDir);
    expect(packageDir.split('/')).toHaveLength(4);
    const installed = /install -D -m 0755 "[^"]+" "([^"]+)"/.exec(args)?.[1];
    const [, target, link] = /ln -s "([^"]+)"\s+"([^"]+)"/.exec(args) ?? [];
    expect(installed).toContain(`/${MIRROR_HOSTNAMES[0]}/`);
    expect(link).toContain(`/${MIRROR_HOSTNAMES[1]}/`);
    expect(posix.resolve(posix.dirname(link ?? '/'), target ?? '')).toBe(installed);
    const verify = all('RUN').find(({ args }) => args.includes('toolchain/verify-mirror.ts'));
    expect(LOCKED_MODULES.some((module) => verify?.args.includes(module))).toBe(true);
    expect(text).toMatch(
      /^COPY --from=mirror .*\/opt\/stepform\/providers \/opt\/stepform\/providers$/m,
    );
    expect(text).toContain('STEPFORM_PROVIDER_MIRROR=/opt/stepform/providers');
    expect(text).toMatch(/^COPY --from=tofu .* \/usr\/local\/bin\/tofu$/m);
    expect(text).toContain('STEPFORM_TERRAFORM_BIN=/usr/local/bin/tofu');
  });

  it('runs as a non-root user that it creates', () => {
    const user = all('USER').at(-1)?.args;
    expect(user).toBe('10001');
    expect(text).toMatch(/useradd .*--uid 10001 /);
  });

  it("gives the job's user the artifacts folder PrepareRun puts each job's artifacts in", () => {
    // Before: the executor's first act, mkdir /artifacts/<run>/<step>, failed with EACCES.
    const install = all('RUN').find(({ args }) =>
      args.includes(`install -d -o 10001 -g 10001 -m 0700 ${BATCH_ARTIFACTS_ROOT}`),
    );
    expect(install).toBeDefined();
  });

  it('starts the executor with an exec-form ENTRYPOINT', () => {
    const entrypoints = all('ENTRYPOINT');
    expect(entrypoints).toHaveLength(1);
    const command = JSON.parse(entrypoints[0]!.args) as unknown;
    // The bundle the bundle stage builds (below, that stage runs here).
    expect(command).toEqual(IMAGE_ENTRYPOINT);
    expect(text).toMatch(/^COPY --from=bundle \/out\/ \.\/lib\/$/m);
  });

  describe('the bundle stage, run here', () => {
    let stageDir: string;
    let app: string;
    beforeAll(async () => {
      stageDir = await mkdtemp(join(tmpdir(), 'stepform-bundle-stage-'));
      app = await mkdtemp(join(tmpdir(), 'stepform-image-app-'));
    });
    afterAll(async () => {
      for (const dir of [stageDir, app]) await rm(dir, { recursive: true, force: true });
    });

    it('builds the executor from only what the stage copies, and the bundle runs a job with no node_modules', async () => {
      // The stage's instructions, from its FROM to the next.
      const from = instructions.findIndex(
        (i) => i.keyword === 'FROM' && i.args.endsWith(' AS bundle'),
      );
      const next = instructions.findIndex((i, index) => index > from && i.keyword === 'FROM');
      const stage = instructions.slice(from + 1, next);
      // COPY: the build context's paths, as the .dockerignore leaves them (no tests).
      for (const { operands } of stage
        .filter((i) => i.keyword === 'COPY')
        .map(({ args }) => splitArgs(args))) {
        const destination = join(stageDir, operands.at(-1)!);
        for (const source of operands.slice(0, -1)) {
          const target = source.endsWith('/') ? destination : join(destination, basename(source));
          await cp(join(REPO_ROOT, source), target, {
            recursive: true,
            filter: (path) => !/(\.test\.ts|node_modules|\.terraform)$/.test(path),
          });
        }
      }
      // `npm ci` from the same lock file: this clone's node_modules.
      await symlink(join(REPO_ROOT, 'node_modules'), join(stageDir, 'node_modules'));
      const build = stage.filter((i) => i.keyword === 'RUN').at(-1)?.args ?? '';
      expect(build).toBe('node toolchain/build-executor.ts /out');
      const out = join(stageDir, 'out');
      const built = await run(process.execPath, ['toolchain/build-executor.ts', out], {
        cwd: stageDir,
      });
      expect({ exitCode: built.exitCode, stderr: built.stderr }).toEqual({
        exitCode: 0,
        stderr: '',
      });

      // The final stage's /app: package.json and the bundle, nothing else. A plan job of the
      // hello example, run as the ENTRYPOINT runs it, where no node_modules can be found.
      await cp(join(REPO_ROOT, 'package.json'), join(app, 'package.json'));
      await cp(out, join(app, 'lib'), { recursive: true });
      const repo = await makeRepo();
      try {
        const commit = await repo.commitDir(HELLO_EXAMPLE, 'stack');
        const jobs = await jobFactory(repo.dir, 'stack', 'dev');
        const job = jobs.job('plan', commit);
        const [node, ...args] = IMAGE_ENTRYPOINT;
        expect(node).toBe('node');
        const ran = await run(process.execPath, [...args, '--job', JSON.stringify(job)], {
          cwd: app,
          env: { ...process.env, NODE_PATH: '' },
        });
        expect({ exitCode: ran.exitCode, stderr: ran.stderr }).toEqual({
          exitCode: 0,
          stderr: '',
        });
        const result = await readResult(job.artifactsDir);
        expect(result).toMatchObject({ status: 'succeeded', summary: { add: 3 } });
      } finally {
        await rm(repo.dir, { recursive: true, force: true });
      }
    }, 180_000);
  });

  it('copies from the build context only paths that exist', async () => {
    const sources = all('COPY')
      .map(({ args }) => splitArgs(args))
      .filter(({ flags }) => !flags.some((flag) => flag.startsWith('--from=')))
      .flatMap(({ operands }) => operands.slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect([source, await sourceExists(source)]).toEqual([source, true]);
    }
  });
});
