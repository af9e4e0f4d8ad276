// The local stores on a real SQLite file. Two sets of stores opened on the same file stand for
// two processes (the CLI and `stepform serve`); the races that matter are also run in real
// child processes, which is how they happen in use. What both sides of each port promise is
// proven by the contract suites (test/contracts/); this file proves what is local: several
// processes on one file, lock history, schedule claims, runs and their events, the outbox.
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { LockHeld, LockNotOwned } from '../../../core/errors.ts';
import { statusEvent } from '../../../core/contracts/status-event.ts';
import { runNodeChildren } from '../../../test/support/node-children.ts';
import {
  destroySchedule,
  localSchedule,
  storedApproval,
} from '../../../test/support/store-fixtures.ts';
import { type LocalStores, openLocalStores } from './local-stores.ts';

const STORE_URL = new URL('./local-stores.ts', import.meta.url).href;
const T0 = new Date('2030-01-01T00:00:00.000Z');
const MINUTE = 60_000;

/** T0 plus some seconds. */
function at(seconds: number): Date {
  return new Date(T0.getTime() + seconds * 1000);
}

const opened: LocalStores[] = [];

afterEach(() => {
  for (const store of opened.splice(0)) store.close();
});

async function databasePath(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'stepform-store-')), 'stepform.db');
}

/** Two stores on one database file, as two processes would open it. */
async function twoStores(): Promise<{ path: string; a: LocalStores; b: LocalStores }> {
  const path = await databasePath();
  const a = openLocalStores(path);
  const b = openLocalStores(path);
  opened.push(a, b);
  return { path, a, b };
}

async function caught(action: () => Promise<unknown>): Promise<Error> {
  try {
    await action();
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`expected an Error, got ${String(error)}`);
  }
  throw new Error('expected a throw');
}

/**
 * Runs `body` in `count` child processes, each with its own stores on `path`. Every child
 * busy-waits for the same start instant so they really do hit the file together. In `body`,
 * `store` is the child's stores, `who` its index and `sleep(ms)` a promise; its return value
 * comes back as JSON.
 */
async function raceInProcesses(path: string, count: number, body: string): Promise<unknown[]> {
  const script = join(await mkdtemp(join(tmpdir(), 'stepform-store-race-')), 'child.mjs');
  await writeFile(
    script,
    [
      `const { openLocalStores } = await import(${JSON.stringify(STORE_URL)});`,
      `const { setTimeout: sleep } = await import('node:timers/promises');`,
      'const store = openLocalStores(process.env.STORE_DB);',
      'const who = Number(process.env.STORE_WHO);',
      'const start = Number(process.env.STORE_START);',
      'while (Date.now() < start) {}',
      `const result = await (async () => { ${body} })();`,
      'store.close();',
      'process.stdout.write(JSON.stringify(result ?? null));',
    ].join('\n'),
  );
  // Node takes a moment to start; every child waits for the same instant after that.
  const start = Date.now() + 1500;
  const outputs = await runNodeChildren(
    ['--disable-warning=ExperimentalWarning', script],
    count,
    (who) => ({ STORE_DB: path, STORE_WHO: String(who), STORE_START: String(start) }),
  );
  return outputs.map((out) => JSON.parse(out) as unknown);
}

