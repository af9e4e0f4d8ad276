// The table of Task steps, over in-memory ports: what each entry does beyond its core step
// (PrepareRun's approval and branch checks, RequestApproval's store-then-announce), and that
// every port a side injects is the one the step uses.
import { describe, expect, it } from '@jest/globals';
import { DefaultBranchCheckFailed, InvalidInput, LockHeld } from './errors.ts';
import { rejection } from '../test/support/caught.ts';
import { commandDigest, destroyDigest, ownerLinksStep } from './steps.ts';
import { DEFAULT_LOCK_TTL_MS } from './locks.ts';
import { jobResult, planSummary, runContext } from '../test/support/run-fixtures.ts';
import type { StatusEvent } from './contracts/status-event.ts';
import { verifyApprovalLink } from './approval.ts';
import type { NotifyPorts } from './notify.ts';
import { OVERRIDE_LINKS_ACTION_ID, slackMessage } from './slack-message.ts';
import type { ChatMessage, StoredApproval } from './ports.ts';
import {
  type AnnouncedApproval,
  TASK_FUNCTIONS,
  TASK_STEPS,
  type TaskPorts,
  isTaskFunction,
  requestApproval,
} from './task-steps.ts';

const NOW = new Date('2026-11-23T10:00:00.000Z');
const KEY = 'k'.repeat(44);
const RUN = runContext();
const PLAN = { plan: { dir: 'stack', sha256: 'b'.repeat(64) }, resultLocation: '/a/run-1/plan' };
const RESULT = jobResult({ summary: planSummary({ add: 1 }) });

function memoryPorts(overrides: Partial<TaskPorts> = {}) {
  const approvals: StoredApproval[] = [];
  const events: StatusEvent[] = [];
  const chats: ChatMessage[] = [];
  const warnings: { message: string; detail: Record<string, unknown> }[] = [];
  const awaited: AnnouncedApproval[] = [];
  const lockCalls: string[] = [];
  const notifyPorts: NotifyPorts = {
    status: { publish: async (event) => void events.push(event) },
    artifacts: { readResult: async () => RESULT, readPlanDiff: async () => undefined },
    runs: { addRunDetails: async () => undefined },
    chat: { post: async (message) => void chats.push(message) },
    commentSink: async () => undefined,
  };
  const ports: TaskPorts = {
    now: () => NOW,
    jobSettings: { backend: { type: 'local', stateDir: '/state' }, artifactsRoot: '/a' },
    locks: {
      acquire: async (environment, project, owner, now, ttlMs) => {
        lockCalls.push(`acquire ${environment} ${project} ${owner} ${now.toISOString()}`);
        return {
          environment,
          project,
          owner,
          acquiredAt: now.toISOString(),
          expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
        };
      },
      release: async (environment, project, owner) => {
        lockCalls.push(`release ${environment} ${project} ${owner}`);
        return true;
      },
      environmentLocks: async () => [],
    },
    records: {
      getLastGood: async () => undefined,
      setLastGood: async () => undefined,
      setEnvironment: async () => undefined,
      readEnvironment: async () => undefined,
      getDrift: async () => undefined,
      setDrift: async () => undefined,
    },
    runs: notifyPorts.runs,
    artifacts: notifyPorts.artifacts,
    schedules: {
      upsert: async () => undefined,
      remove: async () => undefined,
      pending: async () => undefined,
    },
    approvals: {
      create: async (approval) => void approvals.push(approval),
      get: async () => undefined,
      latestForRun: async () => undefined,
      decide: async () => true,
    },
    notifyPorts: async () => notifyPorts,
    allowAutoApprove: false,
    repositoryPin: { kind: 'any' },
    defaultBranchCheck: async () => 'not-required',
    approvalSigning: async () => ({ signingKey: 'k'.repeat(44), baseUrl: 'https://approve.test' }),
    awaitDecision: async (request) => {
      awaited.push(request);
      return { waited: request.approval.id };
    },
    warn: (message, detail) => void warnings.push({ message, detail }),
    ...overrides,
  };
  return { ports, approvals, events, chats, warnings, awaited, lockCalls };
}

