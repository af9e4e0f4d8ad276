// Several node child processes started at once, for races between processes.
import { spawn } from 'node:child_process';

/**
 * Runs `node ...args` `count` times at once, child `who` with `env(who)` added to this
 * process's environment; resolves with each child's stdout, and rejects when one fails.
 */
export async function runNodeChildren(
  args: readonly string[],
  count: number,
  env: (who: number) => Record<string, string>,
): Promise<string[]> {
  const children = Array.from(
    { length: count },
    (_, who) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, args, {
          env: { ...process.env, ...env(who) },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
        child.on('error', reject);
        child.on('close', (code) => {
          if (code === 0) resolve(out);
          else reject(new Error(`child ${who} exited ${code ?? 'by signal'}: ${err}`));
        });
      }),
  );
  return Promise.all(children);
}
