import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import type { ApprovalRecord } from '../../core/approval.ts';
import { InvalidInput } from '../../core/errors.ts';
import type { PlanDiff } from '../../core/plan-diff.ts';
import { type AslDefinition, aslPath } from '../../state-machines/workflows.ts';
import { caught } from '../../test/support/caught.ts';
import type { RunRow } from '../engine/store/sqlite-runs.ts';
import {
  filterRuns,
  parseRunsFilter,
  renderEnvironmentsPage,
  renderMessagePage,
  renderRunPage,
  renderRunsPage,
} from './pages.ts';

const NOW = new Date('2030-01-01T12:00:00.000Z');
const EVIL = '<script>alert(1)</script>';

function runRow(overrides: Partial<RunRow> = {}): RunRow {
  return {
    runId: '20300101T115900Z-abc123',
    workflow: 'plan-apply',
    environment: 'dev',
    projectDir: 'stack',
    repository: '/repo',
    commit: 'c0ffee'.padEnd(40, '0'),
    status: 'running',
    phase: 'awaiting_approval',
    startedAt: '2030-01-01T11:59:00.000Z',
    finishedAt: null,
    error: null,
    details: {},
    ...overrides,
  };
}

const RUNS = [
  runRow(),
  runRow({ runId: 'r-2', environment: 'prod', status: 'succeeded', phase: 'applied' }),
  runRow({ runId: 'r-3', projectDir: 'network', status: 'failed', phase: 'failed' }),
];

describe('parseRunsFilter and filterRuns', () => {
  it('takes each filter, and reads an empty one (the form’s “any”) as none', () => {
    expect(parseRunsFilter({ environment: 'dev', project: '', status: 'failed' })).toEqual({
      environment: 'dev',
      status: 'failed',
    });
    expect(filterRuns(RUNS, { environment: 'dev' }).map((r) => r.runId)).toEqual([
      '20300101T115900Z-abc123',
      'r-3',
    ]);
    expect(filterRuns(RUNS, { project: 'network', status: 'failed' }).map((r) => r.runId)).toEqual([
      'r-3',
    ]);
    expect(filterRuns(RUNS, {})).toHaveLength(3);
  });

  it('refuses a bad value or an unknown field, naming it', () => {
    const status = caught(() => parseRunsFilter({ status: 'exploded' }));
    expect(status).toBeInstanceOf(InvalidInput);
    expect((status as Error).message).toMatch(/^query\.status: /);
    const control = caught(() => parseRunsFilter({ project: 'a\u0000b' }));
    expect((control as Error).message).toMatch(/^query\.project: must hold no control characters/);
    const unknown = caught(() => parseRunsFilter({ colour: 'red' }));
    expect(unknown).toBeInstanceOf(InvalidInput);
    expect((unknown as Error).message).toBe(
      'query.colour: is not a filter (environment, project, status)',
    );
  });
});

describe('renderRunsPage', () => {
  it('lists each run linked to its page, every value escaped, the filters labelled', () => {
    const html = renderRunsPage({
      runs: [runRow({ projectDir: EVIL })],
      filter: { status: 'running' },
      environments: ['dev', 'prod'],
      projects: [EVIL],
      now: NOW,
    });
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).toContain('<a href="/runs/20300101T115900Z-abc123">20300101T115900Z-abc123</a>');
    expect(html).not.toContain(EVIL);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    for (const name of ['environment', 'project', 'status']) {
      expect(html).toContain(`<label for="f-${name}">`);
      expect(html).toContain(`<select id="f-${name}" name="${name}">`);
    }
    expect(html).toContain('<option value="running" selected>running</option>');
    expect(html).toContain('Clear filters');
    expect(html).toContain('<body data-events="/events">');
    expect(html).toContain('<div class="table-wrap"');
    // Styles and script are served files: nothing inline for the CSP to allow.
    expect(html).not.toMatch(/<style|style=|<script>/);
  });

  it('says when nothing matches', () => {
    const html = renderRunsPage({
      runs: [],
      filter: { environment: 'qa' },
      environments: [],
      projects: [],
      now: NOW,
    });
    expect(html).toContain('No run matches these filters.');
    // A filter for a value no run holds is still shown as chosen.
    expect(html).toContain('<option value="qa" selected>qa</option>');
  });
});

