import { describe, expect, it } from '@jest/globals';
import { ApprovalAlreadyDecided, InvalidInput, LockHeld, LockNotOwned } from './errors.ts';
import { approvalLink } from './approval.ts';
import { type LockRecord, assertCanRelease, decideLock } from './locks.ts';
import type {
  ApprovalPort,
  StoredApproval,
  LockPort,
  RecordPort,
  RunPort,
  SchedulePort,
  DestroySchedule,
  EnvironmentRecord,
  DriftState,
  LastGoodCommit,
} from './ports.ts';
import type { RunContext } from './contracts/workflow-input.ts';
import {
  assertOnDefaultBranch,
  decideFromLink,
  holdLockThroughApproval,
  recordStep,
  releaseLeftoverLock,
  rollbackStep,
  settleEndedExecution,
  scheduleStep,
} from './steps.ts';

const RUN: RunContext = {
  runId: 'run-2',
  workflow: 'plan-apply',
  repository: '/repo',
  commit: 'b'.repeat(40),
  projectDir: 'stack',
  environment: 'dev',
  autoApprove: true,
  approvalTimeoutSeconds: 60,
};
const NOW = new Date('2026-11-23T10:00:00.000Z');

/** A pending approval of RUN's plan, asked for at NOW, expiring an hour later. */
function pendingApproval(id: string): StoredApproval {
  return {
    id,
    runId: RUN.runId,
    taskToken: 'token',
    environment: RUN.environment,
    projectDir: RUN.projectDir,
    commit: RUN.commit,
    planSha256: 'a'.repeat(64),
    status: 'pending',
    requestedAt: NOW.toISOString(),
    expiresAt: '2026-11-23T11:00:00.000Z',
  };
}

function memoryRecords() {
  const lastGood = new Map<string, LastGoodCommit>();
  const drift = new Map<string, DriftState>();
  const environments: EnvironmentRecord[] = [];
  const details: Record<string, unknown>[] = [];
  const port: RecordPort = {
    getLastGood: async (env, project) => lastGood.get(`${env}/${project}`),
    setLastGood: async (env, project, good) => void lastGood.set(`${env}/${project}`, good),
    setEnvironment: async (record) => void environments.push(record),
    readEnvironment: async (env, project) =>
      environments.findLast((e) => e.environment === env && e.projectDir === project),
    getDrift: async (env, project) => drift.get(`${env}/${project}`),
    setDrift: async (env, project, state) => void drift.set(`${env}/${project}`, state),
  };
  const runs: RunPort = { addRunDetails: async (_runId, d) => void details.push(d) };
  return { port, ports: { records: port, runs }, lastGood, environments, details, drift };
}

describe('assertOnDefaultBranch', () => {
  it('lets a merged commit through and stops an unmerged one', async () => {
    await expect(
      assertOnDefaultBranch(RUN, { isOnDefaultBranch: async () => true }),
    ).resolves.toBeUndefined();
    await expect(
      assertOnDefaultBranch(RUN, { isOnDefaultBranch: async () => false }),
    ).rejects.toMatchObject({
      name: 'UnmergedCommit',
    });
  });

  it('fails closed when the check cannot be made', async () => {
    await expect(
      assertOnDefaultBranch(RUN, {
        isOnDefaultBranch: async () => Promise.reject(new Error('GitHub is down')),
      }),
    ).rejects.toMatchObject({
      name: 'DefaultBranchCheckFailed',
      message: expect.stringContaining('GitHub is down'),
    });
  });

  it('checks only plan-apply: a plan of a pull request is fine', async () => {
    await expect(
      assertOnDefaultBranch({ ...RUN, workflow: 'plan' }, { isOnDefaultBranch: async () => false }),
    ).resolves.toBeUndefined();
  });
});

