import { describe, expect, it } from '@jest/globals';
import { caught } from '../../test/support/caught.ts';
import { InvalidInput } from '../errors.ts';
import {
  PHASES,
  type Phase,
  STATUS_EVENT,
  STATUS_MESSAGE_LIMIT,
  type StatusEventFields,
  deduplicationId,
  messageGroupId,
  statusEvent,
} from './status-event.ts';
import { MAX_RUN_PROJECTS, WORKFLOWS } from './workflow-input.ts';

const NOW = new Date('2030-01-01T12:00:00.000Z');
const COUNTS = { add: 2, change: 0, destroy: 1 };
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const FIELDS: StatusEventFields = {
  runId: 'run-1',
  workflow: 'plan-apply',
  environment: 'dev',
  projects: [{ name: 'terraform/examples/hello', dir: 'terraform/examples/hello' }],
  commit: COMMIT,
  phase: 'awaiting_approval',
};
/** SQS's limit on a message. */
const SQS_MESSAGE_BYTES = 256 * 1024;

describe('PHASES and WORKFLOWS', () => {
  it('are exactly the lists of the design', () => {
    expect(PHASES).toEqual([
      'started',
      'planned',
      'no_changes',
      'policy_failed',
      // Beyond the design's list: an owner's override of a blocking policy (issue 16).
      'awaiting_policy_override',
      'policy_overridden',
      'awaiting_approval',
      'approved',
      'rejected',
      'expired',
      'applying',
      'applied',
      'failed',
      'rolling_back',
      'rolled_back',
      'rollback_failed',
      'destroying',
      'destroyed',
      'ttl_changed',
      'command_completed',
      'cancelled',
      'drifted',
      'drift_cleared',
    ]);
    expect(WORKFLOWS).toEqual([
      'plan',
      'plan-apply',
      'ephemeral',
      'destroy',
      'ttl',
      'command',
      'drift',
    ]);
  });
});

