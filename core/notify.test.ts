import { describe, expect, it } from '@jest/globals';
import { jobResult, planSummary, runContext } from '../test/support/run-fixtures.ts';
import { fixtureDiff } from '../test/support/plan-fixtures.ts';
import { MASK } from './masking.ts';
import { NotificationFailed } from './errors.ts';
import { type NotifyDetail, notifyStep, rollbackMessage, statusLine } from './notify.ts';
import type { PolicyResult } from './policy.ts';
import { slackMessage } from './slack-message.ts';
import type { NotifyPorts as NotifyPortsLike } from './notify.ts';
import type { ChatMessage, CodeHostPort } from './ports.ts';
import type { StatusEvent } from './contracts/status-event.ts';

const RUN = runContext({ approvalTimeoutSeconds: 60 });

const RESULT = jobResult({
  summary: planSummary({ add: 2, change: 1, destroy: 1, replace: 1 }),
  outputs: { name: { sensitive: false, value: 'x' } },
  plan: { path: '/a/plan.tfplan', metadataPath: '/a/plan.meta.json', sha256: 'b'.repeat(64) },
});

function fakePorts(overrides: Partial<NotifyPortsLike> = {}) {
  const events: StatusEvent[] = [];
  const chats: ChatMessage[] = [];
  const details: Record<string, unknown>[] = [];
  const comments: { runId: string; markdown: string }[] = [];
  const ports: NotifyPortsLike = {
    status: { publish: async (event) => void events.push(event) },
    artifacts: {
      readResult: async () => Promise.resolve(RESULT),
      readPlanDiff: async () => Promise.resolve(undefined),
    },
    runs: { addRunDetails: async (_runId, d) => void details.push(d) },
    chat: { post: async (message) => void chats.push(message) },
    commentSink: async (runId, markdown) => void comments.push({ runId, markdown }),
    ...overrides,
  };
  return { ports, events, chats, details, comments };
}

const NOW = new Date('2026-11-23T10:00:00.000Z');

/** A code host that these notices never ask about issues (only drift runs do). */
const NO_ISSUES: Pick<
  CodeHostPort,
  'findOpenIssue' | 'createIssue' | 'updateIssue' | 'commentOnIssue'
> = {
  findOpenIssue: async () => Promise.reject(new Error('no issue expected')),
  createIssue: async () => Promise.reject(new Error('no issue expected')),
  updateIssue: async () => Promise.reject(new Error('no issue expected')),
  commentOnIssue: async () => Promise.reject(new Error('no issue expected')),
};

