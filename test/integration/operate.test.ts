// Operating runs from another terminal, through the real CLI: `locks` shows what holds each
// environment and whether it still runs, `unlock` clears a lock whose run is gone (a live
// one only with --force), and `cancel` stops a run as Ctrl-C in its own terminal would.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  PROJECT,
  type RunningCli,
  type Workspace,
  helloWorkspace,
  parseJson,
  startApplyAwaitingApproval,
} from '../support/cli.ts';

let ws: Workspace;

beforeAll(async () => {
  ws = await helloWorkspace();
});

afterAll(() => ws.close());

interface LockJson {
  environment: string;
  owner: string;
  holder: { pid: number; host: string } | null;
  state: 'held' | 'stale';
}

async function locks(): Promise<LockJson[]> {
  const result = await ws.cli(['locks', '--json']);
  expect(result.exitCode).toBe(0);
  return (parseJson(result) as { locks: LockJson[] }).locks;
}

describe('a live run', () => {
  let cli: RunningCli;
  let runId: string;

  beforeAll(async () => {
    ({ cli, runId } = await startApplyAwaitingApproval(ws, 'dev'));
  }, 180_000);

  it('is shown holding its lock, with the process that runs it', async () => {
    expect(await locks()).toEqual([
      {
        environment: 'dev',
        project: PROJECT,
        dir: PROJECT,
        owner: runId,
        acquiredAt: expect.any(String),
        expiresAt: expect.any(String),
        holder: { pid: cli.child.pid, host: expect.any(String) },
        state: 'held',
      },
    ]);
  });

  it('keeps its lock when unlock is asked without --force (exit 1, LockHeld)', async () => {
    const refused = await ws.cli(['unlock', 'dev', '--json']);
    expect(refused.exitCode).toBe(1);
    expect(parseJson(refused)).toMatchObject({
      error: { name: 'LockHeld', message: expect.stringContaining(`stepform cancel ${runId}`) },
    });
    expect(ws.store().locks.getLock('dev', PROJECT)?.owner).toBe(runId);
  });

  it('is cancelled from another terminal: its CLI exits 130 and the lock is free', async () => {
    const cancelled = await ws.cli(['cancel', runId, '--json']);
    expect(cancelled.exitCode).toBe(0);
    expect(parseJson(cancelled)).toEqual({ runId, status: 'cancelled', phase: 'cancelled' });
    expect((await cli.done).exitCode).toBe(130);
    expect(await locks()).toEqual([]);
    const again = await ws.cli(['cancel', runId]);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain(`run ${runId} already ended cancelled`);
  });
});

describe('a run whose CLI was killed', () => {
  let runId: string;

  beforeAll(async () => {
    const waiting = await startApplyAwaitingApproval(ws, 'qa');
    runId = waiting.runId;
    waiting.cli.child.kill('SIGKILL');
    await waiting.cli.done;
  }, 180_000);

  it('shows its lock as stale, and unlock clears it with a record of who did', async () => {
    expect(await locks()).toMatchObject([{ environment: 'qa', owner: runId, state: 'stale' }]);
    const unlocked = await ws.cli(['unlock', 'qa', '--json']);
    expect(unlocked.exitCode).toBe(0);
    expect(parseJson(unlocked)).toEqual({
      unlocked: [
        {
          environment: 'qa',
          project: PROJECT,
          owner: runId,
          released: true,
          forced: false,
          by: expect.stringMatching(/@cli$/),
        },
      ],
    });
    expect(ws.store().locks.locksOf('qa')).toEqual([]);
    const events = ws.store().runs.listEvents(runId);
    expect(events.at(-1)).toMatchObject({
      type: 'unlocked',
      detail: expect.stringMatching(/^lock on stack in qa cleared by .*@cli \(its run is gone\)$/),
    });
  });
});

describe('envs', () => {
  it('lists each environment with its status, last good commit, TTL and lock', async () => {
    const applied = await ws.cli(['apply', '--dir', PROJECT, '--env', 'prod', '--auto-approve']);
    expect(applied.exitCode).toBe(0);
    const ephemeral = await ws.cli(['ephemeral', '--dir', PROJECT, '--env', 'pr-7', '--ttl', '2h']);
    expect(ephemeral.exitCode).toBe(0);

    const result = await ws.cli(['envs', '--json']);
    expect(result.exitCode).toBe(0);
    const { environments } = parseJson(result) as {
      environments: {
        environment: string;
        status: string;
        lastGood: { commit: string } | null;
        destroyAt: string | null;
        lock: unknown;
      }[];
    };
    const byName = Object.fromEntries(environments.map((e) => [e.environment, e]));
    expect(byName.prod).toMatchObject({
      status: 'active',
      lastGood: { commit: ws.commit },
      destroyAt: null,
      lock: null,
    });
    expect(byName['pr-7']).toMatchObject({ status: 'active', lock: null });
    const fires = Date.parse(byName['pr-7']?.destroyAt ?? '');
    expect(Math.abs(fires - (Date.now() + 2 * 3_600_000))).toBeLessThan(5 * 60_000);

    const text = await ws.cli(['envs']);
    expect(text.stdout).toMatch(/^prod +stack +active last good [0-9a-f]{12}$/m);
    // An ephemeral environment has no last good commit to roll back to: only its destroy time.
    expect(text.stdout).toMatch(/^pr-7 +stack +active destroy at \S+$/m);
  }, 180_000);
});

describe('--force and bad input', () => {
  it('--force clears the lock of a live run, and says it was forced', async () => {
    const { cli, runId } = await startApplyAwaitingApproval(ws, 'stage');
    const forced = await ws.cli(['unlock', 'stage', '--project', PROJECT, '--force', '--json']);
    expect(forced.exitCode).toBe(0);
    expect(parseJson(forced)).toMatchObject({
      unlocked: [{ environment: 'stage', project: PROJECT, owner: runId, forced: true }],
    });
    cli.child.kill('SIGINT');
    expect((await cli.done).exitCode).toBe(130);
  }, 180_000);

  it.each([
    [['unlock', 'nowhere'], 'NotFound: nowhere is not locked'],
    [['unlock', 'nowhere', '--project', 'app'], 'NotFound: project app is not locked in nowhere'],
    [['unlock', 'Bad!'], 'ENV'],
    [['cancel', '20200101T000000Z-abcdef'], 'NotFound: no run 20200101T000000Z-abcdef'],
    [['cancel', '../x'], 'RUN_ID'],
  ])('%j exits 2 naming what is wrong', async (args, named) => {
    const result = await ws.cli(args);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(named);
  });
});
