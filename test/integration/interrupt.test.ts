// A job stopped in the middle (Batch terminating the container, Ctrl-C) ends in a known state:
// Terraform is interrupted gracefully, the result says so, and the state is not left locked.
import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { EXECUTOR_MAIN, readResult } from '../../local/executor-process.ts';
import { jobFactory, runExecutor } from '../support/executor.ts';
import { REPO_ROOT, makeRepo } from '../support/repo.ts';

describe('a stopped job', () => {
  it('interrupts Terraform on SIGTERM, records JobInterrupted and releases the state lock', async () => {
    const repo = await makeRepo();
    const commit = await repo.commitDir(join(REPO_ROOT, 'test', 'fixtures', 'slow-apply'), 'stack');
    const jobs = await jobFactory(repo.dir, 'stack');
    const job = jobs.job('plan-apply', commit);

    const child = spawn(process.execPath, [EXECUTOR_MAIN, '--job', JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const started = performance.now();
    const exited = new Promise<number | null>((resolve) =>
      child.on('close', (code) => resolve(code)),
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('time_sleep.slow: Creating...')) resolve();
      });
      child.on('close', () =>
        reject(new Error(`the executor ended before the apply started:\n${output}`)),
      );
    });
    child.kill('SIGTERM');
    expect(await exited).toBe(1);
    // Well before the 60 s sleep would have ended by itself.
    expect(performance.now() - started).toBeLessThan(45_000);

    const result = await readResult(job.artifactsDir);
    expect(result).toMatchObject({ status: 'failed', error: { name: 'JobInterrupted' } });
    expect(output).toContain('received SIGTERM');

    const list = await runExecutor(jobs.job('command', commit, { args: ['state', 'list'] }));
    expect(list.exitCode).toBe(0);
  });
});