const PLAN_APPLY = JSON.parse(readFileSync(aslPath('plan-apply'), 'utf8')) as AslDefinition;

const APPROVAL: ApprovalRecord = {
  id: 'approval-1',
  runId: '20300101T115900Z-abc123',
  environment: 'dev',
  projectDir: 'stack',
  commit: 'c0ffee'.padEnd(40, '0'),
  planSha256: 'f'.repeat(64),
  requestedAt: '2030-01-01T11:59:30.000Z',
  expiresAt: '2030-01-01T12:59:30.000Z',
  status: 'pending',
};

const DIFF: PlanDiff = {
  resources: [
    {
      address: 'terraform_data.greeting',
      declaration: 'resource "terraform_data" "greeting"',
      action: 'update',
      createBeforeDestroy: false,
      replacePaths: [],
      importing: false,
      attributes: {
        kind: 'object',
        entries: [
          {
            key: 'input',
            change: 'update',
            forcesReplacement: false,
            before: { kind: 'value', json: '"hello"' },
            after: { kind: 'value', json: JSON.stringify(EVIL) },
          },
        ],
        unchanged: 0,
      },
    },
  ],
  outputs: [],
};

describe('renderRunPage', () => {
  const page = (overrides: Partial<Parameters<typeof renderRunPage>[0]> = {}) =>
    renderRunPage({
      run: runRow(),
      definition: PLAN_APPLY,
      events: [
        {
          at: NOW.toISOString(),
          type: 'entered',
          state: 'PrepareRun',
          durationMs: null,
          detail: null,
        },
        {
          at: NOW.toISOString(),
          type: 'exited',
          state: 'PrepareRun',
          durationMs: 12,
          detail: null,
        },
        {
          at: NOW.toISOString(),
          type: 'entered',
          state: 'RequestApproval',
          durationMs: null,
          detail: null,
        },
      ],
      approval: APPROVAL,
      approvalLinks: [
        { approver: 'alice', approve: '/approvals/approval-1?a=1&b=2', reject: '/approvals/r' },
        { approver: 'bob', approve: '/approvals/b', reject: '/approvals/br' },
      ],
      plans: [{ project: 'stack', diff: DIFF }],
      logs: [{ name: 'plan', text: `terraform plan\n${EVIL}` }],
      now: NOW,
      ...overrides,
    });

  it('shows the graph, the states, the plan, the logs and one pair of links per approver', () => {
    const html = page();
    expect(html).toContain('<body data-events="/runs/20300101T115900Z-abc123/events">');
    expect(html).toContain('data-state="RequestApproval" data-outcome="running"');
    expect(html).toContain('<th scope="row">PrepareRun</th><td>✓ succeeded</td><td>12 ms</td>');
    expect(html).toContain('<h2 id="approval-title">Waiting for approval</h2>');
    expect(html).toContain('href="/approvals/approval-1?a=1&amp;b=2">Approve as alice</a>');
    expect(html).toContain('>Reject as bob</a>');
    expect(html).toContain('terraform_data.greeting');
    expect(html).toContain('<pre data-log="plan" tabindex="0" aria-label="Log of plan">');
    expect(html).not.toContain(EVIL);
    expect(html.match(/&lt;script&gt;/g)?.length).toBeGreaterThanOrEqual(2);
  });

  it('shows a decided approval instead of links, and a run without a known workflow', () => {
    const html = page({
      run: runRow({ workflow: 'mystery', status: 'succeeded', phase: 'applied' }),
      definition: undefined,
      approval: {
        ...APPROVAL,
        status: 'approved',
        decidedBy: 'alice',
        decidedAt: NOW.toISOString(),
      },
      approvalLinks: [],
      plans: [],
      logs: [],
    });
    expect(html).toContain('Approval approved by alice at 2030-01-01T12:00:00.000Z.');
    expect(html).not.toContain('Approve as');
    expect(html).toContain('No workflow file for mystery.');
    expect(html).toContain('No plan diff (yet)');
    expect(html).toContain('<p class="empty" data-no-logs>No job has written a log yet.</p>');
  });
});