/** The same ports with a chat channel that refuses every message. */
function withSlackDown(ports: TaskPorts): TaskPorts {
  return {
    ...ports,
    notifyPorts: async () => ({
      ...(await ports.notifyPorts()),
      chat: { post: async () => Promise.reject(new Error('Slack is down')) },
    }),
  };
}

describe('TASK_STEPS', () => {
  it('names the function of every Task state, each once', () => {
    expect(TASK_FUNCTIONS).toEqual([
      'PrepareRun',
      'Lock',
      'Unlock',
      'CollectJobResult',
      'Notify',
      'RequestApproval',
      'Record',
      'Rollback',
      'Schedule',
      'ChangeTtl',
    ]);
    expect(isTaskFunction('Lock')).toBe(true);
    for (const name of ['ApprovalCallback', 'ExecutionEnded', 'toString', 'lock']) {
      expect([name, isTaskFunction(name)]).toEqual([name, false]);
    }
  });

  it('runs a step over the ports it is given: Lock takes each project’s lock for the run at now, in sorted order', async () => {
    const { ports, lockCalls } = memoryPorts();
    const input = { runId: 'run-1', environment: 'dev', projects: ['network', 'app'] };

    const lock = await TASK_STEPS.Lock(input, ports);
    await TASK_STEPS.Unlock(input, ports);

    expect(lock).toMatchObject({ owner: 'run-1' });
    expect(lockCalls).toEqual([
      'acquire dev app run-1 2026-11-23T10:00:00.000Z',
      'acquire dev network run-1 2026-11-23T10:00:00.000Z',
      'release dev app run-1',
      'release dev network run-1',
    ]);
  });
});

describe('PrepareRun', () => {
  const input = { input: { ...RUN, autoApprove: true } };

  it('refuses a plan-apply that would skip its approval where the deployment does not allow it', async () => {
    const { ports } = memoryPorts();

    await expect(TASK_STEPS.PrepareRun(input, ports)).rejects.toMatchObject({
      name: 'InvalidInput',
      field: 'input.autoApprove',
    });
  });

  it('lets it through where allowed, and builds its jobs', async () => {
    const { ports } = memoryPorts({ allowAutoApprove: true });

    const prepared = await TASK_STEPS.PrepareRun(input, ports);

    expect(prepared.run.autoApprove).toBe(true);
    expect(prepared.jobs?.plan).toMatchObject({ verb: 'plan', artifactsDir: '/a/run-1/plan' });
  });

  it('asks the code host whether the commit is merged, and stops an unmerged one', async () => {
    const asked: string[] = [];
    const { ports } = memoryPorts({
      defaultBranchCheck: async () => ({
        isOnDefaultBranch: async (commit) => {
          asked.push(commit);
          return false;
        },
      }),
    });

    await expect(TASK_STEPS.PrepareRun({ input: RUN }, ports)).rejects.toMatchObject({
      name: 'UnmergedCommit',
    });
    expect(asked).toEqual([RUN.commit]);
  });

  it('refuses a run of another repository than the deployment pins, naming input.repository', async () => {
    const { ports } = memoryPorts({
      repositoryPin: { kind: 'github', repository: 'acme/infra' },
    });
    const run = (repository: string) =>
      TASK_STEPS.PrepareRun({ input: { ...RUN, workflow: 'plan', repository } }, ports);

    await expect(run('https://github.com/attacker/infra')).rejects.toMatchObject({
      name: 'InvalidInput',
      field: 'input.repository',
    });
    await expect(run('/repo')).rejects.toMatchObject({ field: 'input.repository' });
    await expect(run('https://github.com/acme/infra.git')).resolves.toMatchObject({
      jobs: { plan: { repository: 'https://github.com/acme/infra.git' } },
    });
  });

  it('refuses every run where the deployment has no repository configured', async () => {
    const { ports } = memoryPorts({
      repositoryPin: { kind: 'unconfigured', setting: 'github.repository' },
    });

    await expect(
      TASK_STEPS.PrepareRun(
        { input: { ...RUN, workflow: 'destroy', repository: 'https://github.com/acme/infra' } },
        ports,
      ),
    ).rejects.toMatchObject({
      name: 'InvalidInput',
      field: 'input.repository',
      message: expect.stringContaining('set github.repository'),
    });
  });

  it('refuses a plan-apply whose deployment cannot check the default branch (fail closed)', async () => {
    const { ports } = memoryPorts({
      defaultBranchCheck: async () =>
        Promise.reject(new DefaultBranchCheckFailed('no GitHub token: set the secret')),
    });

    await expect(TASK_STEPS.PrepareRun({ input: RUN }, ports)).rejects.toMatchObject({
      name: 'DefaultBranchCheckFailed',
      message: 'no GitHub token: set the secret',
    });
  });

  it('needs no default-branch check for the other workflows', async () => {
    const asked: string[] = [];
    const { ports } = memoryPorts({
      defaultBranchCheck: async () => {
        asked.push('check');
        return Promise.reject(new DefaultBranchCheckFailed('no GitHub token'));
      },
    });

    for (const workflow of ['plan', 'destroy'] as const) {
      await expect(
        TASK_STEPS.PrepareRun({ input: { ...RUN, workflow } }, ports),
      ).resolves.toMatchObject({ run: { workflow } });
    }
    expect(asked).toEqual([]);
  });
});