describe('recordStep', () => {
  it("keeps a command run's command and output, and a TTL change's schedule, in the run details", async () => {
    const { ports, environments, details } = memoryRecords();
    const command = { name: 'state list', args: [], output: 'null_resource.a\n', cut: false };
    await recordStep(
      {
        run: { ...RUN, workflow: 'command', args: ['state', 'list'] },
        outcome: 'command_completed',
        command,
      },
      ports,
      NOW,
    );
    await recordStep(
      {
        run: { ...RUN, workflow: 'ttl', cancelTtl: true },
        outcome: 'ttl_changed',
        schedule: { fireAt: null },
      },
      ports,
      NOW,
    );
    expect(details).toEqual([
      { outcome: 'command_completed', command },
      { outcome: 'ttl_changed', schedule: { fireAt: null } },
    ]);
    expect(environments).toEqual([]);
  });

  it('makes an applied commit the last good one and the environment active', async () => {
    const { ports, lastGood, environments, details } = memoryRecords();
    await recordStep({ run: RUN, outcome: 'applied' }, ports, NOW);
    expect(lastGood.get('dev/stack')).toEqual({
      commit: RUN.commit,
      runId: 'run-2',
      at: NOW.toISOString(),
    });
    expect(environments).toEqual([
      {
        environment: 'dev',
        projectDir: 'stack',
        status: 'active',
        ttlExpiresAt: null,
        lastRunId: 'run-2',
        updatedAt: NOW.toISOString(),
      },
    ]);
    expect(details).toEqual([{ outcome: 'applied' }]);
  });

  it('leaves the last good commit alone after a rollback or a failure', async () => {
    const { ports, lastGood } = memoryRecords();
    await recordStep(
      { run: RUN, outcome: 'rolled_back', rollback: { commit: 'a'.repeat(40) } },
      ports,
      NOW,
    );
    await recordStep({ run: RUN, outcome: 'failed', error: { Error: 'JobFailed' } }, ports, NOW);
    expect(lastGood.size).toBe(0);
  });

  it('records a failed rollback as such: environment rollback_failed, both errors kept', async () => {
    const { ports, lastGood, environments, details } = memoryRecords();
    const rollbackError = { Error: 'JobFailed', Cause: 'plan-apply failed: TerraformFailed: x' };
    const rollback = {
      commit: 'c'.repeat(40),
      failedCommit: RUN.commit,
      applyError: { Error: 'JobFailed', Cause: 'apply failed: TerraformFailed: y' },
    };
    await recordStep(
      { run: RUN, outcome: 'rollback_failed', error: rollbackError, rollback },
      ports,
      NOW,
    );
    expect(lastGood.size).toBe(0);
    expect(environments).toEqual([
      expect.objectContaining({
        environment: 'dev',
        status: 'rollback_failed',
        lastRunId: 'run-2',
      }),
    ]);
    expect(details).toEqual([{ outcome: 'rollback_failed', rollback, error: rollbackError }]);
  });

  it('refuses an unknown outcome, naming the field', async () => {
    await expect(
      recordStep({ run: RUN, outcome: 'exploded' }, memoryRecords().ports, NOW),
    ).rejects.toMatchObject({
      field: 'record.outcome',
    });
  });
});

describe('releaseLeftoverLock', () => {
  /** One lock, of project app, held by `holder` (or nobody): release as the stores do it. */
  function oneLock(holder: string | undefined): LockPort & { holder: () => string | undefined } {
    let current = holder;
    return {
      holder: () => current,
      acquire: async () => Promise.reject(new Error('not used')),
      release: async (environment, _project, owner) => {
        if (current === undefined) return false;
        if (current !== owner) throw new LockNotOwned(`${environment} is held by ${current}`);
        current = undefined;
        return true;
      },
      environmentLocks: async (environment) =>
        current === undefined
          ? []
          : [{ environment, project: 'app', owner: current, acquiredAt: '', expiresAt: '' }],
    };
  }

  it("releases the run's own lock and says so", async () => {
    const locks = oneLock('run-2');
    expect(await releaseLeftoverLock(locks, RUN, NOW)).toBe(true);
    expect(locks.holder()).toBeUndefined();
  });

  it('says there was nothing to release when no lock is held', async () => {
    expect(await releaseLeftoverLock(oneLock(undefined), RUN, NOW)).toBe(false);
  });

  it('leaves a lock another run holds by now', async () => {
    const locks = oneLock('run-9');
    expect(await releaseLeftoverLock(locks, RUN, NOW)).toBe(false);
    expect(locks.holder()).toBe('run-9');
  });
});

