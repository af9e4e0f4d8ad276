// ttl ENV DURATION: moves an ephemeral environment's scheduled destroy to now + DURATION.
import { DEFAULT_TTL_BOUNDS, parseTtl } from '../../core/duration.ts';
import { InvalidInput, NotFound } from '../../core/errors.ts';
import { ENVIRONMENT_NAME } from '../../core/contracts/job-input.ts';
import { parseInput } from '../../core/validation.ts';
import { LocalEngine } from '../engine/local-engine.ts';
import { homeFor, resolveProjectDir, resolveRepository } from './context.ts';
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
  const engine = new LocalEngine({ home: homeFor(repository, io.env), env: io.env });
  try {
    const { schedules, records } = engine.stores;
    const pending = schedules
      .list(environment)
      .filter(
        (s) => s.status === 'pending' && (projectDir === undefined || s.projectDir === projectDir),
      );
    if (pending.length === 0) throw new NotFound(`no scheduled destroy for ${environment}`);
    if (pending.length > 1) {
      throw new InvalidInput(
        '--dir',
        `${environment} has several scheduled projects: say which with --dir`,
      );
    }
    const [schedule] = pending;
    if (!schedule) throw new NotFound(`no scheduled destroy for ${environment}`);
    const now = new Date();
    const fireAt = new Date(now.getTime() + ttlMs).toISOString();
    await schedules.upsert({ ...schedule, fireAt });
    const env = records.getEnvironment(schedule.environment, schedule.projectDir);
    if (env)
      await records.setEnvironment({ ...env, ttlExpiresAt: fireAt, updatedAt: now.toISOString() });
    await engine.notifier.notify(
      {
        run: {
          runId: schedule.createdBy,
          workflow: 'ephemeral',
          repository: schedule.repository,
          commit: schedule.commit,
          projectDir: schedule.projectDir,
          environment: schedule.environment,
          ttlSeconds: Math.round(ttlMs / 1000),
        },
        phase: 'ttl_changed',
        schedule: { fireAt },
      },
      now,
    );
    const result = {
      environment,
      projectDir: schedule.projectDir,
      fireAt,
      previousFireAt: schedule.fireAt,
    };
    io.out(
      values.json === true
        ? `${JSON.stringify(result)}\n`
        : `${environment} (${schedule.projectDir}) will be destroyed at ${fireAt}\n`,
    );
    return 0;
  } finally {
    engine.close();
  }
}
