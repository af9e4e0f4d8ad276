// The LockPort contract, on both stores: the SQLite store of the local engine and the
// DynamoDB store of the Lambdas (on moto). A lock, one per (environment, project), is owned by
// a run, renewed by it, refused to others with LockHeld naming the project and the holder,
// released only by its owner, and free to take once expired; every released hold is kept in
// the history. A run takes the locks of all its projects at once (acquireProjectLocks): all or
// none.
import { describe, expect, it } from '@jest/globals';
import { DynamoLockPort } from '../../adapters/aws/dynamodb/dynamo-locks.ts';
import { LockHeld, LockNotOwned } from '../../core/errors.ts';
import type { LockRecord } from '../../core/locks.ts';
import type { LockPort } from '../../core/ports.ts';
import { acquireProjectLocks, releaseLeftoverLock, unlockStep } from '../../core/steps.ts';
import type { LockHold } from '../../local/engine/store/sqlite-locks.ts';
import { contractBackends } from './backends.ts';

const backends = contractBackends();

interface LocksUnderTest {
  readonly locks: LockPort;
  /** The lock of the project (`app` unless named) as stored, expired or not. */
  readonly holder: (environment: string, project?: string) => Promise<LockRecord | undefined>;
  readonly history: (environment: string) => Promise<LockHold[]>;
}

const STORES = backends.sqliteAndDynamo<LocksUnderTest>(
  ({ locks }) => ({
    locks,
    holder: async (environment, project = 'app') => locks.getLock(environment, project),
    history: async (environment) => locks.lockHistory(environment),
  }),
  (client, table) => {
    const locks = new DynamoLockPort(client, table);
    return {
      locks,
      holder: async (environment, project = 'app') => locks.getLock(environment, project),
      history: async (environment) => locks.lockHistory(environment),
    };
  },
);

const T0 = new Date('2026-03-01T10:00:00.000Z');
const MINUTE = 60_000;
const HOUR = 3_600_000;

/** T0 plus some milliseconds. */
function after(ms: number): Date {
  return new Date(T0.getTime() + ms);
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`expected an Error, got ${String(error)}`);
  }
  throw new Error('expected a rejection');
}

