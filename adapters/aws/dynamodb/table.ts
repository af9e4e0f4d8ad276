// The one DynamoDB table the AWS stores share (single-table design): its keys, the item keys
// of each kind of item, and the helpers every store uses (the DocumentClient, the TTL
// attribute, conditional-write failures, checked reads). Each port has its own file beside
// this one; every write that must be exclusive is a conditional write, so two Lambdas racing
// can never both win, and the core decides what to write, exactly as it does for the local
// SQLite stores (local/engine/store/).
//
// Table: partition key `pk` (S), sort key `sk` (S), TTL attribute `expiresAtEpoch` (N, epoch
// seconds), on-demand capacity. Item layout (`type` names the kind of item):
//
// | pk              | sk                             | type          | attributes
// | --------------- | ------------------------------ | ------------- | ----------------------------------------------
// | LOCK#<env>      | LOCK                           | lock          | environment, owner, acquiredAt, expiresAt (ISO-8601),
// |                 |                                |               | expiresAtEpoch = expiresAt (an expired lock may vanish)
// | LOCK#<env>      | HISTORY#<acquiredAt>#<owner>   | lock-history  | environment, owner, acquiredAt, releasedAt,
// |                 |                                |               | expiresAtEpoch = releasedAt + history retention
// | ENV#<env>       | LASTGOOD#<projectDir>          | last-good     | environment, projectDir, commit, runId, at
// | ENV#<env>       | PROJECT#<projectDir>           | environment   | environment, projectDir, status, ttlExpiresAt
// |                 |                                |               | (ISO-8601 or null), lastRunId, updatedAt
// | RUN#<runId>     | RUN                            | run           | runId, details (map, merged key by key)
// | APPROVAL#<id>   | APPROVAL                       | approval      | id, runId, taskToken, environment, projectDir,
// |                 |                                |               | commit, planSha256, status, requestedAt, expiresAt,
// |                 |                                |               | decidedBy?, decidedAt?,
// |                 |                                |               | expiresAtEpoch = expiresAt + approval retention
//
// Every ISO-8601 time is written by Date#toISOString (UTC, milliseconds), so comparing two of
// them as strings in a condition compares the instants.
import { type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { z } from 'zod';
import { InvalidInput } from '../../../core/errors.ts';
import { isAwsError } from '../aws-errors.ts';

/** The table's key and TTL attributes, for whoever creates it (CDK, tests). */
export const TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  timeToLiveAttribute: 'expiresAtEpoch',
} as const;

const DAY_SECONDS = 24 * 60 * 60;

/** Lock history is kept this long after a release, unless the constructor says otherwise. */
export const DEFAULT_LOCK_HISTORY_RETENTION_SECONDS = 90 * DAY_SECONDS;

/** Approvals are kept this long after they expire (audit, "already decided" pages). */
export const DEFAULT_APPROVAL_RETENTION_SECONDS = 30 * DAY_SECONDS;

/** The item keys, one function per kind of item. */
export const keys = {
  lock: (environment: string) => ({ pk: `LOCK#${environment}`, sk: 'LOCK' }),
  lockHistory: (environment: string, acquiredAt: string, owner: string) => ({
    pk: `LOCK#${environment}`,
    sk: `HISTORY#${acquiredAt}#${owner}`,
  }),
  lastGood: (environment: string, projectDir: string) => ({
    pk: `ENV#${environment}`,
    sk: `LASTGOOD#${projectDir}`,
  }),
  environment: (environment: string, projectDir: string) => ({
    pk: `ENV#${environment}`,
    sk: `PROJECT#${projectDir}`,
  }),
  run: (runId: string) => ({ pk: `RUN#${runId}`, sk: 'RUN' }),
  approval: (id: string) => ({ pk: `APPROVAL#${id}`, sk: 'APPROVAL' }),
} as const;

/**
 * The DocumentClient every adapter here uses: plain JavaScript values in and out, and
 * `undefined` properties dropped rather than refused.
 */
export function dynamoDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
}

/** Epoch seconds of an ISO-8601 time (rounded up), for the TTL attribute. */
export function epochSeconds(iso: string, field: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new InvalidInput(field, 'is not an ISO date');
  return Math.ceil(ms / 1000);
}

export function isConditionFailed(error: unknown): boolean {
  return isAwsError(error, 'ConditionalCheckFailedException');
}

/** One item as read, checked against its schema (a malformed item is a bug, not a miss). */
export function parseItem<T>(schema: z.ZodType<T>, item: unknown, what: string): T {
  const parsed = schema.safeParse(item);
  if (!parsed.success) {
    throw new InvalidInput(what, `the stored item is malformed: ${parsed.error.message}`);
  }
  return parsed.data;
}