describe('RequestApproval', () => {
  const input = { taskToken: 'token-from-step-functions', run: RUN, plan: PLAN };

  it('of a command run: approves that command, says what will run, keeps its digest', async () => {
    const { ports, approvals, chats } = memoryPorts();
    const args = ['state', 'rm', 'null_resource.a'];
    const run = { ...RUN, workflow: 'command', args };

    const announced = await requestApproval(
      { taskToken: 'token-1', run, command: { args } },
      ports,
    );

    expect(announced.command).toEqual({ name: 'state rm', args: ['null_resource.a'] });
    expect(approvals).toEqual([
      expect.objectContaining({ runId: 'run-1', planSha256: commandDigest(args) }),
    ]);
    expect(JSON.stringify(chats)).toContain('terraform state rm null_resource.a');
  });

  it("refuses an approval of a command that is not the run's, or of both a plan and a command", async () => {
    const { ports, approvals } = memoryPorts();
    const run = { ...RUN, workflow: 'command', args: ['state', 'list'] };
    const other = await rejection(
      requestApproval(
        { taskToken: 't', run, command: { args: ['state', 'rm', 'null_resource.a'] } },
        ports,
      ),
    );
    expect((other as InvalidInput).field).toBe('approval.command.args');
    const both = await rejection(
      requestApproval(
        { taskToken: 't', run, plan: PLAN, command: { args: ['state', 'list'] } },
        ports,
      ),
    );
    expect((both as InvalidInput).field).toBe('approval.plan');
    expect(approvals).toEqual([]);
  });

  it('of a destroy: approves that destroy job, keeping the digest of what it destroys', async () => {
    const { ports, approvals, chats } = memoryPorts();
    const run = { ...RUN, workflow: 'destroy' as const };
    const job = {
      runId: 'run-1',
      verb: 'destroy' as const,
      repository: '/repo',
      commit: RUN.commit,
      projectDir: 'stack',
      environment: 'dev',
      backend: { type: 'local' as const, stateDir: '/state' },
      artifactsDir: '/a/run-1/destroy',
      varFiles: [],
    };
    const project = (destroy: typeof job) => ({
      destroy: { projects: [{ dir: 'stack', jobs: { destroy } }] },
    });
    const announced = await requestApproval({ taskToken: 't', run, ...project(job) }, ports);
    const digest = destroyDigest({
      environment: 'dev',
      commit: RUN.commit,
      projects: [{ projectDir: 'stack', varFiles: [] }],
    });
    expect(announced.destroy).toEqual({
      environment: 'dev',
      commit: RUN.commit,
      projects: [{ projectDir: 'stack', varFiles: [] }],
    });
    expect(approvals).toEqual([expect.objectContaining({ runId: 'run-1', planSha256: digest })]);
    expect(digest).not.toBe(destroyDigest({ ...announced.destroy!, environment: 'prod' }));
    expect(digest).not.toBe(
      destroyDigest({
        ...announced.destroy!,
        projects: [{ projectDir: 'stack', varFiles: ['x'] }],
      }),
    );
    expect(JSON.stringify(chats)).toContain('destroy stack in dev');

    const other = await rejection(
      requestApproval({ taskToken: 't', run, ...project({ ...job, environment: 'prod' }) }, ports),
    );
    expect((other as InvalidInput).field).toBe(
      'approval.destroy.projects.0.jobs.destroy.environment',
    );
    const elsewhere = await rejection(
      requestApproval({ taskToken: 't', run, ...project({ ...job, projectDir: 'other' }) }, ports),
    );
    expect((elsewhere as InvalidInput).field).toBe(
      'approval.destroy.projects.0.jobs.destroy.projectDir',
    );
    expect(approvals).toHaveLength(1);
  });

  it('stores the approval with the input task token, then announces it with its links', async () => {
    const { ports, approvals, events, chats, warnings } = memoryPorts();

    const announced = await requestApproval(input, ports);

    expect(approvals).toEqual([
      expect.objectContaining({
        id: announced.approval.id,
        runId: 'run-1',
        taskToken: 'token-from-step-functions',
        planSha256: 'b'.repeat(64),
        status: 'pending',
        requestedAt: NOW.toISOString(),
        expiresAt: '2026-11-23T10:10:00.000Z',
      }),
    ]);
    expect(announced.links?.approve).toMatch(
      new RegExp(`^https://approve\\.test/approvals/${announced.approval.id}\\?action=approve&`),
    );
    expect(announced.links?.reject).toContain('action=reject');
    expect(events.map((e) => e.phase)).toEqual(['awaiting_approval']);
    expect(JSON.stringify(chats)).toContain(announced.links?.approve);
    expect(announced.notified).toEqual({ delivered: expect.any(Array), failed: [] });
    expect(warnings).toEqual([]);
  });

  it('with an approver list, makes links per approver and shares none of them', async () => {
    // Prepare
    const approvers = ['alice', 'bob'];
    const memory = memoryPorts({
      approvalSigning: async () => ({
        signingKey: KEY,
        baseUrl: 'https://approve.test',
        approvers,
      }),
    });
    const { events, chats } = memory;
    // Slack's Block Kit message, as the Lambdas and the local notifier build it.
    const ports: TaskPorts = {
      ...memory.ports,
      notifyPorts: async () => ({
        ...(await memory.ports.notifyPorts()),
        chatMessage: (run, phase, detail) => slackMessage({ run, phase, ...detail }),
      }),
    };

    // Act
    const announced = await requestApproval(input, ports);

    // Assess: each pair decides as its approver, and only as them
    expect(announced.links).toBeUndefined();
    expect(announced.approverLinks?.map((links) => links.approver)).toEqual(approvers);
    for (const links of announced.approverLinks ?? []) {
      for (const [action, url] of [
        ['approve', links.approve],
        ['reject', links.reject],
      ] as const) {
        const query = Object.fromEntries(new URL(url).searchParams);
        const id = new URL(url).pathname.split('/').at(-1);
        expect(verifyApprovalLink({ ...query, id }, KEY, NOW)).toMatchObject({
          action,
          approver: links.approver,
        });
      }
    }
    // The shared channels carry no link at all: Slack's buttons send the approval id only.
    const shared = JSON.stringify([events, chats]);
    expect(shared).not.toContain('https://approve.test');
    expect(shared).not.toContain('sig=');
    const actions = chats[0]?.blocks?.find(
      (block) => (block as { type: string }).type === 'actions',
    ) as { elements: Record<string, unknown>[] } | undefined;
    expect(actions?.elements.map((button) => [button.url, button.value])).toEqual([
      [undefined, `${announced.approval.id}.approve`],
      [undefined, `${announced.approval.id}.reject`],
    ]);
  });

  it('stores the token the engine mints, where it gives one per execution', async () => {
    const { ports, approvals } = memoryPorts({ taskToken: () => 'minted' });

    await requestApproval(input, ports);

    expect(approvals.map((a) => a.taskToken)).toEqual(['minted']);
  });

  it('hands the announced approval to the side that waits, and returns what it returns', async () => {
    const { ports, awaited, approvals } = memoryPorts();

    const output = await TASK_STEPS.RequestApproval(input, ports);

    expect(awaited.map((a) => a.approval.id)).toEqual(approvals.map((a) => a.id));
    expect(output).toEqual({ waited: approvals[0]!.id });
  });

  it('first renews the lock until the approval expires, then for as long as an apply may take', async () => {
    const expiries: string[] = [];
    const { ports } = memoryPorts();
    const locks = {
      ...ports.locks,
      acquire: async (
        environment: string,
        project: string,
        owner: string,
        now: Date,
        ttlMs: number,
      ) => {
        const lock = await ports.locks.acquire(environment, project, owner, now, ttlMs);
        expiries.push(`${owner} ${lock.expiresAt}`);
        return lock;
      },
    };

    await TASK_STEPS.RequestApproval(input, { ...ports, locks });

    // The approval waits 600 s (RUN), then an apply may take the lock's five hours.
    const until = new Date(NOW.getTime() + 600_000 + DEFAULT_LOCK_TTL_MS).toISOString();
    expect(expiries).toEqual([`run-1 ${until}`]);
  });

  it('asks nobody to approve a run whose environment another run took meanwhile', async () => {
    const { ports, approvals, events, awaited } = memoryPorts({
      locks: {
        acquire: async () =>
          Promise.reject(new LockHeld('project app in environment dev is locked by run run-2')),
        release: async () => false,
        environmentLocks: async () => [],
      },
    });

    await expect(TASK_STEPS.RequestApproval(input, ports)).rejects.toBeInstanceOf(LockHeld);
    expect(approvals).toEqual([]);
    expect(events).toEqual([]);
    expect(awaited).toEqual([]);
  });

  it('warns of a channel that failed, and still waits', async () => {
    const { ports, awaited, warnings } = memoryPorts();
    const failing = withSlackDown(ports);

    await TASK_STEPS.RequestApproval(input, failing);

    expect(warnings).toEqual([
      {
        message: 'approval request notifications failed',
        detail: { failed: [expect.stringContaining('Slack is down')] },
      },
    ]);
    expect(awaited).toHaveLength(1);
  });
});