describe('locks per environment and project', () => {
  it('lets exactly one of two stores on the same file take a free lock; the other is told who holds it', async () => {
    const { a, b } = await twoStores();

    const won = await a.locks.acquire('dev', 'app', 'run-a', T0, MINUTE);
    const lost = await caught(
      async () => await b.locks.acquire('dev', 'app', 'run-b', at(1), MINUTE),
    );

    expect(won).toEqual({
      environment: 'dev',
      project: 'app',
      owner: 'run-a',
      acquiredAt: T0.toISOString(),
      expiresAt: at(60).toISOString(),
    });
    expect(lost).toBeInstanceOf(LockHeld);
    expect(lost.name).toBe('LockHeld');
    expect(lost.message).toContain('run-a');
    expect(lost.message).toContain(at(60).toISOString());
    expect(b.locks.getLock('dev', 'app')).toEqual(won);
  });

  it('lets exactly one of several processes win a race for the same lock', async () => {
    const path = await databasePath();
    const store = openLocalStores(path); // creates the schema before the race
    opened.push(store);

    const results = (await raceInProcesses(
      path,
      6,
      `try {
         await store.locks.acquire('dev', 'app', 'run-' + who, new Date(), 600000);
         return { who, won: true };
       } catch (error) {
         return { who, won: false, name: error.name, message: error.message };
       }`,
    )) as { who: number; won: boolean; name?: string; message?: string }[];

    const winners = results.filter((r) => r.won);
    expect(winners).toHaveLength(1);
    const owner = `run-${winners[0]!.who}`;
    for (const loser of results.filter((r) => !r.won)) {
      expect(loser.name).toBe('LockHeld');
      expect(loser.message).toContain(owner);
    }
    expect(store.locks.getLock('dev', 'app')?.owner).toBe(owner);
  });

  it('renews the lock when its owner takes it again: acquiredAt stays, expiresAt moves on', async () => {
    const { a, b } = await twoStores();
    await a.locks.acquire('dev', 'app', 'run-a', T0, MINUTE);

    // The owner is the run, not the process: a second process acting for run-a renews too.
    const renewed = await b.locks.acquire('dev', 'app', 'run-a', at(30), MINUTE);

    expect(renewed.acquiredAt).toBe(T0.toISOString());
    expect(renewed.expiresAt).toBe(at(90).toISOString());
    expect(a.locks.getLock('dev', 'app')).toEqual(renewed);
  });

  it('lets another run take over a lock only once it has expired', async () => {
    const { a, b } = await twoStores();
    await a.locks.acquire('dev', 'app', 'run-a', T0, 10_000);

    const early = await caught(
      async () =>
        await b.locks.acquire('dev', 'app', 'run-b', new Date(at(10).getTime() - 1), MINUTE),
    );
    const taken = await b.locks.acquire('dev', 'app', 'run-b', at(10), MINUTE);

    expect(early).toBeInstanceOf(LockHeld);
    expect(taken).toEqual({
      environment: 'dev',
      project: 'app',
      owner: 'run-b',
      acquiredAt: at(10).toISOString(),
      expiresAt: at(70).toISOString(),
    });
    // The run that lost its lock can neither release it nor take it back.
    expect(
      await caught(async () => await a.locks.release('dev', 'app', 'run-a', at(11))),
    ).toBeInstanceOf(LockNotOwned);
    expect(
      await caught(async () => await a.locks.acquire('dev', 'app', 'run-a', at(11), MINUTE)),
    ).toBeInstanceOf(LockHeld);
    expect(a.locks.getLock('dev', 'app')?.owner).toBe('run-b');
  });

  it('refuses a release by a run that does not hold the lock, and changes nothing', async () => {
    const { a, b } = await twoStores();
    const held = await a.locks.acquire('dev', 'app', 'run-a', T0, MINUTE);

    const error = await caught(async () => await b.locks.release('dev', 'app', 'run-b', at(1)));

    expect(error).toBeInstanceOf(LockNotOwned);
    expect(error.name).toBe('LockNotOwned');
    expect(error.message).toContain('run-a');
    expect(error.message).toContain('run-b');
    expect(b.locks.getLock('dev', 'app')).toEqual(held);
    expect(b.locks.lockHistory('dev')).toEqual([]);
  });

  it('treats releasing a lock nobody holds as a no-op', async () => {
    const { a } = await twoStores();

    await expect(a.locks.release('dev', 'app', 'run-a', T0)).resolves.toBe(false);

    await a.locks.acquire('dev', 'app', 'run-a', T0, MINUTE);
    await a.locks.release('dev', 'app', 'run-a', at(1));
    await expect(a.locks.release('dev', 'app', 'run-a', at(2))).resolves.toBe(false);
    expect(a.locks.locksOf('dev')).toEqual([]);
    expect(a.locks.lockHistory('dev')).toHaveLength(1);
  });

  it('keeps locks per environment', async () => {
    const { a, b } = await twoStores();

    await a.locks.acquire('dev', 'app', 'run-a', T0, MINUTE);
    await b.locks.acquire('prod', 'app', 'run-b', T0, MINUTE);

    expect(a.locks.getLock('dev', 'app')?.owner).toBe('run-a');
    expect(a.locks.getLock('prod', 'app')?.owner).toBe('run-b');
  });

  it('records every hold in lock_history, oldest first, with intervals that never overlap', async () => {
    const { a, b } = await twoStores();
    const holds: [LocalStores, string, number, number][] = [
      [a, 'run-1', 0, 5],
      [b, 'run-2', 5, 9],
      [a, 'run-3', 12, 20],
      [b, 'run-1', 21, 22],
    ];
    for (const [store, owner, from, to] of holds) {
      await store.locks.acquire('dev', 'app', owner, at(from), MINUTE);
      // Held: the other store cannot take it meanwhile.
      const other = store === a ? b : a;
      await expect(other.locks.acquire('dev', 'app', 'intruder', at(from), MINUTE)).rejects.toThrow(
        LockHeld,
      );
      await store.locks.release('dev', 'app', owner, at(to));
    }
    await a.locks.acquire('prod', 'app', 'run-9', T0, MINUTE);
    await a.locks.release('prod', 'app', 'run-9', at(1));

    const history = b.locks.lockHistory('dev');

    expect(history).toEqual(
      holds.map(([, owner, from, to]) => ({
        project: 'app',
        owner,
        acquiredAt: at(from).toISOString(),
        releasedAt: at(to).toISOString(),
      })),
    );
    for (const [index, hold] of history.entries()) {
      expect(hold.acquiredAt <= hold.releasedAt).toBe(true);
      const next = history[index + 1];
      if (next) expect(hold.releasedAt <= next.acquiredAt).toBe(true);
    }
  });

  it('serializes real processes that queue for one lock: one holder at a time, each hold recorded', async () => {
    const path = await databasePath();
    const store = openLocalStores(path);
    opened.push(store);
    const trace = join(await mkdtemp(join(tmpdir(), 'stepform-store-trace-')), 'trace.log');
    await writeFile(trace, '');

    // Each child waits for the lock, writes enter/exit marks while holding it, then releases.
    await raceInProcesses(
      path,
      4,
      `const { appendFileSync } = await import('node:fs');
       const owner = 'run-' + who;
       for (;;) {
         try { await store.locks.acquire('dev', 'app', owner, new Date(), 600000); break; }
         catch (error) { if (error.name !== 'LockHeld') throw error; await sleep(5); }
       }
       appendFileSync(${JSON.stringify(trace)}, 'enter ' + owner + '\\n');
       await sleep(30);
       appendFileSync(${JSON.stringify(trace)}, 'exit ' + owner + '\\n');
       await store.locks.release('dev', 'app', owner, new Date());`,
    );

    const marks = (await readFile(trace, 'utf8')).trim().split('\n');
    expect(marks).toHaveLength(8);
    for (let i = 0; i < marks.length; i += 2) {
      const owner = marks[i]!.replace(/^enter /, '');
      expect(marks[i]).toBe(`enter ${owner}`);
      expect(marks[i + 1]).toBe(`exit ${owner}`);
    }
    const history = store.locks.lockHistory('dev');
    expect(history.map((h) => h.owner).sort()).toEqual(['run-0', 'run-1', 'run-2', 'run-3']);
    expect(store.locks.locksOf('dev')).toEqual([]);
  });

  // A hold that ended by expiry is in the history too, ending at its expiry.
  it('records a hold that ended by expiry when another run takes the lock over', async () => {
    const { a, b } = await twoStores();
    await a.locks.acquire('dev', 'app', 'run-a', T0, 10_000);
    await b.locks.acquire('dev', 'app', 'run-b', at(15), MINUTE);
    await b.locks.release('dev', 'app', 'run-b', at(20));

    expect(a.locks.lockHistory('dev')).toEqual([
      {
        project: 'app',
        owner: 'run-a',
        acquiredAt: T0.toISOString(),
        releasedAt: at(10).toISOString(),
      },
      {
        project: 'app',
        owner: 'run-b',
        acquiredAt: at(15).toISOString(),
        releasedAt: at(20).toISOString(),
      },
    ]);
  });

  it('keeps working on a store an older version wrote (locks per environment): its lock is kept as project *, excluding every project while it lives', async () => {
    const path = await databasePath();
    const old = new DatabaseSync(path);
    old.exec(`
      CREATE TABLE locks (
        environment TEXT PRIMARY KEY, owner TEXT NOT NULL, acquired_at TEXT NOT NULL,
        expires_at TEXT NOT NULL);
      CREATE TABLE lock_history (
        environment TEXT NOT NULL, owner TEXT NOT NULL, acquired_at TEXT NOT NULL,
        released_at TEXT NOT NULL);
      CREATE TRIGGER locks_hold_ended AFTER UPDATE ON locks
      WHEN old.owner <> new.owner OR old.acquired_at <> new.acquired_at BEGIN
        INSERT INTO lock_history (environment, owner, acquired_at, released_at)
        VALUES (old.environment, old.owner, old.acquired_at, old.expires_at);
      END;
      INSERT INTO locks VALUES ('dev', 'run-old', '${T0.toISOString()}', '${at(60).toISOString()}');
      INSERT INTO lock_history VALUES ('qa', 'run-older', '${T0.toISOString()}', '${at(1).toISOString()}');`);
    old.close();
    const store = openLocalStores(path);
    opened.push(store);

    expect(store.locks.list()).toEqual([
      {
        environment: 'dev',
        project: '*',
        owner: 'run-old',
        acquiredAt: T0.toISOString(),
        expiresAt: at(60).toISOString(),
      },
    ]);
    expect(store.locks.lockHistory('qa')).toEqual([
      {
        project: '',
        owner: 'run-older',
        acquiredAt: T0.toISOString(),
        releasedAt: at(1).toISOString(),
      },
    ]);
    await expect(store.locks.acquire('dev', 'app', 'run-new', at(1), MINUTE)).rejects.toThrow(
      LockHeld,
    );
    // Once it has expired, projects are taken one by one; its run's end still releases it.
    await store.locks.acquire('dev', 'app', 'run-new', at(60), MINUTE);
    expect(await store.locks.release('dev', '*', 'run-old', at(61))).toBe(true);
    expect(store.locks.list().map((lock) => [lock.project, lock.owner])).toEqual([
      ['app', 'run-new'],
    ]);
    // Opening it again migrates nothing twice.
    const again = openLocalStores(path);
    opened.push(again);
    expect(again.locks.locksOf('dev').map((lock) => lock.project)).toEqual(['app']);
  });

  it('keeps one lock per project: two runs on different projects of one environment hold theirs at once', async () => {
    const { a, b } = await twoStores();
    await a.locks.acquire('dev', 'network', 'run-a', T0, MINUTE);
    await b.locks.acquire('dev', 'app', 'run-b', T0, MINUTE);
    await a.locks.acquire('dev', 'network', 'run-a', at(1), MINUTE);
    await b.locks.release('dev', 'app', 'run-b', at(2));

    expect(a.locks.locksOf('dev').map((lock) => [lock.project, lock.owner])).toEqual([
      ['network', 'run-a'],
    ]);
    expect(a.locks.lockHistory('dev', 'app').map((hold) => hold.owner)).toEqual(['run-b']);
    expect(a.locks.lockHistory('dev', 'network')).toEqual([]);
  });
});