describe('notifyStep', () => {
  it('publishes the status event, posts to chat, records the summary and writes the comment', async () => {
    const { ports, events, chats, details, comments } = fakePorts();
    const report = await notifyStep(
      { run: RUN, phase: 'planned', result: { resultLocation: '/a' } },
      ports,
      NOW,
    );
    expect(report).toEqual({ delivered: ['status', 'chat', 'pr-comment (file)'], failed: [] });
    expect(events).toEqual([
      {
        schemaVersion: 2,
        runId: 'run-1',
        workflow: 'plan-apply',
        environment: 'dev',
        // A run of one project, without stepform.yaml: named after its folder.
        projects: [{ name: 'stack', dir: 'stack', summary: { add: 2, change: 1, destroy: 1 } }],
        commit: 'a'.repeat(40),
        phase: 'planned',
        at: '2026-11-23T10:00:00.000Z',
      },
    ]);
    expect(chats).toEqual([
      { text: `plan-apply stack in dev @ ${'a'.repeat(12)}: planned — +2 ~1 -1` },
    ]);
    expect(details).toEqual([
      {
        summary: { add: 2, change: 1, destroy: 1 },
        outputs: RESULT.outputs,
        planSha256: 'b'.repeat(64),
      },
    ]);
    // plan-apply runs projects: its comment is the environment's, a section per project.
    expect(comments[0]?.markdown).toContain('<!-- stepform:comment environment=dev -->');
    expect(comments[0]?.markdown).toMatch(
      /#### .* `stack` · `stack` · layer 0 · planned · \*\*\+2 ~1 -1/,
    );
  });

  it('keeps the comment of the environment and project for a workflow of one project', async () => {
    const { ports, comments } = fakePorts();
    await notifyStep(
      {
        run: { ...RUN, workflow: 'command', args: ['state', 'list'] },
        phase: 'command_completed',
        result: { resultLocation: '/a' },
      },
      ports,
      NOW,
    );
    expect(comments).toHaveLength(1);
    expect(comments[0]?.markdown).toContain(
      '<!-- stepform:comment environment=dev project=stack -->',
    );
  });

  it('leaves the environment comment alone for a notice of one project’s step (rolling back)', async () => {
    const { ports, events, comments } = fakePorts();
    const report = await notifyStep(
      {
        run: RUN,
        phase: 'rolling_back',
        error: { Error: 'JobFailed', Cause: 'apply failed' },
      },
      ports,
      NOW,
    );
    expect(events.map((e) => e.phase)).toEqual(['rolling_back']);
    expect(comments).toEqual([]);
    expect(report.delivered).toEqual(['status', 'chat']);
  });

  it('reports a failing chat and still succeeds', async () => {
    const { ports, events } = fakePorts({
      chat: { post: async () => Promise.reject(new Error('HTTP 500')) },
    });
    const report = await notifyStep({ run: RUN, phase: 'started' }, ports, NOW);
    expect(report.failed).toEqual(['chat: HTTP 500']);
    expect(events).toHaveLength(1);
  });

  it('reports a rejection whose Catch gave a null Cause, with the error alone', async () => {
    const { ports, events, chats } = fakePorts();
    const report = await notifyStep(
      { run: RUN, phase: 'rejected', error: { Error: 'ApprovalRejected', Cause: null } },
      ports,
      NOW,
    );
    expect(report.failed).toEqual([]);
    expect(events.map((e) => e.phase)).toEqual(['rejected']);
    expect(events[0]?.message).toMatch(/: rejected — ApprovalRejected$/);
    expect(chats).toHaveLength(1);
  });

  it('fails with NotificationFailed when the status event cannot be published', async () => {
    const { ports } = fakePorts({
      status: { publish: async () => Promise.reject(new Error('queue down')) },
    });
    await expect(notifyStep({ run: RUN, phase: 'started' }, ports, NOW)).rejects.toBeInstanceOf(
      NotificationFailed,
    );
  });

  it('updates the sticky PR comment, the commit status and the deployment on GitHub', async () => {
    const calls: string[] = [];
    const codeHost: CodeHostPort = {
      upsertPullRequestComment: async (pr, marker) => void calls.push(`comment ${pr} ${marker}`),
      setCommitStatus: async (commit, status) =>
        void calls.push(`status ${commit.slice(0, 4)} ${status.state} ${status.context}`),
      recordDeployment: async (_commit, d) =>
        void calls.push(`deployment ${d.environment} ${d.state}`),
      isOnDefaultBranch: async () => Promise.resolve(true),
      dispatchRepositoryEvent: async () => void calls.push('dispatch'),
      ...NO_ISSUES,
    };
    const { ports } = fakePorts({ codeHost });
    await notifyStep(
      { run: { ...RUN, pullRequest: 7 }, phase: 'applied', result: { resultLocation: '/a' } },
      ports,
      NOW,
    );
    expect(calls).toEqual([
      'comment 7 <!-- stepform:comment environment=dev -->',
      'status aaaa success stepform/plan-apply/dev',
      'deployment dev success',
    ]);
  });

  it('puts the approval links in the chat text', async () => {
    const { ports, chats } = fakePorts();
    await notifyStep(
      {
        run: RUN,
        phase: 'awaiting_approval',
        links: { approve: 'http://a/approve', reject: 'http://a/reject' },
      },
      ports,
      NOW,
    );
    expect(chats[0]?.text).toContain('approve: http://a/approve\nreject: http://a/reject');
  });

  it('refuses an unknown phase, naming the field', async () => {
    const { ports } = fakePorts();
    await expect(notifyStep({ run: RUN, phase: 'exploded' }, ports, NOW)).rejects.toMatchObject({
      name: 'InvalidInput',
      field: 'notify.phase',
    });
  });
});