describe('settleEndedExecution', () => {
  /** The run's lock, its pending approval, its details and what was told, in memory. */
  function endedRun(details: Record<string, unknown> = {}) {
    let holder: string | undefined = RUN.runId;
    const approval = pendingApproval('approval-1');
    const approvals: ApprovalPort = {
      create: async () => undefined,
      get: async () => approval,
      latestForRun: async (runId) => (runId === approval.runId ? approval : undefined),
      decide: async (_id, status) => {
        if (approval.status !== 'pending') return false;
        Object.assign(approval, { status });
        return true;
      },
    };
    const told: unknown[] = [];
    const ports = {
      locks: {
        acquire: async () => Promise.reject(new Error('not used')),
        release: async (_env: string, _project: string, owner: string) => {
          if (holder !== owner) return false;
          holder = undefined;
          return true;
        },
        environmentLocks: async (environment: string) =>
          holder === undefined
            ? []
            : [{ environment, project: 'app', owner: holder, acquiredAt: '', expiresAt: '' }],
      },
      approvals,
      runs: {
        addRunDetails: async (_runId: string, added: Record<string, unknown>) =>
          void Object.assign(details, added),
        getRunDetails: async () => ({ ...details }),
      },
      notify: async (input: unknown) => void told.push(input),
    };
    return { ports, approval, details, told, holder: () => holder };
  }
  const ended = (status: string, extra: Record<string, unknown> = {}, input: unknown = RUN) => ({
    detail: { status, input: JSON.stringify(input), ...extra },
  });

  it('settles an event delivered twice once: the second releases, records and tells nothing', async () => {
    const run = endedRun();
    await settleEndedExecution(ended('ABORTED'), run.ports, NOW);
    const again = await settleEndedExecution(ended('ABORTED'), run.ports, NOW);
    expect(again).toEqual({ released: false, runId: RUN.runId, approvalExpired: false });
    expect(run.told).toHaveLength(1);
  });

  it('settles a cancelled run: lock released, approval expired, recorded and told cancelled', async () => {
    const run = endedRun();
    const settled = await settleEndedExecution(ended('ABORTED'), run.ports, NOW);
    expect(settled).toEqual({
      released: true,
      runId: RUN.runId,
      approvalExpired: true,
      outcome: 'cancelled',
    });
    expect(run.holder()).toBeUndefined();
    expect(run.approval.status).toBe('expired');
    expect(run.details).toMatchObject({ outcome: 'cancelled', error: { Error: 'RunCancelled' } });
    expect(run.told).toEqual([
      {
        run: RUN,
        phase: 'cancelled',
        error: {
          Error: 'RunCancelled',
          Cause: expect.stringContaining('stopped') as unknown as string,
        },
      },
    ]);
  });

  it('tells a failure no Catch handled with its reason, and records it failed', async () => {
    const run = endedRun();
    await settleEndedExecution(
      ended('FAILED', { error: 'States.Runtime', cause: 'bad path $.x' }),
      run.ports,
      NOW,
    );
    expect(run.details).toMatchObject({ outcome: 'failed' });
    expect(run.told).toEqual([
      { run: RUN, phase: 'failed', error: { Error: 'States.Runtime', Cause: 'bad path $.x' } },
    ]);
  });

  it('names a timeout when Step Functions gives no error', async () => {
    const run = endedRun();
    await settleEndedExecution(ended('TIMED_OUT'), run.ports, NOW);
    expect(run.told).toEqual([
      {
        run: RUN,
        phase: 'failed',
        error: { Error: 'States.Timeout', Cause: 'the execution ended TIMED_OUT' },
      },
    ]);
  });

  it('tells nothing twice: a failed run whose tail recorded its outcome is only released', async () => {
    const run = endedRun({ outcome: 'rejected' });
    const settled = await settleEndedExecution(ended('FAILED'), run.ports, NOW);
    expect(settled).toEqual({ released: true, runId: RUN.runId, approvalExpired: true });
    expect(run.details).toEqual({ outcome: 'rejected' });
    expect(run.told).toEqual([]);
  });

  it('releases but tells nothing for an input that is no run (PrepareRun refused it)', async () => {
    const run = endedRun();
    const input = { runId: RUN.runId, environment: 'dev', workflow: 'nope' };
    const settled = await settleEndedExecution(ended('ABORTED', {}, input), run.ports, NOW);
    expect(settled.released).toBe(true);
    expect(run.told).toEqual([]);
  });

  it('does nothing for an execution that succeeded, and refuses an event without JSON input', async () => {
    const run = endedRun();
    expect(await settleEndedExecution(ended('SUCCEEDED'), run.ports, NOW)).toEqual({
      released: false,
    });
    expect(run.holder()).toBe(RUN.runId);
    await expect(
      settleEndedExecution({ detail: { status: 'ABORTED', input: '{' } }, run.ports, NOW),
    ).rejects.toThrow(InvalidInput);
  });
});