describe('approvals', () => {
  it('stores an approval and reads it back from another store', async () => {
    const { a, b } = await twoStores();
    const row = storedApproval();

    await a.approvals.create(row);

    expect(await b.approvals.get(row.id)).toEqual(row);
    expect(await b.approvals.get('nope')).toBeUndefined();
  });

  it('decides once: the second decision, from another store, is refused and changes nothing', async () => {
    const { a, b } = await twoStores();
    const row = storedApproval();
    await a.approvals.create(row);

    const first = await a.approvals.decide(row.id, 'approved', 'alice', at(60).toISOString());
    const second = await b.approvals.decide(row.id, 'rejected', 'mallory', at(61).toISOString());
    const again = await a.approvals.decide(row.id, 'approved', 'alice', at(62).toISOString());

    expect(first).toBe(true);
    expect(second).toBe(false);
    expect(again).toBe(false);
    expect(await b.approvals.get(row.id)).toEqual({
      ...row,
      status: 'approved',
      decidedBy: 'alice',
      decidedAt: at(60).toISOString(),
    });
  });

  it('lets exactly one of several processes decide', async () => {
    const path = await databasePath();
    const store = openLocalStores(path);
    opened.push(store);
    const row = storedApproval();
    await store.approvals.create(row);

    const results = await raceInProcesses(
      path,
      6,
      `return await store.approvals.decide(${JSON.stringify(row.id)}, who % 2 ? 'rejected' : 'approved',
         'p' + who, new Date().toISOString());`,
    );

    expect(results.filter((won) => won === true)).toHaveLength(1);
    const decided = (await store.approvals.get(row.id))!;
    const winner = results.indexOf(true);
    expect(decided.decidedBy).toBe(`p${winner}`);
    expect(decided.status).toBe(winner % 2 ? 'rejected' : 'approved');
  });

  it('cannot approve an approval once it has expired', async () => {
    const { a, b } = await twoStores();
    const row = storedApproval();
    await a.approvals.create(row);

    // The waiting run marks it expired when its timeout passes...
    expect(await a.approvals.decide(row.id, 'expired', null, at(3601).toISOString())).toBe(true);
    // ...after which an approver (another process) is refused.
    expect(await b.approvals.decide(row.id, 'approved', 'alice', at(3602).toISOString())).toBe(
      false,
    );
    const expired = await b.approvals.get(row.id);
    expect(expired).toMatchObject({ status: 'expired', decidedAt: at(3601).toISOString() });
    expect(expired).not.toHaveProperty('decidedBy');
  });

  // The expiry is part of the conditional write, so a late decision cannot land.
  it('refuses to approve a still-pending approval whose expiry has passed', async () => {
    const { a } = await twoStores();
    const row = storedApproval();
    await a.approvals.create(row);

    expect(await a.approvals.decide(row.id, 'approved', 'alice', at(3601).toISOString())).toBe(
      false,
    );
    expect((await a.approvals.get(row.id))?.status).toBe('pending');
  });

  it('finds the newest approval of a run', async () => {
    const { a, b } = await twoStores();
    await a.approvals.create(storedApproval({ id: 'first', requestedAt: at(0).toISOString() }));
    await b.approvals.create(storedApproval({ id: 'second', requestedAt: at(10).toISOString() }));
    await b.approvals.create(
      storedApproval({ id: 'other-run', runId: 'run-2', requestedAt: at(20).toISOString() }),
    );

    expect(a.approvals.forRun('run-1')?.id).toBe('second');
    expect(a.approvals.forRun('run-3')).toBeUndefined();
  });
});

