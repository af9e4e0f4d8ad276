// Two `stepform apply` processes against one environment at once: the environment lock lets
// one hold it at a time. The second waits (LockEnvironment retries LockHeld with backoff,
// 10 s × 1.5^n with full jitter) and then runs, finding nothing left to change.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { run } from '../../toolchain/process.ts';
import {
  type CliResult,
  HELLO_RESOURCES,
  PROJECT,
  type RunJson,
  type Workspace,
  helloWorkspace,
  parseJson,
} from '../support/cli.ts';
import { REPO_ROOT, tempDir } from '../support/repo.ts';

let ws: Workspace;

beforeAll(async () => {
  ws = await helloWorkspace();
});

afterAll(() => {
  ws.close();
});

describe('two concurrent applies to one environment', () => {
  it('never hold the lock at the same time: the second waits, then succeeds', async () => {
    const args = ['apply', '--dir', PROJECT, '--env', 'shared', '--auto-approve', '--json'];
    const results: CliResult[] = await Promise.all([ws.start(args).done, ws.start(args).done]);
    for (const result of results) {
      if (result.exitCode !== 0) throw new Error(`exit ${result.exitCode}:\n${result.stderr}`);
    }
    const runs = results.map((result) => parseJson(result) as RunJson);
    for (const run of runs) expect(run.status).toBe('succeeded');
    // The first to get the lock applied everything; the second waited, then found nothing to do.
    expect(runs.map((r) => r.phase).sort()).toEqual(['applied', 'no_changes']);

    const store = ws.store();
    expect(store.locks.locksOf('shared')).toEqual([]);
    const history = store.locks.lockHistory('shared');
    expect(history.map((h) => h.owner).sort()).toEqual(runs.map((r) => r.runId).sort());
    for (const [index, hold] of history.entries()) {
      expect(hold.releasedAt >= hold.acquiredAt).toBe(true);
      const next = history[index + 1];
      if (next) expect(next.acquiredAt >= hold.releasedAt).toBe(true);
    }
    // The one that waited shows it in its log: LockEnvironment was retried.
    const waited = runs.find((r) => r.phase === 'no_changes')!;
    const retried = store.runs
      .listEvents(waited.runId)
      .filter((e) => e.type === 'retried' && e.state === 'LockEnvironment');
    expect(retried.length).toBeGreaterThanOrEqual(1);
    expect(ws.resources('shared')).toEqual(HELLO_RESOURCES);
    expect((await store.records.getLastGood('shared', PROJECT))?.commit).toBe(ws.commit);
  });
});

// Switching a new store to WAL needs a moment alone with the file: processes opening it
// together wait their turn instead of failing with "database is locked".
describe('processes opening one store at the same instant', () => {
  it('all open it', async () => {
    const db = join(await tempDir('store-race'), 'stepform.db');
    const at = String(Date.now() + 1_500);
    const script = join(REPO_ROOT, 'test', 'support', 'open-store.ts');
    const opened = await Promise.all(
      [1, 2, 3, 4].map(() => run(process.execPath, [script, db, at])),
    );
    expect(opened.map((o) => o.stdout.trim())).toEqual(['ok', 'ok', 'ok', 'ok']);
  });
});