describe('a rollback, as each phase tells it', () => {
  const ROLLBACK = {
    commit: 'c'.repeat(40),
    failedCommit: 'a'.repeat(40),
    message: `apply of ${'a'.repeat(40)} failed; rolled back to the last good commit ${'c'.repeat(40)}`,
  };
  const APPLY_ERROR = { Error: 'JobFailed', Cause: 'apply failed: TerraformFailed: boom' };
  const ROLLBACK_ERROR = {
    Error: 'JobFailed',
    Cause: 'plan-apply failed: TerraformFailed: destroy-time provisioner failed',
  };

  it('says "rolled back" only once it has; under way it names the apply’s error', () => {
    expect(rollbackMessage('rolling_back', ROLLBACK, APPLY_ERROR)).toBe(
      `JobFailed: apply failed: TerraformFailed: boom; rolling back to the last good commit ${'c'.repeat(40)}`,
    );
    expect(rollbackMessage('rolled_back', ROLLBACK, APPLY_ERROR)).toBe(ROLLBACK.message);
  });

  it('reports a failed rollback with its own error in the event, chat, comment and statuses', async () => {
    const calls: string[] = [];
    const codeHost: CodeHostPort = {
      upsertPullRequestComment: async () => void calls.push('comment'),
      setCommitStatus: async (_commit, status) => void calls.push(`status ${status.state}`),
      recordDeployment: async (_commit, d) => void calls.push(`deployment ${d.state}`),
      isOnDefaultBranch: async () => Promise.resolve(true),
      dispatchRepositoryEvent: async () => void calls.push('dispatch'),
      ...NO_ISSUES,
    };
    const { ports, events, chats, comments } = fakePorts();
    const rollback = { commit: ROLLBACK.commit, failedCommit: ROLLBACK.failedCommit };
    const input = { run: RUN, phase: 'rollback_failed', error: ROLLBACK_ERROR, rollback };
    await notifyStep(input, ports, NOW);
    await notifyStep(input, { ...ports, codeHost }, NOW);
    const said = `the rollback to the last good commit ${'c'.repeat(40)} failed: JobFailed: plan-apply failed: TerraformFailed: destroy-time provisioner failed`;
    expect(events[0]).toMatchObject({
      phase: 'rollback_failed',
      message: `plan-apply stack in dev @ ${'a'.repeat(12)}: rollback_failed — ${said}`,
    });
    expect(chats[0]?.text).toContain(said);
    expect(comments[0]?.markdown).toContain('Stepform: rollback\\_failed');
    expect(comments[0]?.markdown).toContain('destroy-time provisioner failed');
    for (const text of [events[0]?.message, chats[0]?.text, comments[0]?.markdown]) {
      expect(text).not.toContain('rolled back');
    }
    expect(calls).toEqual(['status failure', 'deployment failure']);
  });
});

describe('statusLine', () => {
  it('names the rollback target rather than the error when there is one', () => {
    expect(
      statusLine(RUN, 'rolled_back', {
        error: { Error: 'JobFailed', Cause: 'apply failed' },
        rollback: { message: 'rolled back to abc' },
      }),
    ).toBe(`plan-apply stack in dev @ ${'a'.repeat(12)}: rolled_back — rolled back to abc`);
  });
});

