import { spawn } from 'node:child_process';

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Called with each complete line of output as it arrives (for streaming logs). */
  readonly onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Aborting sends `killSignal` to the child; SIGINT lets Terraform release its state lock. */
  readonly signal?: AbortSignal;
  readonly killSignal?: NodeJS.Signals;
  /**
   * After an abort, send `killSignal` once more if the process still runs this long later
   * (Terraform stops at once on a second interrupt, where the first waits for operations).
   */
  readonly repeatKillAfterMs?: number;
  /**
   * Start the child as the leader of a new process group (its pid is the group id): what it
   * starts stays in that group, so the caller can stop all of it (local/engine/processes.ts),
   * and a Ctrl-C at the terminal reaches only the caller, which decides.
   */
  readonly detached?: boolean;
  /** Called once the child has started. */
  readonly onSpawn?: (pid: number) => void;
}

export interface RunResult {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a program with an argument array: never a shell, so no argument is ever parsed as
 * shell syntax. Resolves when the process exits, whatever its status; rejects only when it
 * could not be started (for example ENOENT).
 */
export function run(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      shell: false,
      signal: options.signal,
      killSignal: options.killSignal ?? 'SIGTERM',
      detached: options.detached ?? false,
    });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const pending = { stdout: '', stderr: '' };
    const collect = (stream: 'stdout' | 'stderr', sink: Buffer[]) => (chunk: Buffer) => {
      sink.push(chunk);
      if (!options.onLine) return;
      const text = pending[stream] + chunk.toString('utf8');
      const lines = text.split('\n');
      pending[stream] = lines.pop() ?? '';
      for (const line of lines) options.onLine(line, stream);
    };
    let repeat: NodeJS.Timeout | undefined;
    const repeatAfter = options.repeatKillAfterMs;
    const onAbort = () => {
      if (repeatAfter !== undefined) {
        repeat = setTimeout(() => child.kill(options.killSignal ?? 'SIGTERM'), repeatAfter);
      }
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', collect('stdout', out));
    child.stderr.on('data', collect('stderr', err));
    child.on('error', (error) => {
      // An abort is reported through the exit status, like any other signal.
      if (error.name !== 'AbortError') reject(error);
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(repeat);
      options.signal?.removeEventListener('abort', onAbort);
      for (const stream of ['stdout', 'stderr'] as const) {
        if (pending[stream] !== '') options.onLine?.(pending[stream], stream);
      }
      resolve({
        exitCode,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}