describe('TTL schedules', () => {
  it('keeps whether the environment is protected, through a move too', async () => {
    const { a, b } = await twoStores();
    const row = destroySchedule({ protectedEnvironment: true });
    await a.schedules.upsert(row);
    expect(await b.schedules.pending(row.environment, row.projectDir)).toEqual(row);
    const later = '2030-01-02T01:00:00.000Z';
    await a.schedules.upsert({ ...row, fireAt: later });
    expect(b.schedules.list()).toEqual([{ ...row, fireAt: later, status: 'pending' }]);
    const plain = destroySchedule({ environment: 'pr-2' });
    await a.schedules.upsert(plain);
    expect(await b.schedules.pending('pr-2', plain.projectDir)).toEqual(plain);
  });

  it('opens a store made before schedules kept protected, adding the column', async () => {
    const path = await databasePath();
    const { DatabaseSync } = await import('node:sqlite');
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE schedules (
      environment TEXT NOT NULL, project_dir TEXT NOT NULL, repository TEXT NOT NULL,
      commit_sha TEXT NOT NULL, fire_at TEXT NOT NULL, status TEXT NOT NULL,
      created_by TEXT NOT NULL, PRIMARY KEY (environment, project_dir))`);
    const row = destroySchedule();
    old
      .prepare(`INSERT INTO schedules VALUES (?, ?, ?, ?, ?, 'pending', ?)`)
      .run(row.environment, row.projectDir, row.repository, row.commit, row.fireAt, row.createdBy);
    old.close();
    const store = openLocalStores(path);
    opened.push(store);
    expect(store.schedules.list()).toEqual([{ ...row, status: 'pending' }]);
    await store.schedules.upsert({ ...row, protectedEnvironment: true });
    expect(store.schedules.list()[0]?.protectedEnvironment).toBe(true);
    // …and the projects of a run of several, a later column.
    const projects = [{ name: 'app', dir: 'infra/app', layer: 0, varFiles: [] }];
    await store.schedules.upsert({ ...row, projects });
    expect(store.schedules.list()[0]?.projects).toEqual(projects);
  });

  it('lets exactly one of two stores claim a due schedule', async () => {
    const { a, b } = await twoStores();
    const row = localSchedule();
    await a.schedules.upsert(row);

    const first = a.schedules.claim(row.environment, row.projectDir, row.fireAt);
    const second = b.schedules.claim(row.environment, row.projectDir, row.fireAt);

    expect(first).toBe(true);
    expect(second).toBe(false);
    expect(b.schedules.list()).toEqual([{ ...row, status: 'fired' }]);
    expect(b.schedules.due(at(7200))).toEqual([]);
  });

  it('lets exactly one of several processes claim a due schedule', async () => {
    const path = await databasePath();
    const store = openLocalStores(path);
    opened.push(store);
    const row = localSchedule();
    await store.schedules.upsert(row);

    const results = await raceInProcesses(
      path,
      6,
      `return store.schedules.claim(${JSON.stringify(row.environment)}, ${JSON.stringify(row.projectDir)},
         ${JSON.stringify(row.fireAt)});`,
    );

    expect(results.filter((won) => won === true)).toHaveLength(1);
    expect(store.schedules.list()[0]?.status).toBe('fired');
  });

  it('lists as due only pending schedules whose fireAt has come', async () => {
    const { a, b } = await twoStores();
    const soon = localSchedule({ environment: 'pr-1', fireAt: at(60).toISOString() });
    const later = localSchedule({ environment: 'pr-2', fireAt: at(120).toISOString() });
    const deleted = localSchedule({
      environment: 'pr-3',
      fireAt: at(30).toISOString(),
      status: 'deleted',
    });
    for (const row of [later, soon, deleted]) await a.schedules.upsert(row);
    await a.schedules.remove(deleted.environment, deleted.projectDir);

    expect(b.schedules.due(at(59))).toEqual([]);
    expect(b.schedules.due(at(60))).toEqual([soon]);
    expect(b.schedules.due(at(119))).toEqual([soon]);
    expect(b.schedules.due(at(500))).toEqual([soon, later]);
    expect(b.schedules.list('pr-3')).toEqual([deleted]);
  });

  it('moves fireAt on upsert: one row per environment and project, due at the new time only', async () => {
    const { a, b } = await twoStores();
    const first = localSchedule({ fireAt: at(60).toISOString() });
    await a.schedules.upsert(first);

    const moved = { ...first, fireAt: at(600).toISOString(), createdBy: 'run-ttl-2' };
    await b.schedules.upsert(moved);

    expect(a.schedules.list()).toEqual([moved]);
    expect(a.schedules.due(at(60))).toEqual([]);
    expect(a.schedules.due(at(600))).toEqual([moved]);
    // A scheduler still holding the old fireAt cannot claim the moved schedule.
    expect(a.schedules.claim(first.environment, first.projectDir, first.fireAt)).toBe(false);
    expect(a.schedules.claim(moved.environment, moved.projectDir, moved.fireAt)).toBe(true);
  });

  it('marks a schedule deleted so that it never fires', async () => {
    const { a } = await twoStores();
    const row = localSchedule();
    await a.schedules.upsert(row);

    await a.schedules.remove(row.environment, row.projectDir);

    expect(a.schedules.due(at(7200))).toEqual([]);
    expect(a.schedules.claim(row.environment, row.projectDir, row.fireAt)).toBe(false);
  });
});

describe('runs', () => {
  const base = {
    workflow: 'plan-apply',
    environment: 'dev',
    projectDir: 'terraform/examples/hello',
    repository: '/repo',
    commit: 'd'.repeat(40),
  };

  it('creates a running run and finishes it', async () => {
    const { a, b } = await twoStores();
    a.runs.create({ ...base, runId: 'run-1', startedAt: T0.toISOString() });
    const started = b.runs.get('run-1');

    a.runs.setPhase('run-1', 'applying');
    a.runs.finish('run-1', 'failed', at(90).toISOString(), 'TerraformFailed: boom');

    expect(started).toEqual({
      ...base,
      runId: 'run-1',
      status: 'running',
      phase: null,
      startedAt: T0.toISOString(),
      finishedAt: null,
      error: null,
      details: {},
    });
    expect(b.runs.get('run-1')).toMatchObject({
      status: 'failed',
      phase: 'applying',
      finishedAt: at(90).toISOString(),
      error: 'TerraformFailed: boom',
    });
    expect(b.runs.get('run-404')).toBeUndefined();
  });

  it('lists runs newest first, whatever order they were written in, up to the limit', async () => {
    const { a, b } = await twoStores();
    a.runs.create({ ...base, runId: 'middle', startedAt: at(10).toISOString() });
    b.runs.create({ ...base, runId: 'oldest', startedAt: at(0).toISOString() });
    a.runs.create({ ...base, runId: 'newest', startedAt: at(20).toISOString() });
    // Same start: the one written last counts as newer.
    b.runs.create({ ...base, runId: 'newest-too', startedAt: at(20).toISOString() });

    expect(a.runs.list().map((r) => r.runId)).toEqual(['newest-too', 'newest', 'middle', 'oldest']);
    expect(a.runs.list(2).map((r) => r.runId)).toEqual(['newest-too', 'newest']);
  });

  it('merges run details, later keys winning', async () => {
    const { a, b } = await twoStores();
    a.runs.create({ ...base, runId: 'run-1', startedAt: T0.toISOString() });

    await a.runs.addRunDetails('run-1', {
      summary: { add: 1, change: 0, destroy: 0 },
      outcome: 'planned',
    });
    await b.runs.addRunDetails('run-1', { outcome: 'applied', outputs: { url: 'http://x' } });
    await b.runs.addRunDetails('run-404', { ignored: true });

    expect(a.runs.get('run-1')?.details).toEqual({
      summary: { add: 1, change: 0, destroy: 0 },
      outcome: 'applied',
      outputs: { url: 'http://x' },
    });
    expect(a.runs.get('run-404')).toBeUndefined();
  });

  it('numbers each run’s events 1, 2, 3… in the order written, from either store', async () => {
    const { a, b } = await twoStores();
    const event = (runId: string, type: string, store: LocalStores) => {
      store.runs.addEvent({
        runId,
        at: T0.toISOString(),
        type,
        state: 'Plan',
        durationMs: type === 'exited' ? 1200 : null,
        detail: null,
      });
    };
    event('run-1', 'entered', a);
    event('run-2', 'entered', b);
    event('run-1', 'exited', b);
    event('run-1', 'entered', a);

    const events = a.runs.listEvents('run-1');

    expect(events.map((e) => [e.seq, e.type])).toEqual([
      [1, 'entered'],
      [2, 'exited'],
      [3, 'entered'],
    ]);
    expect(events[1]).toEqual({
      runId: 'run-1',
      seq: 2,
      at: T0.toISOString(),
      type: 'exited',
      state: 'Plan',
      durationMs: 1200,
      detail: null,
    });
    expect(b.runs.listEvents('run-2').map((e) => e.seq)).toEqual([1]);
  });
});

describe('status outbox', () => {
  it('keeps rows in the order they were appended, across stores, with their bodies intact', async () => {
    const { a, b } = await twoStores();
    const phases = ['started', 'planned', 'awaiting_approval', 'approved', 'applied'] as const;
    const events = phases.map((phase, index) =>
      statusEvent(
        {
          runId: index === 2 ? 'run-2' : 'run-1',
          workflow: 'plan-apply',
          environment: 'dev',
          projects: [{ name: 'terraform/examples/hello', dir: 'terraform/examples/hello' }],
          commit: 'e'.repeat(40),
          phase,
          message: `event ${index}`,
        },
        at(index),
      ),
    );
    for (const [index, event] of events.entries()) {
      const store = index % 2 ? b : a;
      await store.outbox.publish(event);
    }

    const all = a.outbox.list();

    expect(all.map((row) => row.phase)).toEqual(phases);
    expect(all.map((row) => row.seq)).toEqual([...all.map((row) => row.seq)].sort((x, y) => x - y));
    expect(new Set(all.map((row) => row.seq)).size).toBe(phases.length);
    expect(all[3]).toMatchObject({
      runId: 'run-1',
      phase: 'approved',
      body: events[3],
      at: at(3).toISOString(),
    });
    expect(b.outbox.list('run-1').map((row) => row.phase)).toEqual([
      'started',
      'planned',
      'approved',
      'applied',
    ]);
  });
  it('lists the rows an older version stored (status events of schema version 1) as they are', async () => {
    // Prepare: a home written before version 2, then a new event after it.
    const { path, a } = await twoStores();
    const version1 = {
      schemaVersion: 1,
      runId: 'run-old',
      workflow: 'plan-apply',
      environment: 'dev',
      project: 'terraform/examples/hello',
      commit: 'e'.repeat(40),
      phase: 'planned',
      summary: { add: 1, change: 0, destroy: 0 },
      at: at(0).toISOString(),
    };
    const old = new DatabaseSync(path);
    old
      .prepare('INSERT INTO outbox (run_id, phase, body, at) VALUES (?, ?, ?, ?)')
      .run('run-old', 'planned', JSON.stringify(version1), version1.at);
    old.close();
    const version2 = statusEvent(
      {
        runId: 'run-old',
        workflow: 'plan-apply',
        environment: 'dev',
        projects: [{ name: 'terraform/examples/hello', dir: 'terraform/examples/hello' }],
        commit: 'e'.repeat(40),
        phase: 'applied',
      },
      at(1),
    );
    await a.outbox.publish(version2);

    // Act
    const rows = a.outbox.list('run-old');

    // Assess
    expect(rows.map((row) => [row.phase, row.body])).toEqual([
      ['planned', version1],
      ['applied', version2],
    ]);
  });
});