describe('notifyStep of a run of projects', () => {
  const project = (name: string, layer: number, status: string) => ({
    name,
    dir: `infra/${name}`,
    layer,
    status,
    hasChanges: status === 'planned',
    summary: { add: status === 'planned' ? 2 : 0, change: 0, destroy: 0, replace: 0, import: 0 },
    ...(status === 'planned' ? { resultLocation: `/a/project-${name}/plan` } : {}),
    outputs: {},
    ...(status === 'failed' ? { error: { name: 'JobFailed', message: 'plan failed: x' } } : {}),
  });
  const run = {
    ...RUN,
    projectDir: 'infra',
    projects: [
      { name: 'network', dir: 'infra/network', layer: 0, varFiles: [] },
      { name: 'app', dir: 'infra/app', layer: 1, varFiles: [] },
    ],
  };
  const projects = {
    failed: true,
    hasChanges: true,
    summary: { add: 2, change: 0, destroy: 0, replace: 0, import: 0 },
    projects: [project('network', 0, 'planned'), project('app', 1, 'failed')],
  };

  it('writes the environment comment with a section per project, and tells of each in the event', async () => {
    const read: string[] = [];
    const { ports, events, details, comments } = fakePorts({
      artifacts: {
        readResult: async (location) => (read.push(location), RESULT),
        readPlanDiff: async () => Promise.resolve(undefined),
      },
    });
    await notifyStep({ run, phase: 'failed', projects }, ports, NOW);
    expect(read).toEqual(['/a/project-network/plan']);
    expect(events[0]?.projects).toEqual([
      {
        name: 'network',
        dir: 'infra/network',
        status: 'planned',
        summary: { add: 2, change: 0, destroy: 0 },
      },
      {
        name: 'app',
        dir: 'infra/app',
        status: 'failed',
        summary: { add: 0, change: 0, destroy: 0 },
      },
    ]);
    expect(events[0]).not.toHaveProperty('summary');
    expect(details[0]).toMatchObject({ projects: projects.projects });
    expect(comments).toHaveLength(1);
    const markdown = comments[0]?.markdown ?? '';
    expect(markdown.startsWith('<!-- stepform:comment environment=dev -->')).toBe(true);
    expect(markdown).toContain('network');
    expect(markdown).toContain('JobFailed: plan failed: x');
  });

  it('tells of each project the run covers before there are reports (started)', async () => {
    const { ports, events } = fakePorts();
    await notifyStep({ run, phase: 'started' }, ports, NOW);
    expect(events[0]?.projects).toEqual([
      { name: 'network', dir: 'infra/network' },
      { name: 'app', dir: 'infra/app' },
    ]);
  });

  it('tells of a run of one project as of its job: its result.json', async () => {
    const { ports, details, events } = fakePorts();
    const one = { ...projects, failed: false, projects: [project('network', 0, 'planned')] };
    await notifyStep(
      {
        run: { ...run, projectDir: 'infra/network', projects: run.projects.slice(0, 1) },
        phase: 'planned',
        projects: one,
      },
      ports,
      NOW,
    );
    expect(details[0]).toMatchObject({ outputs: RESULT.outputs, planSha256: 'b'.repeat(64) });
    // Its name in stepform.yaml, its status, and the counts of its result.json.
    expect(events[0]?.projects).toEqual([
      {
        name: 'network',
        dir: 'infra/network',
        status: 'planned',
        summary: { add: 2, change: 1, destroy: 1 },
      },
    ]);
  });
});

describe('notifyStep with the plans’ diffs', () => {
  it('puts the plan’s diff in the comment, read beside an apply’s result, with the applied outputs', async () => {
    const read: string[] = [];
    const { ports, comments } = fakePorts({
      artifacts: {
        readResult: async () =>
          Promise.resolve({
            ...RESULT,
            outputs: {
              greeting: { sensitive: false, value: 'hello, world' },
              secret: { sensitive: true, value: MASK },
            },
          }),
        readPlanDiff: async (location) => {
          read.push(location);
          return Promise.resolve(location === '/r/plan' ? fixtureDiff('update-nested') : undefined);
        },
      },
    });
    await notifyStep(
      { run: RUN, phase: 'applied', result: { resultLocation: '/r/apply' } },
      ports,
      NOW,
    );
    // The apply's folder has none: the saved plan's folder beside it has.
    expect(read).toEqual(['/r/apply', '/r/plan']);
    const markdown = comments[0]?.markdown ?? '';
    expect(markdown).toContain('"app:1.0" -> "app:1.1"');
    expect(markdown).toContain('- `greeting` = `"hello, world"`');
    expect(markdown).not.toContain('known after apply)`');
  });

  it('reads no diff when no comment is written, and writes the comment when a diff is unreadable', async () => {
    let reads = 0;
    const readPlanDiff = async () => {
      reads += 1;
      return Promise.reject(new Error('AccessDenied'));
    };
    const silent = fakePorts({
      artifacts: { readResult: async () => Promise.resolve(RESULT), readPlanDiff },
      commentSink: undefined,
    });
    await notifyStep(
      { run: RUN, phase: 'planned', result: { resultLocation: '/a' } },
      silent.ports,
      NOW,
    );
    expect(reads).toBe(0);
    const { ports, comments } = fakePorts({
      artifacts: { readResult: async () => Promise.resolve(RESULT), readPlanDiff },
    });
    const report = await notifyStep(
      { run: RUN, phase: 'planned', result: { resultLocation: '/a' } },
      ports,
      NOW,
    );
    expect(reads).toBe(1);
    expect(report.failed).toEqual([]);
    expect(comments[0]?.markdown).toContain('Stepform: planned');
  });
});

