import { describe, expect, it } from '@jest/globals';
import {
  DRIFT_LABEL,
  type DriftIssueHost,
  collectDrift,
  driftIssueTitle,
  prepareDrift,
  recordDrift,
  reportDriftIssue,
} from './drift.ts';
import type { LockRecord } from './locks.ts';
import type { CodeHostIssue, DriftState, LastGoodCommit } from './ports.ts';
import { prepareRun } from './run.ts';

const HEAD = 'a'.repeat(40);
const APPLIED = 'b'.repeat(40);
const NOW = new Date('2030-01-01T12:00:00.000Z');
const SETTINGS = {
  backend: { type: 'local', stateDir: '/state' },
  artifactsRoot: '/artifacts',
} as const;

const RUN = {
  runId: 'run-drift',
  workflow: 'drift',
  repository: '/repo',
  commit: HEAD,
  projectDir: 'infra',
  environment: 'dev',
  projects: [
    { name: 'network', dir: 'infra/network', layer: 0, varFiles: [] },
    { name: 'app', dir: 'infra/app', layer: 0, varFiles: [] },
    { name: 'dns', dir: 'infra/dns', layer: 0, varFiles: [] },
  ],
};

function lock(project: string, owner: string, expiresAt: string): LockRecord {
  return { environment: 'dev', project, owner, acquiredAt: NOW.toISOString(), expiresAt };
}

describe('prepareDrift', () => {
  const lastGood: Record<string, LastGoodCommit> = {
    'infra/network': { commit: APPLIED, runId: 'run-1', at: NOW.toISOString() },
    'infra/app': { commit: APPLIED, runId: 'run-1', at: NOW.toISOString() },
  };
  const records = {
    getLastGood: async (_env: string, dir: string) => Promise.resolve(lastGood[dir]),
  };

  it('plans each applied project at its last applied commit, skips one never applied', async () => {
    // Act
    const prepared = await prepareDrift(
      prepareRun(RUN, SETTINGS),
      { records, locks: { environmentLocks: async () => Promise.resolve([]) } },
      NOW,
    );

    // Assess
    expect(prepared.projects.map((p) => [p.name, p.drift, p.jobs.plan.commit])).toEqual([
      ['network', { check: 'plan', commit: APPLIED }, APPLIED],
      ['app', { check: 'plan', commit: APPLIED }, APPLIED],
      [
        'dns',
        { check: 'skip', commit: null, skipped: 'never_applied', note: 'never applied in dev' },
        HEAD,
      ],
    ]);
    expect(prepared.projects.every((p) => p.jobs.plan.verb === 'plan')).toBe(true);
  });

  it('skips a project whose lock a live run holds, naming it; an expired or its own lock is no reason', async () => {
    const locks = [
      lock('network', 'run-apply', '2030-01-01T12:30:00.000Z'),
      lock('app', 'run-old', '2030-01-01T11:59:59.000Z'),
      lock('dns', 'run-drift', '2030-01-01T12:30:00.000Z'),
    ];
    const prepared = await prepareDrift(
      prepareRun(RUN, SETTINGS),
      { records, locks: { environmentLocks: async () => Promise.resolve(locks) } },
      NOW,
    );
    expect(prepared.projects.map((p) => [p.name, p.drift?.check, p.drift?.note])).toEqual([
      ['network', 'skip', 'locked by run run-apply until 2030-01-01T12:30:00.000Z'],
      ['app', 'plan', undefined],
      ['dns', 'skip', 'never applied in dev'],
    ]);
  });
});

const PLANNED = (name: string, hasChanges: boolean) => ({
  name,
  dir: `infra/${name}`,
  layer: 0,
  drift: { check: 'plan', commit: APPLIED },
  status: 'planned',
  result: {
    hasChanges,
    summary: { add: 0, change: hasChanges ? 2 : 0, destroy: 0, replace: 0, import: 0 },
    resultLocation: `/artifacts/run-drift/project-${name}/plan`,
  },
});

describe('collectDrift', () => {
  const previous: Record<string, DriftState> = {
    'infra/app': { drifted: true, commit: APPLIED, runId: 'run-0', at: NOW.toISOString() },
  };
  const records = {
    getDrift: async (_env: string, dir: string) => Promise.resolve(previous[dir]),
  };

  it('reads a plan with changes as drift, and one without as no drift (cleared after drift)', async () => {
    const collected = await collectDrift(
      {
        run: RUN,
        drift: [
          PLANNED('network', true),
          PLANNED('app', false),
          {
            name: 'dns',
            dir: 'infra/dns',
            layer: 0,
            drift: { check: 'skip', commit: null, skipped: 'locked', note: 'locked by run r' },
            status: 'skipped',
          },
        ],
      },
      records,
    );
    expect(collected).toMatchObject({ failed: false, drifted: true, cleared: false });
    expect(collected.summary).toMatchObject({ add: 0, change: 2, destroy: 0 });
    expect(collected.projects.map((p) => [p.name, p.status, p.cleared, p.commit, p.note])).toEqual([
      ['network', 'drifted', false, APPLIED, undefined],
      ['app', 'no_drift', true, APPLIED, undefined],
      ['dns', 'skipped', false, null, 'locked by run r'],
    ]);
  });

  it('says drift cleared only when nothing drifted, and a failed check fails it with its error', async () => {
    const cleared = await collectDrift({ run: RUN, drift: [PLANNED('app', false)] }, records);
    expect(cleared).toMatchObject({ failed: false, drifted: false, cleared: true });

    const failed = await collectDrift(
      {
        run: RUN,
        drift: [
          PLANNED('app', false),
          {
            name: 'network',
            dir: 'infra/network',
            layer: 0,
            drift: { check: 'plan', commit: APPLIED },
            status: 'failed',
            error: { Error: 'JobFailed', Cause: 'plan failed' },
          },
        ],
      },
      records,
    );
    expect(failed).toMatchObject({
      failed: true,
      error: { Error: 'JobFailed', Cause: 'network: plan failed' },
    });
  });

  it('refuses an iteration it cannot read, naming the field', async () => {
    await expect(
      collectDrift({ run: RUN, drift: [{ ...PLANNED('app', false), status: 'odd' }] }, records),
    ).rejects.toMatchObject({ name: 'InvalidInput', field: 'collect.drift.0.status' });
  });
});