describe('statusEvent', () => {
  it('builds the event of the design (version 2)', () => {
    // Act
    const event = statusEvent(
      {
        runId: 'run-1',
        workflow: 'plan-apply',
        environment: 'dev',
        projects: [{ name: 'app', dir: 'infra/app', summary: { add: 2, change: 0, destroy: 1 } }],
        commit: COMMIT,
        phase: 'awaiting_approval',
        url: 'https://example.com/runs/1',
      },
      NOW,
    );

    // Assess
    expect(event).toEqual({
      schemaVersion: 2,
      runId: 'run-1',
      workflow: 'plan-apply',
      environment: 'dev',
      projects: [{ name: 'app', dir: 'infra/app', summary: { add: 2, change: 0, destroy: 1 } }],
      commit: COMMIT,
      phase: 'awaiting_approval',
      url: 'https://example.com/runs/1',
      at: '2030-01-01T12:00:00.000Z',
    });
    expect(STATUS_EVENT.parse(JSON.parse(JSON.stringify(event)))).toEqual(event);
  });

  it('carries each project of a run with its status and counts', () => {
    // Act
    const event = statusEvent(
      {
        ...FIELDS,
        phase: 'rolled_back',
        projects: [
          { name: 'network', dir: 'infra/network', status: 'applied', summary: COUNTS },
          { name: 'app', dir: 'infra/app', status: 'rolled_back', summary: COUNTS },
          { name: 'dns', dir: 'infra/dns', status: 'not_started' },
        ],
      },
      NOW,
    );

    // Assess
    expect(event.projects).toEqual([
      { name: 'network', dir: 'infra/network', summary: COUNTS, status: 'applied' },
      { name: 'app', dir: 'infra/app', summary: COUNTS, status: 'rolled_back' },
      { name: 'dns', dir: 'infra/dns', status: 'not_started' },
    ]);
  });

  it('leaves out what is not given, and has no field of version 1', () => {
    // Act
    const event = statusEvent(FIELDS, NOW);

    // Assess
    expect(Object.keys(event)).toEqual([
      'schemaVersion',
      'runId',
      'workflow',
      'environment',
      'projects',
      'commit',
      'phase',
      'at',
    ]);
    expect(event.projects).toEqual([
      { name: 'terraform/examples/hello', dir: 'terraform/examples/hello' },
    ]);
  });

  it('keeps only the counts of a full plan summary', () => {
    // Prepare
    const summary = { add: 1, change: 2, destroy: 3, replace: 0, resources: [], outputs: [] };

    // Act
    const event = statusEvent({ ...FIELDS, projects: [{ name: 'a', dir: 'a', summary }] }, NOW);

    // Assess
    expect(event.projects[0]?.summary).toEqual({ add: 1, change: 2, destroy: 3 });
  });

  it('cuts a long message', () => {
    // Act
    const event = statusEvent({ ...FIELDS, message: 'x'.repeat(10_000) }, NOW);

    // Assess
    expect(event.message).toHaveLength(STATUS_MESSAGE_LIMIT);
    expect(event.message?.endsWith('x…')).toBe(true);
  });

  it(`stays well under SQS's 256 KiB with ${MAX_RUN_PROJECTS} projects at their longest`, () => {
    // Prepare: every name and folder as long as allowed, counts as large as JSON writes them.
    const huge = Number.MAX_SAFE_INTEGER;
    const projects = Array.from({ length: MAX_RUN_PROJECTS }, (_, i) => ({
      name: `${i}`.padEnd(1024, 'n'),
      dir: `${i}/`.padEnd(1024, 'd'),
      status: 'rollback_failed',
      summary: { add: huge, change: huge, destroy: huge },
    }));

    // Act
    const event = statusEvent(
      {
        ...FIELDS,
        runId: 'r'.repeat(80),
        projects,
        url: `https://example.com/${'u'.repeat(2000)}`,
        message: '💥'.repeat(10_000),
      },
      NOW,
    );

    // Assess
    const bytes = Buffer.byteLength(JSON.stringify(event), 'utf8');
    expect(event.projects).toHaveLength(MAX_RUN_PROJECTS);
    expect(bytes).toBeLessThan(SQS_MESSAGE_BYTES / 2);
  });

  it("requires at least one project, and at most one run's", () => {
    // Act
    const none = caught(() => statusEvent({ ...FIELDS, projects: [] }, NOW));
    const tooMany = caught(() =>
      statusEvent(
        {
          ...FIELDS,
          projects: Array.from({ length: MAX_RUN_PROJECTS + 1 }, (_, i) => ({
            name: `p${i}`,
            dir: `p${i}`,
          })),
        },
        NOW,
      ),
    );

    // Assess
    expect((none as InvalidInput).field).toBe('event.projects');
    expect((tooMany as InvalidInput).field).toBe('event.projects');
    expect(
      STATUS_EVENT.safeParse({ ...statusEvent(FIELDS, NOW), projects: undefined }).success,
    ).toBe(false);
  });

  it.each([
    [{ commit: 'abc' }, 'event.commit'],
    [{ commit: COMMIT.toUpperCase() }, 'event.commit'],
    [{ phase: 'exploded' }, 'event.phase'],
    [{ workflow: 'apply' }, 'event.workflow'],
    [{ environment: 'dev;rm -rf /' }, 'event.environment'],
    [{ projects: [{ name: 'a', dir: '../etc' }] }, 'event.projects.0.dir'],
    [
      {
        projects: [
          { name: 'a', dir: 'a' },
          { name: 'b', dir: '/etc' },
        ],
      },
      'event.projects.1.dir',
    ],
    [{ projects: [{ name: '', dir: 'a' }] }, 'event.projects.0.name'],
    [{ projects: [{ name: 'a', dir: 'a', status: '' }] }, 'event.projects.0.status'],
    [
      { projects: [{ name: 'a', dir: 'a', summary: { add: -1, change: 0, destroy: 0 } }] },
      'event.projects.0.summary.add',
    ],
    [
      { projects: [{ name: 'a', dir: 'a', summary: { add: 1.5, change: 0, destroy: 0 } }] },
      'event.projects.0.summary.add',
    ],
    [{ runId: '' }, 'event.runId'],
    [{ url: 'javascript:alert(1)' }, 'event.url'],
  ])('names a bad field (%#)', (change, field) => {
    // Prepare
    const fields = { ...FIELDS, ...change } as StatusEventFields;

    // Act
    const error = caught(() => statusEvent(fields, NOW));

    // Assess
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as InvalidInput).field).toBe(field);
  });

  it('refuses an invalid date', () => {
    expect((caught(() => statusEvent(FIELDS, new Date(Number.NaN))) as InvalidInput).field).toBe(
      'event.at',
    );
  });

  it('rejects unknown fields when parsing an event, and version 1 events', () => {
    // Prepare
    const event = statusEvent(FIELDS, NOW);
    const version1 = {
      schemaVersion: 1,
      runId: 'run-1',
      workflow: 'plan-apply',
      environment: 'dev',
      project: 'infra/app',
      commit: COMMIT,
      phase: 'planned',
      summary: COUNTS,
      at: NOW.toISOString(),
    };

    // Assess
    expect(STATUS_EVENT.safeParse({ ...event, token: 'secret' }).success).toBe(false);
    expect(STATUS_EVENT.safeParse({ ...event, summary: COUNTS }).success).toBe(false);
    expect(STATUS_EVENT.safeParse({ ...event, project: 'infra/app' }).success).toBe(false);
    expect(STATUS_EVENT.safeParse(version1).success).toBe(false);
  });
});