describe('notifyStep after an apply (after_apply)', () => {
  const afterApply = [
    { dispatch: { repository: 'acme/deploy', event_type: 'infra-applied' } },
    { dispatch: { repository: 'acme/other', event_type: 'infra-applied' } },
  ];
  const run = { ...RUN, repository: 'https://github.com/acme/infra', afterApply };
  const apply = {
    outputs: {
      url: { sensitive: false, value: 'https://x' },
      token: { sensitive: true, value: '(sensitive)' },
    },
  };

  it('dispatches each entry once applied, reports a failure without failing, and keeps the reports', async () => {
    const sent: { repository: string; payload: Record<string, unknown> }[] = [];
    const { ports, details } = fakePorts({
      dispatcher: {
        dispatchRepositoryEvent: async (repository, _type, payload) => {
          if (repository === 'acme/other') throw new Error('HTTP 404');
          sent.push({ repository, payload });
        },
      },
    });
    const report = await notifyStep({ run, phase: 'applied', apply }, ports, NOW);
    expect(sent).toEqual([
      {
        repository: 'acme/deploy',
        payload: expect.objectContaining({
          repository: 'acme/infra',
          projects: ['stack'],
          outputs: { stack: { url: 'https://x' } },
        }),
      },
    ]);
    expect(report.delivered).toContain('dispatch infra-applied to acme/deploy');
    expect(report.failed).toEqual([
      expect.stringMatching(/^dispatch infra-applied to acme\/other: .*HTTP 404/),
    ]);
    expect(details).toContainEqual({
      dispatches: [
        { repository: 'acme/deploy', eventType: 'infra-applied', status: 'sent' },
        expect.objectContaining({ repository: 'acme/other', status: 'failed' }),
      ],
    });
  });

  it('dispatches nothing in any other phase', async () => {
    const sent: string[] = [];
    const { ports } = fakePorts({
      dispatcher: { dispatchRepositoryEvent: async (repository) => void sent.push(repository) },
    });
    for (const phase of ['planned', 'applying', 'rolled_back', 'failed'] as const) {
      await notifyStep({ run, phase }, ports, NOW);
    }
    expect(sent).toEqual([]);
  });
});

describe('notifyStep after a decision (the actor)', () => {
  const decided = (status: 'approved' | 'rejected' | 'expired' | 'pending') => ({
    id: 'appr-1',
    runId: 'run-1',
    taskToken: 't',
    environment: 'dev',
    projectDir: 'stack',
    commit: 'a'.repeat(40),
    planSha256: 'b'.repeat(64),
    requestedAt: '2026-11-23T09:00:00.000Z',
    expiresAt: '2026-11-23T11:00:00.000Z',
    status,
    ...(status === 'approved' || status === 'rejected'
      ? { decidedBy: 'alice', decidedAt: '2026-11-23T09:30:00.000Z', decidedVia: 'cli' as const }
      : {}),
  });
  const ACTOR = { name: 'alice', at: '2026-11-23T09:30:00.000Z', channel: 'cli' };

  it('names who decided, when and where, in the event, the chat and the comment of every later phase', async () => {
    for (const phase of ['approved', 'applying', 'applied'] as const) {
      const { ports, events, chats, comments } = fakePorts({
        approvals: { latestForRun: async () => Promise.resolve(decided('approved')) },
      });
      await notifyStep({ run: RUN, phase }, ports, NOW);
      expect(events[0]?.actor).toEqual(ACTOR);
      const sentence = 'Approved by alice via the CLI at 2026-11-23T09:30:00.000Z';
      expect(chats[0]?.text).toContain(sentence);
      // The environment's comment is written at the run's end (plan-apply runs projects).
      // (Markdown-escaped: the time's punctuation is backslashed.)
      if (phase === 'applied')
        expect(comments[0]?.markdown).toContain(
          'Approved by alice via the CLI at 2026\\-11\\-23T09',
        );
    }
  });

  it('names who rejected it', async () => {
    const { ports, events, chats } = fakePorts({
      approvals: { latestForRun: async () => Promise.resolve(decided('rejected')) },
    });
    await notifyStep(
      {
        run: RUN,
        phase: 'rejected',
        error: { Error: 'ApprovalRejected', Cause: 'rejected by alice' },
      },
      ports,
      NOW,
    );
    expect(events[0]?.actor).toEqual(ACTOR);
    expect(chats[0]?.text).toContain('Rejected by alice via the CLI');
  });

  it('has no actor before a decision, after an expiry, or when the approval cannot be read', async () => {
    const reads: string[] = [];
    const { ports, events } = fakePorts({
      approvals: {
        latestForRun: async (runId) => {
          reads.push(runId);
          return Promise.resolve(decided('approved'));
        },
      },
    });
    for (const phase of ['started', 'planned', 'awaiting_approval'] as const)
      await notifyStep({ run: RUN, phase }, ports, NOW);
    // Nothing is decided before: the approval is not even read.
    expect(reads).toEqual([]);
    expect(events.map((e) => e.actor)).toEqual([undefined, undefined, undefined]);

    const expired = fakePorts({
      approvals: { latestForRun: async () => Promise.resolve(decided('expired')) },
    });
    await notifyStep({ run: RUN, phase: 'expired' }, expired.ports, NOW);
    expect(expired.events[0]).not.toHaveProperty('actor');

    const broken = fakePorts({
      approvals: { latestForRun: async () => Promise.reject(new Error('table unreachable')) },
    });
    const report = await notifyStep({ run: RUN, phase: 'applied' }, broken.ports, NOW);
    expect(broken.events[0]).not.toHaveProperty('actor');
    expect(report.failed).toEqual(['actor: table unreachable']);
  });
});