describe('recordDrift', () => {
  it('keeps the state of each checked project, and nothing for a skipped or failed one', async () => {
    const kept: [string, DriftState][] = [];
    const report = (name: string, status: string) => ({
      name,
      dir: `infra/${name}`,
      layer: 0,
      status,
      commit: status === 'skipped' ? null : APPLIED,
      cleared: false,
      hasChanges: status === 'drifted',
      summary: { add: 0, change: 0, destroy: 0, replace: 0, import: 0 },
    });
    await recordDrift(
      { environment: 'dev', runId: 'run-drift' },
      [
        report('network', 'drifted'),
        report('app', 'no_drift'),
        report('dns', 'skipped'),
        report('db', 'failed'),
      ] as Parameters<typeof recordDrift>[1],
      { setDrift: async (_env, dir, state) => void kept.push([dir, state]) },
      NOW.toISOString(),
    );
    const state = (drifted: boolean) => ({
      drifted,
      commit: APPLIED,
      runId: 'run-drift',
      at: NOW.toISOString(),
    });
    expect(kept).toEqual([
      ['infra/network', state(true)],
      ['infra/app', state(false)],
    ]);
  });
});

/** A code host's issues, in memory. */
function memoryIssues() {
  const issues: (CodeHostIssue & { labels: string[]; body: string; comments: string[] })[] = [];
  const host: DriftIssueHost = {
    findOpenIssue: async (label, title) =>
      Promise.resolve(
        issues.find((i) => i.state === 'open' && i.title === title && i.labels.includes(label)),
      ),
    createIssue: async ({ title, body, labels }) => {
      const issue = { number: issues.length + 1, title, state: 'open' as const };
      issues.push({ ...issue, labels, body, comments: [] });
      return Promise.resolve(issue);
    },
    updateIssue: async (number, change) => {
      const issue = issues.find((i) => i.number === number);
      if (issue) Object.assign(issue, change);
      return Promise.resolve();
    },
    commentOnIssue: async (number, body) => {
      issues.find((i) => i.number === number)?.comments.push(body);
      return Promise.resolve();
    },
  };
  return { host, issues };
}

describe('reportDriftIssue', () => {
  const run = { environment: 'dev', runId: 'run-drift' };
  const project = (status: 'drifted' | 'no_drift' | 'skipped') => ({
    name: 'app',
    dir: 'infra/app',
    layer: 0,
    status,
    commit: APPLIED,
    cleared: false,
    hasChanges: status === 'drifted',
    summary: { add: 0, change: 1, destroy: 0, replace: 0, import: 0 },
    resultLocation: '/artifacts/run-drift/plan',
  });

  it('opens one issue on drift, updates it while drift lasts, and closes it with a comment', async () => {
    const { host, issues } = memoryIssues();

    const opened = await reportDriftIssue(host, run, project('drifted'), {});
    const updated = await reportDriftIssue(
      host,
      { ...run, runId: 'run-2' },
      project('drifted'),
      {},
    );
    const closed = await reportDriftIssue(host, run, project('no_drift'), {});
    const quiet = await reportDriftIssue(host, run, project('no_drift'), {});

    expect([opened, updated, closed, quiet]).toEqual([
      { project: 'app', issue: 1, action: 'opened' },
      { project: 'app', issue: 1, action: 'updated' },
      { project: 'app', issue: 1, action: 'closed' },
      undefined,
    ]);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({
      title: driftIssueTitle('app', 'dev'),
      labels: [DRIFT_LABEL],
      state: 'closed',
      comments: [expect.stringContaining('No drift any more: run `run-drift`')],
    });
    // The PR comment's rendering of the latest check: its run, its project and its status.
    expect(issues[0]?.body).toContain('run-2');
    expect(issues[0]?.body).toContain('drifted');
    expect(driftIssueTitle('app', 'dev')).toBe('Drift: app in dev');
  });

  it('leaves the issues alone for a skipped project', async () => {
    const { host, issues } = memoryIssues();
    await expect(reportDriftIssue(host, run, project('skipped'), {})).resolves.toBeUndefined();
    expect(issues).toEqual([]);
  });
});
