// The ApprovalPort contract, on both stores: the SQLite store of the local engine and the
// DynamoDB store of the Lambdas (on moto). An approval is created pending with the task token
// the workflow waits on, and decided once: the first decision wins, a late one is refused, and
// past its expiry it can only be marked expired.
import { describe, expect, it } from '@jest/globals';
import { DynamoApprovalPort } from '../../adapters/aws/dynamodb/dynamo-approvals.ts';
import { InvalidInput } from '../../core/errors.ts';
import type { ApprovalPort } from '../../core/ports.ts';
import { TASK_TOKEN, storedApproval } from '../support/store-fixtures.ts';
import { contractBackends } from './backends.ts';

const backends = contractBackends();

const STORES = backends.sqliteAndDynamo<ApprovalPort>(
  ({ approvals }) => approvals,
  (client, table) => new DynamoApprovalPort(client, table),
);

const T0 = new Date('2030-01-01T00:00:00.000Z');

/** T0 plus some seconds. */
function at(seconds: number): string {
  return new Date(T0.getTime() + seconds * 1000).toISOString();
}

describe.each(STORES)('ApprovalPort on %s', (_name, open) => {
  it('stores a pending approval with its task token, and no decision fields until decided', async () => {
    const approvals = await open();
    const pending = storedApproval();

    await approvals.create(pending);

    const stored = await approvals.get(pending.id);
    expect(stored).toEqual(pending);
    expect(Object.keys(stored!)).not.toContain('decidedBy');
    expect(Object.keys(stored!)).not.toContain('decidedAt');
    expect(await approvals.get('no-such-approval')).toBeUndefined();
  });

  it('keeps what the approval is for: each project of a plan with its counts and plan', async () => {
    const approvals = await open();
    const subject = {
      kind: 'plan' as const,
      projects: [
        {
          name: 'network',
          dir: 'infra/network',
          summary: { add: 1, change: 0, destroy: 2, replace: 1 },
          planLocation: '/run-1/project-network/plan',
        },
        { name: 'dns', dir: 'infra/dns' },
      ],
    };
    const pending = storedApproval({ id: 'with-subject', subject });

    await approvals.create(pending);

    expect(await approvals.get(pending.id)).toEqual(pending);
  });

  it('stores it as pending, whatever status it is given', async () => {
    const approvals = await open();
    await approvals.create(storedApproval({ status: 'approved' }));
    expect((await approvals.get(storedApproval().id))?.status).toBe('pending');
  });

  it('refuses a second approval with the same id (InvalidInput naming approval.id)', async () => {
    const approvals = await open();
    await approvals.create(storedApproval());

    const second = approvals.create(storedApproval({ runId: 'run-2', taskToken: 'another-token' }));

    await expect(second).rejects.toThrow(InvalidInput);
    await expect(second).rejects.toMatchObject({ field: 'approval.id' });
    await expect(second).rejects.toThrow(/already exists/);
    expect(await approvals.get(storedApproval().id)).toEqual(storedApproval());
  });

  it('decides once: later decisions are refused and change nothing', async () => {
    const approvals = await open();
    const row = storedApproval();
    await approvals.create(row);

    expect(await approvals.decide(row.id, 'approved', 'alice', at(60))).toBe(true);
    expect(await approvals.decide(row.id, 'rejected', 'mallory', at(61))).toBe(false);
    expect(await approvals.decide(row.id, 'approved', 'alice', at(62))).toBe(false);
    expect(await approvals.decide(row.id, 'expired', null, at(63))).toBe(false);

    expect(await approvals.get(row.id)).toEqual({
      ...row,
      status: 'approved',
      decidedBy: 'alice',
      decidedAt: at(60),
    });
  });

  it('keeps where a decision was made', async () => {
    const approvals = await open();
    const row = storedApproval({ id: 'via-slack' });
    await approvals.create(row);
    expect(await approvals.decide(row.id, 'approved', 'carol', at(30), 'slack')).toBe(true);
    expect(await approvals.get(row.id)).toEqual({
      ...row,
      status: 'approved',
      decidedBy: 'carol',
      decidedAt: at(30),
      decidedVia: 'slack',
    });
  });

  it('keeps why a decision was made (a policy override’s reason)', async () => {
    const approvals = await open();
    const row = storedApproval({ id: 'with-reason' });
    await approvals.create(row);
    const reason = 'incident 42: “replace” approved by the owners\nsee the postmortem';
    expect(await approvals.decide(row.id, 'approved', 'alice', at(30), 'web', reason)).toBe(true);
    expect(await approvals.get(row.id)).toEqual({
      ...row,
      status: 'approved',
      decidedBy: 'alice',
      decidedAt: at(30),
      decidedVia: 'web',
      reason,
    });
  });

  it('lets exactly one of two racing decisions win', async () => {
    const approvals = await open();
    for (let round = 0; round < 10; round += 1) {
      const row = storedApproval({ id: `approval-${round}`, runId: `run-${round}` });
      await approvals.create(row);

      const [approved, rejected] = await Promise.all([
        approvals.decide(row.id, 'approved', 'ann', at(60)),
        approvals.decide(row.id, 'rejected', 'bob', at(60)),
      ]);

      expect([approved, rejected].filter(Boolean)).toHaveLength(1);
      expect(await approvals.get(row.id)).toEqual({
        ...row,
        status: approved ? 'approved' : 'rejected',
        decidedBy: approved ? 'ann' : 'bob',
        decidedAt: at(60),
      });
    }
  });

  it('records a rejection and who made it', async () => {
    const approvals = await open();
    await approvals.create(storedApproval());

    expect(await approvals.decide(storedApproval().id, 'rejected', 'bob', at(5))).toBe(true);

    expect(await approvals.get(storedApproval().id)).toMatchObject({
      status: 'rejected',
      decidedBy: 'bob',
      decidedAt: at(5),
      taskToken: TASK_TOKEN,
    });
  });

  it('marks an approval expired without a decider; an approver is refused after that', async () => {
    const approvals = await open();
    await approvals.create(storedApproval());

    expect(await approvals.decide(storedApproval().id, 'expired', null, at(3601))).toBe(true);
    expect(await approvals.decide(storedApproval().id, 'approved', 'alice', at(3602))).toBe(false);

    const expired = await approvals.get(storedApproval().id);
    expect(expired).toMatchObject({ status: 'expired', decidedAt: at(3601) });
    expect(Object.keys(expired!)).not.toContain('decidedBy');
  });

  it('refuses to approve or reject a still-pending approval whose expiry has passed', async () => {
    const approvals = await open();
    await approvals.create(storedApproval());

    expect(await approvals.decide(storedApproval().id, 'approved', 'alice', at(3601))).toBe(false);
    expect(await approvals.decide(storedApproval().id, 'rejected', 'bob', at(3601))).toBe(false);
    expect((await approvals.get(storedApproval().id))?.status).toBe('pending');
    // At its expiry exactly, it may still be decided.
    expect(await approvals.decide(storedApproval().id, 'approved', 'alice', at(3600))).toBe(true);
  });

  it('decides nothing for an approval that does not exist', async () => {
    const approvals = await open();
    expect(await approvals.decide('no-such-approval', 'approved', 'ann', at(0))).toBe(false);
    expect(await approvals.get('no-such-approval')).toBeUndefined();
  });

  it("finds a run's newest approval, as decided, and nothing for a run without one", async () => {
    const approvals = await open();
    await approvals.create(storedApproval({ id: 'first', requestedAt: at(0) }));
    await approvals.create(storedApproval({ id: 'second', requestedAt: at(60) }));
    await approvals.create(storedApproval({ id: 'other', runId: 'run-2', requestedAt: at(120) }));
    await approvals.decide('second', 'rejected', 'bob', at(90));

    expect(await approvals.latestForRun('run-1')).toMatchObject({
      id: 'second',
      status: 'rejected',
      decidedBy: 'bob',
    });
    expect((await approvals.latestForRun('run-2'))?.id).toBe('other');
    expect(await approvals.latestForRun('run-3')).toBeUndefined();
  });
});
