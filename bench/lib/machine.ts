// The machine a run came from, so that readers can weigh its figures.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { resolveEngine } from '../../toolchain/engine.ts';
import { join } from 'node:path';
import { REPO_ROOT } from '../../toolchain/paths.ts';
import { run } from '../../toolchain/process.ts';

export interface Machine {
  readonly date: string;
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memoryBytes: number;
  readonly os: string;
  readonly kernel: string;
  readonly node: string;
  readonly engine: string;
  readonly git: string;
  readonly stepform: string;
  /** 1, 5 and 15-minute load averages when the run started. */
  readonly loadAverageAtStart: readonly number[];
}

async function firstLine(command: string, args: readonly string[], cwd?: string): Promise<string> {
  const result = await run(command, args, cwd === undefined ? {} : { cwd }).catch(() => undefined);
  return result?.exitCode === 0 ? (result.stdout.trim().split('\n')[0] ?? '') : '';
}

async function cpuModel(): Promise<string> {
  const text = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const model = /^model name\s*:\s*(.+)$/m.exec(text)?.[1];
  return model ?? os.cpus()[0]?.model ?? 'unknown';
}

async function osName(): Promise<string> {
  const text = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const pretty = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(text)?.[1];
  return pretty ?? `${os.type()} ${os.release()}`;
}

export async function describeMachine(): Promise<Machine> {
  const nproc = Number(await firstLine('nproc', [])) || os.availableParallelism();
  const resolution = await resolveEngine(process.env);
  const engine = resolution.found
    ? `${resolution.engine.name === 'opentofu' ? 'OpenTofu' : 'Terraform'} ${resolution.engine.version} (${resolution.engine.source})`
    : 'none found';
  const head = await firstLine('git', ['rev-parse', '--short=12', 'HEAD'], REPO_ROOT);
  const dirty = await firstLine(
    'git',
    ['status', '--porcelain', '--untracked-files=no'],
    REPO_ROOT,
  );
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  return {
    date: new Date().toISOString(),
    nproc,
    cpuModel: await cpuModel(),
    memoryBytes: os.totalmem(),
    os: await osName(),
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    engine,
    git: (await firstLine('git', ['--version'])).replace(/^git version /, ''),
    stepform: `${pkg.version} at ${head || 'unknown commit'}${dirty ? ' (with uncommitted changes)' : ''}`,
    loadAverageAtStart: os.loadavg().map((value) => Math.round(value * 100) / 100),
  };
}