describe('RequestApproval of a policy override (issue 16)', () => {
  const policies = [
    { name: 'guardrails', path: 'policy', on_failure: 'block' as const, owners: ['alice', 'bob'] },
    { name: 'tags', path: 'tags', on_failure: 'block' as const, owners: ['bob'] },
  ];
  const run = { ...RUN, policies };
  const blocked = (blockedBy: string[]) => ({
    taskToken: 't',
    run,
    plan: PLAN,
    policyOverride: { blockedBy, owners: ['mallory'] },
  });

  it('is decided by the owners of every blocking set, each with links of their own, never shared', async () => {
    // Prepare: the deployment's own approver list does not decide an override
    const { ports, approvals, events, chats } = memoryPorts({
      approvalSigning: async () => ({
        signingKey: KEY,
        baseUrl: 'https://approve.test',
        approvers: ['carol'],
      }),
    });

    // Act: the owners the input names are ignored; the run's policies say who
    const announced = await requestApproval(blocked(['guardrails']), {
      ...ports,
      notifyPorts: async () => ({
        ...(await ports.notifyPorts()),
        chatMessage: (run, phase, detail) => slackMessage({ run, phase, ...detail }),
      }),
    });

    // Assess
    expect(announced.policyOverride).toEqual({
      blockedBy: ['guardrails'],
      owners: ['alice', 'bob'],
    });
    expect(announced.approverLinks?.map((links) => links.approver)).toEqual(['alice', 'bob']);
    expect(approvals[0]?.subject).toMatchObject({
      kind: 'policy_override',
      policy: { blockedBy: ['guardrails'], owners: ['alice', 'bob'] },
    });
    expect(events.map((e) => [e.phase, e.message])).toEqual([
      [
        'awaiting_policy_override',
        `Blocked by guardrails: waiting for an override by alice or bob, with a reason (their own link, or \`stepform approve ${RUN.runId} --by NAME --reason "…"\`)`,
      ],
    ]);
    const shared = JSON.stringify([events, chats]);
    expect(shared).not.toContain('sig=');
    // No approve or reject button, which cannot say why: one that asks for an owner's links.
    expect(shared).not.toContain(`${announced.approval.id}.approve`);
    const actions = (chats[0]?.blocks ?? []).filter(
      (block) => (block as { type: string }).type === 'actions',
    );
    expect(actions).toEqual([
      expect.objectContaining({
        elements: [
          expect.objectContaining({
            action_id: OVERRIDE_LINKS_ACTION_ID,
            value: announced.approval.id,
          }),
        ],
      }),
    ]);
    expect(JSON.stringify(actions)).not.toContain('"url"');

    const both = await requestApproval(blocked(['guardrails', 'tags']), ports);
    expect(both.policyOverride?.owners).toEqual(['bob']);
  });

  it('is refused when nobody owns every blocking set', async () => {
    const { ports, approvals } = memoryPorts();
    const error = await rejection(
      requestApproval(
        {
          ...blocked(['guardrails', 'tags']),
          run: { ...RUN, policies: [policies[0]!, { ...policies[1]!, owners: ['carol'] }] },
        },
        ports,
      ),
    );
    expect((error as InvalidInput).field).toBe('approval.policyOverride.blockedBy');
    expect(approvals).toEqual([]);
  });
});

