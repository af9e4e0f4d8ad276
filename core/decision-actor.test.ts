import { describe, expect, it } from '@jest/globals';
import { actorText, decisionActor, decisionSentence } from './decision-actor.ts';

describe('decisionActor', () => {
  const at = '2026-11-23T09:30:00.000Z';

  it('is who decided an approved or rejected record, when and where', () => {
    expect(
      decisionActor({ status: 'approved', decidedBy: 'alice', decidedAt: at, decidedVia: 'slack' }),
    ).toEqual({ name: 'alice', at, channel: 'slack' });
    expect(decisionActor({ status: 'rejected', decidedBy: 'bob', decidedAt: at })).toEqual({
      name: 'bob',
      at,
    });
  });

  it('is undefined while pending, once expired, or without a decider', () => {
    expect(decisionActor(undefined)).toBeUndefined();
    expect(decisionActor({ status: 'pending' })).toBeUndefined();
    expect(decisionActor({ status: 'expired', decidedAt: at })).toBeUndefined();
    expect(decisionActor({ status: 'approved', decidedAt: at })).toBeUndefined();
  });

  it('reads as a sentence', () => {
    const actor = { name: 'alice', at, channel: 'web' as const };
    expect(actorText(actor)).toBe(`alice via the approval page at ${at}`);
    expect(decisionSentence('approved', actor)).toBe(
      `Approved by alice via the approval page at ${at}`,
    );
    expect(decisionSentence('rejected', { name: 'bob', at })).toBe(`Rejected by bob at ${at}`);
  });
});
