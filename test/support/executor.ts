// Runs the executor entrypoint as a real child process, as the local engine does.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobInput } from '../../core/contracts/job-input.ts';
import { type ExecutorRun, runExecutorProcess } from '../../local/executor-process.ts';
import { tempDir } from './repo.ts';

/** Runs the executor as the local engine does; the job is passed unvalidated, on purpose. */
export async function runExecutor(
  job: Record<string, unknown>,
  env: NodeJS.ProcessEnv = {},
): Promise<ExecutorRun> {
  return runExecutorProcess(job, { env });
}

/** A job builder over one repository, environment and state folder. */
export async function jobFactory(repository: string, projectDir: string, environment = 'dev') {
  const root = await tempDir('jobs');
  let count = 0;
  return {
    root,
    stateDir: join(root, 'state'),
    workRoot: join(root, 'work'),
    job(verb: JobInput['verb'], commit: string, extra: Record<string, unknown> = {}) {
      count += 1;
      const runId = `run-${count}-${verb}`;
      return {
        runId,
        verb,
        repository,
        commit,
        projectDir,
        environment,
        backend: { type: 'local', stateDir: join(root, 'state') },
        artifactsDir: join(root, 'artifacts', runId),
        ...extra,
      };
    },
  };
}

/** How many times a job ran the engine with these first arguments (`state pull`), from its log. */
export async function engineCalls(ran: ExecutorRun, call: string): Promise<number> {
  const log = await readFile(ran.result!.artifacts.log, 'utf8');
  const started = new RegExp(`^\\[stepform\\] \\$ (tofu|terraform) ${call}( |$)`);
  return log.split('\n').filter((line) => started.test(line)).length;
}