describe.each(STORES)('LockPort on %s', (_name, open) => {
  it('takes a free lock for its owner, until now + ttl', async () => {
    const { locks, holder } = await open();

    const lock = await locks.acquire('dev', 'app', 'run-a', T0, MINUTE);

    expect(lock).toEqual({
      environment: 'dev',
      project: 'app',
      owner: 'run-a',
      acquiredAt: T0.toISOString(),
      expiresAt: after(MINUTE).toISOString(),
    });
    expect(await holder('dev')).toEqual(lock);
  });

  it('renews the lock for its owner: acquiredAt stays, expiresAt moves on', async () => {
    const { locks, holder } = await open();
    await locks.acquire('dev', 'app', 'run-a', T0, MINUTE);

    const renewed = await locks.acquire('dev', 'app', 'run-a', after(30_000), MINUTE);

    expect(renewed).toEqual({
      environment: 'dev',
      project: 'app',
      owner: 'run-a',
      acquiredAt: T0.toISOString(),
      expiresAt: after(90_000).toISOString(),
    });
    expect(await holder('dev')).toEqual(renewed);
  });

  it('refuses another run with LockHeld, carrying the holder it found, and changes nothing', async () => {
    const { locks, holder } = await open();
    const held = await locks.acquire('dev', 'app', 'run-a', T0, MINUTE);

    const error = await rejection(locks.acquire('dev', 'app', 'run-b', after(1_000), MINUTE));

    expect(error).toBeInstanceOf(LockHeld);
    expect(error.name).toBe('LockHeld');
    expect(error).toMatchObject({ holder: held });
    expect(error.message).toBe(
      `project app in environment dev is locked by run run-a until ${after(MINUTE).toISOString()}`,
    );
    expect(await holder('dev')).toEqual(held);
  });

  it('lets exactly one of several racing runs take a free lock; the others are told who won', async () => {
    const { locks, holder } = await open();
    for (let round = 0; round < 10; round += 1) {
      const environment = `race-${round}`;
      const settled = await Promise.allSettled(
        ['run-a', 'run-b', 'run-c'].map(async (owner) =>
          locks.acquire(environment, 'app', owner, T0, HOUR),
        ),
      );
      const won = settled.filter((result) => result.status === 'fulfilled');
      const lost = settled.filter((result) => result.status === 'rejected');
      expect(won).toHaveLength(1);
      const winner = won[0]!.value.owner;
      for (const loss of lost) {
        expect(loss.reason).toBeInstanceOf(LockHeld);
        expect((loss.reason as Error).message).toContain(`locked by run ${winner}`);
      }
      expect((await holder(environment))?.owner).toBe(winner);
    }
  });

  it('keeps locks per environment', async () => {
    const { locks, holder } = await open();
    await locks.acquire('dev', 'app', 'run-a', T0, MINUTE);
    await locks.acquire('prod', 'app', 'run-b', T0, MINUTE);

    expect((await holder('dev'))?.owner).toBe('run-a');
    expect((await holder('prod'))?.owner).toBe('run-b');
  });

  it('lets another run take an expired lock, and only from its expiry on', async () => {
    const { locks, holder } = await open();
    await locks.acquire('dev', 'app', 'run-a', T0, 10_000);

    await expect(locks.acquire('dev', 'app', 'run-b', after(9_999), MINUTE)).rejects.toThrow(
      LockHeld,
    );
    const taken = await locks.acquire('dev', 'app', 'run-b', after(10_000), MINUTE);

    expect(taken).toEqual({
      environment: 'dev',
      project: 'app',
      owner: 'run-b',
      acquiredAt: after(10_000).toISOString(),
      expiresAt: after(70_000).toISOString(),
    });
    // The run that lost its lock can neither release it nor take it back.
    await expect(locks.release('dev', 'app', 'run-a', after(11_000))).rejects.toThrow(LockNotOwned);
    await expect(locks.acquire('dev', 'app', 'run-a', after(11_000), MINUTE)).rejects.toThrow(
      LockHeld,
    );
    expect((await holder('dev'))?.owner).toBe('run-b');
  });

  it('releases its owner’s lock (true) and records the hold; then anyone may take it', async () => {
    const { locks, holder, history } = await open();
    await locks.acquire('dev', 'app', 'run-a', T0, MINUTE);

    expect(await locks.release('dev', 'app', 'run-a', after(5_000))).toBe(true);

    expect(await holder('dev')).toBeUndefined();
    expect(await history('dev')).toEqual([
      {
        project: 'app',
        owner: 'run-a',
        acquiredAt: T0.toISOString(),
        releasedAt: after(5_000).toISOString(),
      },
    ]);
    expect((await locks.acquire('dev', 'app', 'run-b', after(6_000), MINUTE)).owner).toBe('run-b');
  });

  it('treats releasing an absent lock as a no-op (false), however often', async () => {
    const { locks, holder, history } = await open();

    expect(await locks.release('dev', 'app', 'run-a', T0)).toBe(false);
    await locks.acquire('dev', 'app', 'run-a', T0, MINUTE);
    expect(await locks.release('dev', 'app', 'run-a', after(1_000))).toBe(true);
    expect(await locks.release('dev', 'app', 'run-a', after(2_000))).toBe(false);

    expect(await holder('dev')).toBeUndefined();
    expect(await history('dev')).toHaveLength(1);
  });

  it('refuses to release a lock another run holds (LockNotOwned, naming both), and changes nothing', async () => {
    const { locks, holder, history } = await open();
    const held = await locks.acquire('dev', 'app', 'run-a', T0, MINUTE);

    const error = await rejection(locks.release('dev', 'app', 'run-b', after(1_000)));

    expect(error).toBeInstanceOf(LockNotOwned);
    expect(error.name).toBe('LockNotOwned');
    expect(error.message).toBe(
      'run run-b cannot release the lock on app in dev: run run-a holds it',
    );
    expect(await holder('dev')).toEqual(held);
    expect(await history('dev')).toEqual([]);
  });

  it('records every released hold, oldest first, with intervals that never overlap', async () => {
    const { locks, history } = await open();
    const holds: [string, number, number][] = [
      ['run-1', 0, 5_000],
      ['run-2', 5_000, 9_000],
      ['run-3', 12_000, 20_000],
      ['run-1', 21_000, 22_000],
    ];
    for (const [owner, from, to] of holds) {
      await locks.acquire('dev', 'app', owner, after(from), MINUTE);
      await expect(locks.acquire('dev', 'app', 'intruder', after(from), MINUTE)).rejects.toThrow(
        LockHeld,
      );
      await locks.release('dev', 'app', owner, after(to));
    }
    await locks.acquire('prod', 'app', 'run-9', T0, MINUTE);
    await locks.release('prod', 'app', 'run-9', after(1_000));

    const recorded = await history('dev');

    expect(recorded).toEqual(
      holds.map(([owner, from, to]) => ({
        project: 'app',
        owner,
        acquiredAt: after(from).toISOString(),
        releasedAt: after(to).toISOString(),
      })),
    );
    for (const [index, hold] of recorded.entries()) {
      const next = recorded[index + 1];
      if (next) expect(hold.releasedAt <= next.acquiredAt).toBe(true);
    }
  });

  it('keeps one lock per project of an environment: two runs on different projects hold theirs at once', async () => {
    const { locks, holder } = await open();
    await locks.acquire('dev', 'network', 'run-a', T0, MINUTE);
    await locks.acquire('dev', 'app', 'run-b', T0, MINUTE);

    expect((await holder('dev', 'network'))?.owner).toBe('run-a');
    expect((await holder('dev', 'app'))?.owner).toBe('run-b');
    expect(await locks.environmentLocks('dev')).toEqual([
      {
        environment: 'dev',
        project: 'app',
        owner: 'run-b',
        acquiredAt: T0.toISOString(),
        expiresAt: after(MINUTE).toISOString(),
      },
      {
        environment: 'dev',
        project: 'network',
        owner: 'run-a',
        acquiredAt: T0.toISOString(),
        expiresAt: after(MINUTE).toISOString(),
      },
    ]);
    expect(await locks.environmentLocks('prod')).toEqual([]);
  });

  it('takes every project of a run at once, in sorted order; runs on disjoint projects both proceed', async () => {
    const { locks } = await open();
    const a = await acquireProjectLocks(locks, {
      environment: 'dev',
      projects: ['network', 'dns'],
      owner: 'run-a',
      now: T0,
      ttlMs: MINUTE,
    });
    const b = await acquireProjectLocks(locks, {
      environment: 'dev',
      projects: ['app'],
      owner: 'run-b',
      now: T0,
      ttlMs: MINUTE,
    });

    expect(a.map((lock) => lock.project)).toEqual(['dns', 'network']);
    expect(b.map((lock) => lock.project)).toEqual(['app']);
    expect((await locks.environmentLocks('dev')).map((l) => [l.project, l.owner])).toEqual([
      ['app', 'run-b'],
      ['dns', 'run-a'],
      ['network', 'run-a'],
    ]);
  });

  it('refuses a run one of whose projects another run holds (LockHeld naming it), leaving nothing taken', async () => {
    const { locks, history } = await open();
    const held = await locks.acquire('dev', 'dns', 'run-a', T0, MINUTE);

    const error = await rejection(
      acquireProjectLocks(locks, {
        environment: 'dev',
        projects: ['network', 'dns', 'app'],
        owner: 'run-b',
        now: after(1_000),
        ttlMs: MINUTE,
      }),
    );

    expect(error).toBeInstanceOf(LockHeld);
    expect(error.name).toBe('LockHeld');
    expect(error).toMatchObject({ holder: held });
    expect(error.message).toBe(
      `project dns in environment dev is locked by run run-a until ${after(MINUTE).toISOString()}`,
    );
    // `app` (taken before `dns` in sorted order) was given back; `network` never taken.
    expect(await locks.environmentLocks('dev')).toEqual([held]);
    expect((await history('dev')).map((hold) => [hold.project, hold.owner])).toEqual([
      ['app', 'run-b'],
    ]);
  });

  it('keeps the locks a run already held when a renewal of all of them fails on another run’s', async () => {
    const { locks } = await open();
    await locks.acquire('dev', 'app', 'run-b', T0, MINUTE);
    await locks.acquire('dev', 'dns', 'run-a', T0, MINUTE);

    await expect(
      acquireProjectLocks(locks, {
        environment: 'dev',
        projects: ['app', 'dns'],
        owner: 'run-b',
        now: after(1_000),
        ttlMs: MINUTE,
      }),
    ).rejects.toThrow(LockHeld);

    expect((await locks.environmentLocks('dev')).map((l) => [l.project, l.owner])).toEqual([
      ['app', 'run-b'],
      ['dns', 'run-a'],
    ]);
  });

  it('releases all of a run’s locks (Unlock, and the leftover releaser), never another run’s', async () => {
    const { locks, history } = await open();
    for (const project of ['app', 'dns', 'network']) {
      await locks.acquire('dev', project, 'run-a', T0, MINUTE);
    }
    await locks.acquire('dev', 'other', 'run-b', T0, MINUTE);

    await unlockStep(
      { runId: 'run-a', environment: 'dev', projects: ['network', 'app'] },
      locks,
      after(1_000),
    );
    expect((await locks.environmentLocks('dev')).map((l) => [l.project, l.owner])).toEqual([
      ['dns', 'run-a'],
      ['other', 'run-b'],
    ]);

    expect(
      await releaseLeftoverLock(locks, { environment: 'dev', runId: 'run-a' }, after(2_000)),
    ).toBe(true);
    expect(
      await releaseLeftoverLock(locks, { environment: 'dev', runId: 'run-a' }, after(3_000)),
    ).toBe(false);
    expect((await locks.environmentLocks('dev')).map((l) => [l.project, l.owner])).toEqual([
      ['other', 'run-b'],
    ]);
    expect((await history('dev')).map((hold) => hold.project).sort()).toEqual([
      'app',
      'dns',
      'network',
    ]);
  });
});