describe('notifyStep of a drift run', () => {
  const DRIFT_RUN = { ...RUN, workflow: 'drift' as const, pullRequest: 7 };
  const report = (name: string, status: string, cleared = false) => ({
    name,
    dir: `infra/${name}`,
    layer: 0,
    status,
    commit: status === 'skipped' ? null : 'c'.repeat(40),
    cleared,
    hasChanges: status === 'drifted',
    summary: { add: 0, change: status === 'drifted' ? 1 : 0, destroy: 0, replace: 0, import: 0 },
    ...(status === 'skipped'
      ? { note: 'locked by run r-1 until 2026-11-23T11:00:00.000Z' }
      : { resultLocation: `/artifacts/${name}/plan` }),
  });
  const DRIFT = {
    failed: false,
    drifted: true,
    cleared: false,
    summary: { add: 0, change: 1, destroy: 0, replace: 0, import: 0 },
    projects: [report('app', 'drifted'), report('db', 'no_drift'), report('dns', 'skipped')],
  };

  it('tells each project’s status in the event, names the drifted in chat, and opens its issue', async () => {
    // Prepare: a code host with no open issue; its PR comment and statuses must stay unused
    const calls: string[] = [];
    const codeHost: CodeHostPort = {
      upsertPullRequestComment: async () => void calls.push('comment'),
      setCommitStatus: async () => void calls.push('status'),
      recordDeployment: async () => void calls.push('deployment'),
      isOnDefaultBranch: async () => Promise.resolve(true),
      dispatchRepositoryEvent: async () => void calls.push('dispatch'),
      findOpenIssue: async (label, title) => {
        calls.push(`find ${label} ${title}`);
        return Promise.resolve(undefined);
      },
      createIssue: async ({ title, labels }) => {
        calls.push(`create ${title} ${labels.join(',')}`);
        return Promise.resolve({ number: 3, title, state: 'open' as const });
      },
      updateIssue: async () => void calls.push('update'),
      commentOnIssue: async () => void calls.push('issue comment'),
    };
    const { ports, events, chats, details, comments } = fakePorts({ codeHost });

    // Act
    const notified = await notifyStep(
      { run: DRIFT_RUN, phase: 'drifted', drift: DRIFT },
      ports,
      NOW,
    );

    // Assess
    expect(notified).toEqual({
      delivered: ['status', 'chat', 'issue app', 'issue db'],
      failed: [],
    });
    expect(events[0]).toMatchObject({
      workflow: 'drift',
      phase: 'drifted',
      projects: [
        { name: 'app', status: 'drifted', summary: { add: 0, change: 1, destroy: 0 } },
        { name: 'db', status: 'no_drift' },
        { name: 'dns', status: 'skipped' },
      ],
    });
    expect(chats[0]?.text).toContain('drifted: app (+0 ~1 -0)');
    expect(calls).toEqual([
      'find stepform-drift Drift: app in dev',
      'create Drift: app in dev stepform-drift',
      'find stepform-drift Drift: db in dev',
    ]);
    expect(details).toEqual([{ issues: [{ project: 'app', issue: 3, action: 'opened' }] }]);
    expect(comments).toEqual([]);
  });

  it('keeps its issues locally through the issues port, and reports a failed one without failing', async () => {
    const { ports } = fakePorts({
      issues: {
        findOpenIssue: async () => Promise.reject(new Error('disk full')),
        createIssue: async () => Promise.reject(new Error('unused')),
        updateIssue: async () => Promise.reject(new Error('unused')),
        commentOnIssue: async () => Promise.reject(new Error('unused')),
      },
    });
    const notified = await notifyStep(
      { run: DRIFT_RUN, phase: 'drifted', drift: DRIFT },
      ports,
      NOW,
    );
    expect(notified.failed).toEqual(['issue app: disk full', 'issue db: disk full']);
  });
});