describe('deduplicationId', () => {
  const of = (runId: string, phase: Phase, ...names: string[]) =>
    deduplicationId({ runId, phase, projects: names.map((name) => ({ name })) });

  it('is the run, the phase and the projects', () => {
    expect(of('run-1', 'applied', 'app')).toBe('run-1:applied:app');
    expect(of('run-1', 'applied', 'network', 'app')).toBe('run-1:applied:network,app');
  });

  it('tells apart two projects of one run at the same phase (each rolling back)', () => {
    expect(of('run-1', 'rolling_back', 'network')).not.toBe(of('run-1', 'rolling_back', 'app'));
  });

  it('is the same for the same event, as built again by a retried step', () => {
    // Prepare
    const fields: StatusEventFields = {
      ...FIELDS,
      projects: [{ name: 'app', dir: 'infra/app', summary: COUNTS }],
    };

    // Act
    const first = deduplicationId(statusEvent(fields, NOW));
    const retried = deduplicationId(statusEvent(fields, new Date(NOW.getTime() + 60_000)));

    // Assess
    expect(retried).toBe(first);
  });

  it('stays within 128 allowed characters for a long or odd run id, and stays distinct', () => {
    // Act
    const long = of('r'.repeat(200), 'applied', 'app');
    const longOther = of(`${'r'.repeat(199)}s`, 'applied', 'app');
    const many = of(
      'run-1',
      'applied',
      ...Array.from({ length: MAX_RUN_PROJECTS }, (_, i) => `project-${i}`),
    );
    const odd = of('run é 1', 'failed', 'app');

    // Assess
    for (const id of [long, longOther, many, odd]) {
      expect(id.length).toBeLessThanOrEqual(128);
      expect(id).toMatch(/^[\x21-\x7e]+$/);
    }
    expect(long).not.toBe(longOther);
    expect(odd).toMatch(/^run___1:failed:app~[0-9a-f]{64}$/);
    expect(of('r'.repeat(200), 'applied', 'app')).toBe(long);
  });
});

describe('messageGroupId', () => {
  it('is the environment', () => {
    expect(messageGroupId('dev')).toBe('dev');
  });

  it('stays within the allowed characters', () => {
    expect(messageGroupId('a b')).toMatch(/^a_b~[0-9a-f]{64}$/);
  });
});
