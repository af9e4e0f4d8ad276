import { describe, expect, it } from '@jest/globals';
import { caught } from '../../test/support/caught.ts';
import { InvalidInput } from '../errors.ts';
import {
  PHASES,
  STATUS_EVENT,
  STATUS_MESSAGE_LIMIT,
  type StatusEventFields,
  deduplicationId,
  messageGroupId,
  statusEvent,
} from './status-event.ts';
import { WORKFLOWS } from './workflow-input.ts';

const NOW = new Date('2030-01-01T12:00:00.000Z');
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const FIELDS: StatusEventFields = {
  runId: 'run-1',
  workflow: 'plan-apply',
  environment: 'dev',
  project: 'terraform/examples/hello',
  commit: COMMIT,
  phase: 'awaiting_approval',
};

describe('PHASES and WORKFLOWS', () => {
  it('are exactly the lists of the design', () => {
    expect(PHASES).toEqual([
      'started',
      'planned',
      'no_changes',
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
    ]);
    expect(WORKFLOWS).toEqual(['plan', 'plan-apply', 'ephemeral', 'destroy', 'ttl', 'command']);
  });
});

describe('statusEvent', () => {
  it('builds the event of the design', () => {
    // Act
    const event = statusEvent(
      { ...FIELDS, summary: { add: 2, change: 0, destroy: 1 }, url: 'https://example.com/runs/1' },
      NOW,
    );

    // Assess
    expect(event).toEqual({
      schemaVersion: 1,
      runId: 'run-1',
      workflow: 'plan-apply',
      environment: 'dev',
      project: 'terraform/examples/hello',
      commit: COMMIT,
      phase: 'awaiting_approval',
      summary: { add: 2, change: 0, destroy: 1 },
      url: 'https://example.com/runs/1',
      at: '2030-01-01T12:00:00.000Z',
    });
    expect(STATUS_EVENT.parse(JSON.parse(JSON.stringify(event)))).toEqual(event);
  });

  it('leaves out what is not given', () => {
    expect(Object.keys(statusEvent(FIELDS, NOW))).toEqual([
      'schemaVersion',
      'runId',
      'workflow',
      'environment',
      'project',
      'commit',
      'phase',
      'at',
    ]);
  });

  it('keeps only the counts of a full plan summary', () => {
    // Prepare
    const summary = { add: 1, change: 2, destroy: 3, replace: 0, resources: [], outputs: [] };

    // Act
    const event = statusEvent({ ...FIELDS, summary }, NOW);

    // Assess
    expect(event.summary).toEqual({ add: 1, change: 2, destroy: 3 });
  });

  it('cuts a long message', () => {
    // Act
    const event = statusEvent({ ...FIELDS, message: 'x'.repeat(10_000) }, NOW);

    // Assess
    expect(event.message).toHaveLength(STATUS_MESSAGE_LIMIT);
    expect(event.message?.endsWith('x…')).toBe(true);
  });

  it.each([
    [{ commit: 'abc' }, 'event.commit'],
    [{ commit: COMMIT.toUpperCase() }, 'event.commit'],
    [{ phase: 'exploded' }, 'event.phase'],
    [{ workflow: 'apply' }, 'event.workflow'],
    [{ environment: 'dev;rm -rf /' }, 'event.environment'],
    [{ project: '../etc' }, 'event.project'],
    [{ runId: '' }, 'event.runId'],
    [{ url: 'javascript:alert(1)' }, 'event.url'],
    [{ summary: { add: -1, change: 0, destroy: 0 } }, 'event.summary.add'],
    [{ summary: { add: 1.5, change: 0, destroy: 0 } }, 'event.summary.add'],
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

  it('rejects unknown fields when parsing an event', () => {
    expect(STATUS_EVENT.safeParse({ ...statusEvent(FIELDS, NOW), token: 'secret' }).success).toBe(
      false,
    );
  });
});

describe('deduplicationId', () => {
  it('is the run and the phase', () => {
    expect(deduplicationId('run-1', 'applied')).toBe('run-1:applied');
  });

  it('stays within 128 allowed characters for a long or odd run id, and stays distinct', () => {
    // Act
    const long = deduplicationId('r'.repeat(200), 'applied');
    const longOther = deduplicationId(`${'r'.repeat(199)}s`, 'applied');
    const odd = deduplicationId('run é 1', 'failed');

    // Assess
    for (const id of [long, longOther, odd]) {
      expect(id.length).toBeLessThanOrEqual(128);
      expect(id).toMatch(/^[\x21-\x7e]+$/);
    }
    expect(long).not.toBe(longOther);
    expect(odd).toMatch(/^run___1:failed~[0-9a-f]{64}$/);
    expect(deduplicationId('r'.repeat(200), 'applied')).toBe(long);
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