describe('rollbackStep', () => {
  const job = {
    runId: 'run-2',
    verb: 'plan',
    repository: '/repo',
    commit: RUN.commit,
    projectDir: 'stack',
    environment: 'dev',
    backend: { type: 'local', stateDir: '/state' },
    artifactsDir: '/artifacts/run-2/plan',
  };

  it('re-applies the last good commit in a job of its own', async () => {
    const { port, lastGood } = memoryRecords();
    lastGood.set('dev/stack', { commit: 'a'.repeat(40), runId: 'run-1', at: NOW.toISOString() });
    const plan = await rollbackStep({ run: RUN, job }, port);
    expect(plan).toMatchObject({
      commit: 'a'.repeat(40),
      failedCommit: RUN.commit,
      job: {
        verb: 'plan-apply',
        commit: 'a'.repeat(40),
        artifactsDir: '/artifacts/run-2/rollback',
      },
    });
  });

  it('has nothing to roll back to without a last good commit', async () => {
    await expect(rollbackStep({ run: RUN, job }, memoryRecords().port)).rejects.toMatchObject({
      name: 'NoRollbackTarget',
    });
  });
});

describe('scheduleStep', () => {
  it('schedules the destroy at now + TTL and removes it', async () => {
    const upserts: DestroySchedule[] = [];
    const removed: string[] = [];
    const port: SchedulePort = {
      upsert: async (s) => void upserts.push(s),
      remove: async (env, project) => void removed.push(`${env}/${project}`),
      pending: async () => undefined,
    };
    const run = { ...RUN, workflow: 'ephemeral', ttlSeconds: 7200 };
    expect(await scheduleStep({ action: 'upsert', run }, port, NOW)).toEqual({
      fireAt: '2026-11-23T12:00:00.000Z',
    });
    expect(upserts).toEqual([
      {
        environment: 'dev',
        projectDir: 'stack',
        repository: '/repo',
        commit: RUN.commit,
        fireAt: '2026-11-23T12:00:00.000Z',
        createdBy: 'run-2',
      },
    ]);
    expect(await scheduleStep({ action: 'delete', run }, port, NOW)).toEqual({ deleted: true });
    expect(removed).toEqual(['dev/stack']);
    // In a protected environment the schedule says so: its destroy waits for an approval.
    await scheduleStep(
      { action: 'upsert', run: { ...run, protectedEnvironment: true } },
      port,
      NOW,
    );
    expect(upserts.at(-1)).toMatchObject({ protectedEnvironment: true });
  });
});

