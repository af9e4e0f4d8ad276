// Approvals in the DynamoDB table: the ApprovalPort.
import { type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { APPROVAL_SUBJECT, type DecidedStatus } from '../../../core/approval.ts';
import { InvalidInput } from '../../../core/errors.ts';
import { APPROVAL_CHANNELS, type ApprovalChannel } from '../../../core/decision-actor.ts';
import type { ApprovalPort, StoredApproval } from '../../../core/ports.ts';
import {
  DEFAULT_APPROVAL_RETENTION_SECONDS,
  DynamoTable,
  epochSeconds,
  keys,
  parseItem,
} from './table.ts';

// z.object: the table's own attributes (pk, sk, type, expiresAtEpoch) are dropped on reading.
const APPROVAL_ITEM = z.object({
  id: z.string(),
  runId: z.string(),
  taskToken: z.string(),
  executionArn: z.string().optional(),
  environment: z.string(),
  projectDir: z.string(),
  commit: z.string(),
  planSha256: z.string(),
  status: z.enum(['pending', 'approved', 'rejected', 'expired']),
  requestedAt: z.string(),
  expiresAt: z.string(),
  decidedBy: z.string().optional(),
  decidedAt: z.string().optional(),
  decidedVia: z.enum(APPROVAL_CHANNELS).optional(),
  reason: z.string().optional(),
  subject: APPROVAL_SUBJECT.optional(),
});

const RUN_APPROVAL_ITEM = z.object({ approvalId: z.string() });

/**
 * Approvals with the task token the workflow waits on. A decision is single use: it is
 * written only while the approval is pending, and before its expiry unless it marks it
 * expired (a conditional UpdateItem), so of two racing decisions exactly one returns true.
 * The TTL attribute removes an approval some time after it expires (`retentionSeconds`, 30
 * days by default).
 */
export class DynamoApprovalPort implements ApprovalPort {
  readonly #table: DynamoTable;
  readonly #retentionSeconds: number;

  constructor(
    client: DynamoDBClient,
    tableName: string,
    options: { retentionSeconds?: number } = {},
  ) {
    this.#table = new DynamoTable(client, tableName);
    this.#retentionSeconds = options.retentionSeconds ?? DEFAULT_APPROVAL_RETENTION_SECONDS;
  }

  /**
   * Stores a new, pending approval; InvalidInput when one with this id exists. Then the run's
   * pointer to it (a failure there fails RequestApproval, whose retry asks anew).
   */
  async create(approval: StoredApproval): Promise<void> {
    const expiresAtEpoch =
      epochSeconds(approval.expiresAt, 'approval.expiresAt') + this.#retentionSeconds;
    const created = await this.#table.put({
      Item: {
        ...keys.approval(approval.id),
        type: 'approval',
        id: approval.id,
        runId: approval.runId,
        taskToken: approval.taskToken,
        ...(approval.executionArn === undefined ? {} : { executionArn: approval.executionArn }),
        environment: approval.environment,
        projectDir: approval.projectDir,
        commit: approval.commit,
        planSha256: approval.planSha256,
        ...(approval.subject === undefined ? {} : { subject: approval.subject }),
        status: 'pending',
        requestedAt: approval.requestedAt,
        expiresAt: approval.expiresAt,
        expiresAtEpoch,
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    if (!created) {
      throw new InvalidInput('approval.id', `an approval ${approval.id} already exists`);
    }
    await this.#table.put({
      Item: {
        ...keys.runApproval(approval.runId, approval.requestedAt, approval.id),
        type: 'run-approval',
        runId: approval.runId,
        approvalId: approval.id,
        expiresAtEpoch,
      },
    });
  }

  async get(id: string): Promise<StoredApproval | undefined> {
    return this.#table.read(keys.approval(id), APPROVAL_ITEM, 'approval');
  }

  async latestForRun(runId: string): Promise<StoredApproval | undefined> {
    const [pointer] = await this.#table.queryPage({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :approval)',
      ExpressionAttributeValues: { ':pk': keys.run(runId).pk, ':approval': 'APPROVAL#' },
      ScanIndexForward: false,
      Limit: 1,
      ConsistentRead: true,
    });
    if (pointer === undefined) return undefined;
    const { approvalId } = parseItem(RUN_APPROVAL_ITEM, pointer, 'run approval');
    return this.get(approvalId);
  }

  /** Single use, and an approval past its expiry can only be marked expired. */
  async decide(
    id: string,
    status: DecidedStatus,
    by: string | null,
    at: string,
    via?: ApprovalChannel,
    reason?: string,
  ): Promise<boolean> {
    // False when decided already, expired, or no such approval.
    return this.#table.update({
      Key: keys.approval(id),
      UpdateExpression: [
        'SET #status = :status, decidedAt = :at',
        ...(by === null ? [] : ['decidedBy = :by']),
        ...(via === undefined ? [] : ['decidedVia = :via']),
        ...(reason === undefined ? [] : ['reason = :reason']),
      ].join(', '),
      ConditionExpression:
        status === 'expired' ? '#status = :pending' : '#status = :pending AND :at <= expiresAt',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':status': status,
        ':at': at,
        ':pending': 'pending',
        ...(by === null ? {} : { ':by': by }),
        ...(via === undefined ? {} : { ':via': via }),
        ...(reason === undefined ? {} : { ':reason': reason }),
      },
    });
  }
}
