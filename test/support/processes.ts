// This machine's process table, read from /proc (Linux): what a test needs to find the
// executor and Terraform processes of a run, kill one, and check that none outlived it.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  /** The command line, arguments joined by spaces. */
  readonly command: string;
  /** The working directory, when readable (" (deleted)" once it was removed). */
  readonly cwd?: string;
}

function read(pid: number): ProcessInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    let cwd: string | undefined;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      cwd = undefined;
    }
    // fields[0] is the state: a zombie has exited, only its parent has not read its status.
    if (fields[0] === 'Z') return undefined;
    return {
      pid,
      ppid: Number(fields[1]),
      pgid: Number(fields[2]),
      command,
      ...(cwd === undefined ? {} : { cwd }),
    };
  } catch {
    return undefined;
  }
}

export function processes(): ProcessInfo[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => read(Number(name)))
    .filter((p): p is ProcessInfo => p !== undefined);
}

/** Every process below `pid` (children, their children…). */
export function descendants(pid: number, table: ProcessInfo[] = processes()): ProcessInfo[] {
  const below: ProcessInfo[] = [];
  const parents = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of table) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        below.push(p);
        grew = true;
      }
    }
  }
  return below;
}

/** OpenTofu or Terraform processes. */
export function isTerraform(p: ProcessInfo): boolean {
  return /(^|\/)(tofu|terraform)( |$)/.test(p.command);
}

/** The executor entrypoint's processes. */
export function isExecutor(p: ProcessInfo): boolean {
  return p.command.includes('executor-image/src/main.ts');
}
