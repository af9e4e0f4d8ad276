// ttl ENV DURATION: moves an ephemeral environment's scheduled destroy to now + DURATION,
// through the core TTL step over the local store.
import { DEFAULT_TTL_BOUNDS, parseTtl } from '../../core/duration.ts';
import { InvalidInput } from '../../core/errors.ts';
import { changeTtlStep } from '../../core/ttl.ts';
import { ENVIRONMENT_NAME } from '../../core/contracts/job-input.ts';
import { parseInput } from '../../core/validation.ts';
import { openEngine, resolveProjectDir, resolveRepository } from './context.ts';
import type { Io } from './io.ts';
import type { CliValues } from './main.ts';

export async function ttlVerb(
  positionals: readonly string[],
  values: CliValues,
  io: Io,
): Promise<number> {
  if (positionals.length !== 2) throw new InvalidInput('arguments', 'ttl takes ENV and DURATION');
  const environment = parseInput(ENVIRONMENT_NAME, positionals[0], 'ENV');
  const ttlMs = parseTtl(positionals[1] ?? '', DEFAULT_TTL_BOUNDS, 'DURATION');
  const repository = await resolveRepository(values.repo, io.cwd);
  const projectDir =
    values.dir === undefined ? undefined : await resolveProjectDir(repository, values.dir, io.cwd);
  const engine = await openEngine(repository, io);
  try {
    const { schedules, records } = engine.stores;
    const change = await changeTtlStep(
      { environment, ttlMs, projectField: '--dir', ...(projectDir ? { projectDir } : {}) },
      {
        pendingSchedules: async (env) =>
          Promise.resolve(schedules.list(env).filter((s) => s.status === 'pending')),
        schedules,
        getEnvironment: async (env, dir) => Promise.resolve(records.getEnvironment(env, dir)),
        setEnvironment: async (record) => records.setEnvironment(record),
      },
      new Date(),
    );
    await engine.notifier.notify(change.notice, new Date());
    const { fireAt } = change;
    const result = {
      environment,
      projectDir: change.projectDir,
      fireAt,
      previousFireAt: change.previousFireAt,
    };
    io.out(
      values.json === true
        ? `${JSON.stringify(result)}\n`
        : `${environment} (${change.projectDir}) will be destroyed at ${fireAt}\n`,
    );
    return 0;
  } finally {
    engine.close();
  }
}