describe('an owner asks for their own override links (ownerLinksStep, issue 16)', () => {
  const SIGNING = { baseUrl: 'https://approve.test', signingKey: KEY };
  const override = (changes: Partial<StoredApproval> = {}): StoredApproval => ({
    id: 'ovr-1',
    runId: RUN.runId,
    taskToken: 'token',
    environment: 'prod',
    projectDir: 'stack',
    commit: RUN.commit,
    planSha256: 'b'.repeat(64),
    subject: {
      kind: 'policy_override',
      projects: [],
      policy: { blockedBy: ['guardrails'], owners: ['alice', 'U0BOB'] },
    },
    status: 'pending',
    requestedAt: NOW.toISOString(),
    expiresAt: new Date(NOW.getTime() + 3_600_000).toISOString(),
    ...changes,
  });
  const store = (approval: StoredApproval) => ({
    create: async () => undefined,
    get: async (id: string) => (id === approval.id ? approval : undefined),
    latestForRun: async () => approval,
    decide: async () => true,
  });
  /** Who asks: alice by handle, or anyone else. */
  const asking = (who: string) => ({
    approvalId: 'ovr-1',
    who,
    owner: (owners: readonly string[]) => owners.find((owner) => owner === who),
    now: NOW,
  });

  it('gives an owner links that decide as them, and as nobody else', async () => {
    const given = await ownerLinksStep(asking('alice'), store(override()), SIGNING);

    expect(given).toMatchObject({ owner: 'alice', blockedBy: ['guardrails'] });
    for (const [link, action] of [
      [given.approve, 'approve'],
      [given.reject, 'reject'],
    ] as const) {
      const url = new URL(link);
      expect(url.origin).toBe('https://approve.test');
      const fields = { ...Object.fromEntries(url.searchParams), id: 'ovr-1' };
      expect(verifyApprovalLink(fields, KEY, NOW)).toMatchObject({ action, approver: 'alice' });
    }
  });

  it('refuses anyone not an owner, an override decided or expired, and any other approval', async () => {
    const refusal = async (who: string, approval: StoredApproval) =>
      describeRefusal(await rejection(ownerLinksStep(asking(who), store(approval), SIGNING)));

    expect(await refusal('mallory', override())).toBe(
      'NotAnApprover: mallory may not override guardrails: only alice, U0BOB may (the owners of every blocking policy)',
    );
    expect(await refusal('alice', override({ status: 'rejected' }))).toMatch(
      /^ApprovalAlreadyDecided: /,
    );
    expect(
      await refusal('alice', override({ expiresAt: new Date(NOW.getTime() - 1).toISOString() })),
    ).toMatch(/^ApprovalExpired: /);
    expect(await refusal('alice', override({ subject: { kind: 'plan', projects: [] } }))).toBe(
      'NotFound: no policy override ovr-1',
    );
  });
});

/** `Name: message` of a refusal. */
function describeRefusal(error: unknown): string {
  return `${(error as Error).name}: ${(error as Error).message}`;
}

describe('Notify', () => {
  it('reports what was delivered, and warns of what failed', async () => {
    const { ports, events, warnings } = memoryPorts();
    const failing = withSlackDown(ports);

    const report = await TASK_STEPS.Notify({ run: RUN, phase: 'started' }, failing);

    expect(events.map((e) => e.phase)).toEqual(['started']);
    expect(report.failed).toEqual([expect.stringContaining('Slack is down')]);
    expect(warnings.map((w) => w.message)).toEqual(['some notifications failed']);
  });
});
