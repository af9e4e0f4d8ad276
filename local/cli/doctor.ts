// `stepform doctor`: is this machine ready to run Stepform? One line per requirement, and for
// anything missing, what to do about it.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveEngine, whichOnPath } from '../../toolchain/engine.ts';
import { resolveOpa } from '../../toolchain/opa.ts';
import { REPO_ROOT, goPlatform, providerMirrorDir } from '../../toolchain/paths.ts';
import { MIRROR_HOSTNAMES, OPENTOFU_VERSION, PROVIDERS } from '../../toolchain/pins.ts';
import { mirrorPackageDir, providerBinaryName } from '../../toolchain/provider-mirror.ts';
import { providerPackageHash } from '../../toolchain/provider-hash.ts';
import { run } from '../../toolchain/process.ts';
import { compareVersions } from '../../toolchain/semver.ts';
import { PACKAGE_BUILD } from '../package-build.ts';
import { SETUP_COMMAND } from '../../toolchain/setup-command.ts';

type Env = Readonly<Record<string, string | undefined>>;

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  /** What to do when the check fails. */
  readonly fix?: string;
}

/** What builds a missing tool: the package's own verb; a clone's set-up, which does more. */
const SETUP = `\`${SETUP_COMMAND}\``;

const EXAMPLE_LOCK = join(REPO_ROOT, 'terraform', 'examples', 'hello', '.terraform.lock.hcl');

function checkNode(): Check {
  // The package's bin has refused any Node outside its range (NODE_MINIMUMS) before this.
  const ok = PACKAGE_BUILD !== undefined || compareVersions(process.versions.node, '24.0.0') >= 0;
  return {
    name: 'node',
    ok,
    detail: `Node ${process.version} (${process.execPath})`,
    ...(ok
      ? {}
      : {
          fix: 'run Stepform through npm (npx stepform, npm run ...), which uses the pinned Node 24',
        }),
  };
}

async function checkEngine(env: Env): Promise<Check> {
  const resolution = await resolveEngine(env);
  if (resolution.found) {
    const { engine } = resolution;
    const label = engine.name === 'opentofu' ? 'OpenTofu' : 'Terraform';
    return {
      name: 'engine',
      ok: true,
      detail: `${label} ${engine.version} at ${engine.path} (from ${engine.source})`,
    };
  }
  return {
    name: 'engine',
    ok: false,
    detail: `no usable OpenTofu or Terraform: ${resolution.skipped.join('; ')}`,
    fix: `run ${SETUP} to compile OpenTofu ${OPENTOFU_VERSION} (needs Go 1.26), or put tofu/terraform on PATH`,
  };
}

/** OPA, for the policy checks of stepform.yaml. */
async function checkOpa(env: Env): Promise<Check> {
  try {
    const opa = await resolveOpa(env);
    return {
      name: 'opa',
      ok: true,
      detail: `OPA ${opa.version} at ${opa.path} (from ${opa.source})`,
    };
  } catch (error) {
    return {
      name: 'opa',
      ok: false,
      detail: (error as Error).message.replace(/: run `[^`]*setup`.*$/, ''),
      fix: `run ${SETUP} to compile the pinned OPA (needs Go 1.26), or set STEPFORM_OPA`,
    };
  }
}

async function checkProviders(env: Env): Promise<Check[]> {
  const mirror = providerMirrorDir(env);
  const { os, arch } = goPlatform();
  const lock = await readFile(EXAMPLE_LOCK, 'utf8').catch(() => '');
  const checks: Check[] = [];
  for (const pin of PROVIDERS) {
    const name = `provider ${pin.namespace}/${pin.type} ${pin.version}`;
    const problems: string[] = [];
    for (const hostname of MIRROR_HOSTNAMES) {
      const dir = mirrorPackageDir(mirror, hostname, pin, `${os}_${arch}`);
      if (!existsSync(join(dir, providerBinaryName(pin)))) {
        problems.push(`missing from the mirror at ${dir}`);
        continue;
      }
      const hash = await providerPackageHash(dir);
      if (!lock.includes(hash)) {
        problems.push(
          `${hostname} build hashes to ${hash}, which the example's lock file does not list`,
        );
      }
    }
    checks.push(
      problems.length === 0
        ? {
            name,
            ok: true,
            detail: `in mirror ${mirror} (${os}_${arch}), hash matches the example lock file`,
          }
        : {
            name,
            ok: false,
            detail: [...new Set(problems)].join('; '),
            fix: `run ${SETUP} to build it into the mirror${PACKAGE_BUILD ? '' : ' (or `npm run providers:lock` after changing a pin)'}`,
          },
    );
  }
  return checks;
}

async function checkGit(env: Env): Promise<Check> {
  const git = await whichOnPath('git', env);
  if (!git) return { name: 'git', ok: false, detail: 'git is not on PATH', fix: 'install git' };
  const version = await run(git, ['--version']);
  return {
    name: 'git',
    ok: version.exitCode === 0,
    detail: version.stdout.trim() || 'git --version failed',
  };
}

export async function doctor(env: Env): Promise<Check[]> {
  return [
    checkNode(),
    await checkEngine(env),
    ...(await checkProviders(env)),
    await checkOpa(env),
    await checkGit(env),
  ];
}

export function renderChecks(checks: readonly Check[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  const lines = checks.map((c) => {
    const line = `${c.ok ? 'ok     ' : 'MISSING'}  ${c.name.padEnd(width)}  ${c.detail}`;
    return c.fix ? `${line}\n         ${' '.repeat(width)}  fix: ${c.fix}` : line;
  });
  const ready = checks.every((c) => c.ok);
  lines.push(
    '',
    ready ? 'all ready' : `not ready: ${checks.filter((c) => !c.ok).length} problem(s) above`,
  );
  return `${lines.join('\n')}\n`;
}