describe('holdLockThroughApproval', () => {
  /** Locks in memory, decided by the core as the stores do. */
  function memoryLocks(): LockPort & { all: () => LockRecord[] } {
    const held = new Map<string, LockRecord>();
    const key = (environment: string, project: string) => `${environment}/${project}`;
    return {
      all: () => [...held.values()],
      acquire: async (environment, project, owner, now, ttlMs) => {
        const lock = decideLock(held.get(key(environment, project)), {
          environment,
          project,
          owner,
          now,
          ttlMs,
        });
        held.set(key(environment, project), lock);
        return lock;
      },
      release: async (environment, project, owner) => {
        const lock = held.get(key(environment, project));
        assertCanRelease(lock, owner);
        return held.delete(key(environment, project));
      },
      environmentLocks: async (environment) =>
        [...held.values()].filter((lock) => lock.environment === environment),
    };
  }
  const run = {
    ...RUN,
    approvalTimeoutSeconds: 600,
    projects: [
      { name: 'network', dir: 'infra/network', layer: 0, varFiles: [] },
      { name: 'app', dir: 'infra/app', layer: 1, varFiles: [] },
    ],
  };

  it('renews the lock of every project of the run, keeping when each was taken', async () => {
    const locks = memoryLocks();
    await locks.acquire(RUN.environment, 'app', RUN.runId, NOW, 60_000);
    await locks.acquire(RUN.environment, 'network', RUN.runId, NOW, 60_000);
    const later = new Date(NOW.getTime() + 30_000);

    await holdLockThroughApproval({ run }, locks, later);

    expect(locks.all().map((lock) => [lock.project, lock.acquiredAt])).toEqual([
      ['app', NOW.toISOString()],
      ['network', NOW.toISOString()],
    ]);
    for (const lock of locks.all()) expect(lock.expiresAt > later.toISOString()).toBe(true);
  });

  it('is LockHeld when another run took one of them meanwhile, leaving the run its others', async () => {
    const locks = memoryLocks();
    await locks.acquire(RUN.environment, 'app', RUN.runId, NOW, 60_000);
    await locks.acquire(RUN.environment, 'network', 'run-other', NOW, 60_000);

    await expect(holdLockThroughApproval({ run }, locks, NOW)).rejects.toThrow(LockHeld);
    expect(locks.all().map((lock) => [lock.project, lock.owner])).toEqual([
      ['app', RUN.runId],
      ['network', 'run-other'],
    ]);
  });
});

describe('decideFromLink', () => {
  const KEY = 'link-signing-key';
  function pending(): { approval: StoredApproval; approvals: ApprovalPort; reads: () => number } {
    let reads = 0;
    const approval = pendingApproval('approval-link-1');
    const approvals: ApprovalPort = {
      create: async () => undefined,
      get: async () => {
        reads += 1;
        return { ...approval };
      },
      latestForRun: async () => approval,
      decide: async (_id, status, by) => {
        if (approval.status !== 'pending') return false;
        Object.assign(approval, { status, decidedBy: by });
        return true;
      },
    };
    return { approval, approvals, reads: () => reads };
  }
  // What the page posts: the link's query, with the id from its path.
  const fields = (action: 'approve' | 'reject', approver?: string) => ({
    id: 'approval-link-1',
    ...Object.fromEntries(
      new URL(
        approvalLink(
          'https://approve.example',
          {
            id: 'approval-link-1',
            action,
            expiresAt: new Date('2026-11-23T11:00:00.000Z'),
            ...(approver === undefined ? {} : { approver }),
          },
          KEY,
        ),
      ).searchParams,
    ),
  });

  it('reads the approval once, decides as the link’s approver and answers the waiting task', async () => {
    const { approval, approvals, reads } = pending();
    const succeeded: unknown[] = [];
    const callbacks = {
      ensureWaiting: async () => undefined,
      succeed: async (token: string, output: unknown) => void succeeded.push({ token, output }),
      fail: async () => Promise.reject(new Error('not rejected')),
    };
    const decided = await decideFromLink(
      fields('approve', 'alice'),
      { approvals, callbacks },
      { signingKey: KEY, now: NOW, approvers: ['alice', 'bob'] },
    );
    expect(reads()).toBe(1);
    expect(decided).toMatchObject({ status: 'approved', decidedBy: 'alice', decidedVia: 'web' });
    expect(approval.status).toBe('approved');
    expect(succeeded).toEqual([
      { token: 'token', output: expect.objectContaining({ approvedBy: 'alice' }) },
    ]);
  });

  it('loses to a decision made between its read and its write', async () => {
    const { approval, approvals } = pending();
    const callbacks = {
      ensureWaiting: async () => {
        Object.assign(approval, { status: 'rejected' }); // decided elsewhere meanwhile
      },
      succeed: async () => Promise.reject(new Error('must not answer')),
      fail: async () => Promise.reject(new Error('must not answer')),
    };
    await expect(
      decideFromLink(fields('approve'), { approvals, callbacks }, { signingKey: KEY, now: NOW }),
    ).rejects.toThrow(ApprovalAlreadyDecided);
  });
});