describe('a read-only console (serve --stack)', () => {
  const readOnly = {
    label: 'the stack Stepform',
    decideCommands: (runId: string) => ({
      approve: `npx stepform approve ${runId} --stack out.json`,
      reject: `npx stepform reject ${runId} --stack ${EVIL}`,
    }),
  };

  it('says on every page what it shows, and how to decide a waiting run from a terminal', () => {
    const run = runRow();
    const html = renderRunPage({
      run,
      events: [],
      approval: APPROVAL,
      approvalLinks: [],
      plans: [],
      logs: [],
      now: NOW,
      readOnly,
    });
    expect(html).toContain(
      '<p class="read-only" role="note">Read-only view of the stack Stepform: nothing is decided or changed from these pages.</p>',
    );
    expect(html).toContain('<h2 id="approval-title">Waiting for approval</h2>');
    expect(html).toContain(`npx stepform approve ${run.runId} --stack out.json\n`);
    expect(html).not.toContain(EVIL);
    expect(html).not.toMatch(/<form|class="button/);
    expect(html).toContain('a job’s log reaches the artifacts bucket when the job ends');

    const ended = renderRunPage({
      run: runRow({ status: 'failed', phase: 'failed' }),
      events: [],
      approval: APPROVAL,
      approvalLinks: [],
      plans: [],
      logs: [],
      now: NOW,
      readOnly,
    });
    expect(ended).toContain('this run no longer waits for it');
    expect(ended).not.toContain('npx stepform approve');

    for (const other of [
      renderRunsPage({ runs: [], filter: {}, environments: [], projects: [], now: NOW, readOnly }),
      renderEnvironmentsPage(
        { locks: [], schedules: [], lastGood: [], environments: [] },
        readOnly,
      ),
      renderMessagePage('Not found', 'no run x', readOnly),
    ])
      expect(other).toContain('Read-only view of the stack Stepform');
    expect(renderMessagePage('Not found', 'no run x')).not.toContain('Read-only');
  });
});

describe('renderEnvironmentsPage', () => {
  it('lists locks with their holder, TTL schedules with their destroy time, last good commits', () => {
    const html = renderEnvironmentsPage({
      locks: [
        {
          environment: 'dev',
          project: EVIL,
          owner: 'r-1',
          acquiredAt: '2030-01-01T11:00:00.000Z',
          expiresAt: '2030-01-01T13:00:00.000Z',
        },
      ],
      schedules: [
        {
          environment: 'pr-7',
          projectDir: 'stack',
          repository: '/repo',
          commit: 'a'.repeat(40),
          fireAt: '2030-01-01T14:00:00.000Z',
          createdBy: 'r-2',
          status: 'pending',
        },
      ],
      lastGood: [
        {
          environment: 'dev',
          projectDir: 'stack',
          commit: 'b'.repeat(40),
          runId: 'r-3',
          at: '2030-01-01T10:00:00.000Z',
        },
      ],
      environments: [],
    });
    expect(html).toContain('<td><a href="/runs/r-1">r-1</a></td>');
    expect(html).toContain('<td>2030-01-01T14:00:00.000Z</td>');
    expect(html).toContain('<td><a href="/runs/r-3">r-3</a></td>');
    expect(html).toContain('No environment recorded yet.');
    expect(html).toContain('aria-current="page">Environments</a>');
    expect(html).not.toContain(EVIL);
  });
});