describe('notifyStep with policy checks', () => {
  const guardrails: PolicyResult = {
    policy: 'guardrails',
    project: 'network',
    onFailure: 'block',
    passed: false,
    violations: [
      {
        policy: 'guardrails',
        rule: 'deny',
        message: 'no <script>alert(1)</script> in prod',
        resource: 'terraform_data.greeting',
      },
    ],
  };
  const planned = (name: string, policy: Record<string, unknown>) => ({
    name,
    dir: `infra/${name}`,
    layer: 0,
    status: 'planned',
    hasChanges: true,
    summary: { add: 1, change: 0, destroy: 0, replace: 0, import: 0 },
    resultLocation: `/a/project-${name}/plan`,
    outputs: {},
    policy,
  });
  const run = {
    ...RUN,
    workflow: 'plan-apply' as const,
    projectDir: 'infra',
    projects: [
      { name: 'network', dir: 'infra/network', layer: 0, varFiles: [] },
      { name: 'app', dir: 'infra/app', layer: 0, varFiles: [] },
    ],
  };
  const projects = {
    failed: false,
    hasChanges: true,
    summary: { add: 2, change: 0, destroy: 0, replace: 0, import: 0 },
    projects: [
      planned('network', { outcome: 'blocked', blockedBy: ['guardrails'], deny: 1, warn: 0 }),
      planned('app', { outcome: 'warned', blockedBy: [], deny: 0, warn: 3 }),
    ],
  };
  // network's result.json has the sets; app's cannot be read (its counts stand in).
  const artifacts: NotifyPortsLike['artifacts'] = {
    readResult: async (location) =>
      location.includes('network')
        ? jobResult({ summary: planSummary({ add: 1 }), policy: [guardrails] })
        : Promise.reject(new Error('AccessDenied')),
    readPlanDiff: async () => Promise.resolve(undefined),
  };

  it('shows each set’s verdict and violations in the comment and the blocking sets in Slack when a policy stops the run', async () => {
    const told: NotifyDetail[] = [];
    const { ports, comments, chats } = fakePorts({
      artifacts,
      chatMessage: (r, phase, detail) => (
        told.push(detail),
        slackMessage({ run: r, phase, ...detail })
      ),
    });
    const report = await notifyStep(
      {
        run,
        phase: 'policy_failed',
        projects,
        error: { Error: 'PolicyBlocked', Cause: 'policy checks failed, nothing was applied' },
      },
      ports,
      NOW,
    );
    expect(report.failed).toEqual([]);
    const markdown = comments[0]?.markdown ?? '';
    expect(markdown).toContain(
      [
        '##### Policy checks',
        '',
        '- ⛔ `guardrails`: failed \\(blocks the run\\)',
        '  - **deny** `terraform_data.greeting`: no \\<script\\>alert\\(1\\)\\<\\/script\\> in prod',
      ].join('\n'),
    );
    expect(markdown).toContain(
      '- ⚠️ warned · 0 deny, 3 warn \\(the sets’ details could not be read\\)',
    );
    expect(markdown).not.toContain('<script>');
    expect(told[0]?.projects?.map((p) => p.policy?.kind)).toEqual(['sets', 'counts']);
    const slack = JSON.stringify(chats[0]?.blocks);
    expect(slack).toContain(
      '*Blocked by policy*: nothing was applied\\n• `guardrails` blocks *network*',
    );
    expect(slack).toContain(':no_entry: *Policy* `guardrails` failed, blocking (1 deny, 0 warn)');
    expect(slack).toContain(':warning: *Policy* 0 deny · 3 warn');
    // Slack gets the sets and counts, never a violation's message.
    expect(slack).not.toContain('alert(1)');
  });

  it('shows no policy checks once the plans are applied', async () => {
    const { ports, comments } = fakePorts({ artifacts });
    await notifyStep({ run, phase: 'applied', projects }, ports, NOW);
    expect(comments[0]?.markdown).not.toContain('Policy checks');
  });
});
