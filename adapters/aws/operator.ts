// The AWS adapters the operator's CLI uses against a deployed stack (`stepform --stack`), over
// one set of clients in the stack's region: the table's stores, the executions, the artifacts.
// Credentials and the endpoint come from the standard AWS environment (AWS_PROFILE,
// AWS_ENDPOINT_URL...), as for any AWS CLI.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { DestroySchedule } from '../../core/ports.ts';
import { DynamoApprovalPort } from './dynamodb/dynamo-approvals.ts';
import { DynamoLockPort } from './dynamodb/dynamo-locks.ts';
import { DynamoRecordPort } from './dynamodb/dynamo-records.ts';
import { DynamoRunPort } from './dynamodb/dynamo-runs.ts';
import { S3ArtifactPort } from './s3.ts';
import { EventBridgeDriftSchedules } from './drift-schedules.ts';
import { type SchedulerTarget, pendingSchedule } from './scheduler.ts';
import { StepFunctionsExecutions, StepFunctionsTaskCallbackPort } from './sfn.ts';

export interface OperatorAdapters {
  readonly locks: DynamoLockPort;
  readonly records: DynamoRecordPort;
  readonly runs: DynamoRunPort;
  readonly approvals: DynamoApprovalPort;
  readonly callbacks: StepFunctionsTaskCallbackPort;
  readonly executions: StepFunctionsExecutions;
  /** Job artifacts: an absolute artifacts path is under `artifacts/` of the bucket. */
  readonly artifacts: S3ArtifactPort;
  /** The TTL destroy that will still fire for an environment and project (none without a group). */
  pendingSchedule(environment: string, projectDir: string): Promise<DestroySchedule | undefined>;
  /** The drift schedules of the stack's drift group (`drift --schedule`). */
  driftSchedules(target: SchedulerTarget): EventBridgeDriftSchedules;
  close(): void;
}

export function operatorAdapters(options: {
  readonly region: string;
  readonly tableName: string;
  readonly artifactsBucket: string;
  /** Path-style S3 URLs (an S3 emulator on loopback). */
  readonly s3ForcePathStyle?: boolean;
  /** The TTL schedules' group, when the stack's outputs name it. */
  readonly scheduleGroup?: string;
}): OperatorAdapters {
  const { region, tableName } = options;
  const dynamo = new DynamoDBClient({ region });
  const sfn = new SFNClient({ region });
  const s3 = new S3Client({ region, forcePathStyle: options.s3ForcePathStyle === true });
  const scheduler = new SchedulerClient({ region });
  const { scheduleGroup } = options;
  return {
    locks: new DynamoLockPort(dynamo, tableName),
    records: new DynamoRecordPort(dynamo, tableName),
    runs: new DynamoRunPort(dynamo, tableName),
    approvals: new DynamoApprovalPort(dynamo, tableName),
    callbacks: new StepFunctionsTaskCallbackPort(sfn),
    executions: new StepFunctionsExecutions(sfn),
    artifacts: new S3ArtifactPort(s3, { bucket: options.artifactsBucket, keyPrefix: 'artifacts' }),
    pendingSchedule: async (environment, projectDir) =>
      scheduleGroup === undefined
        ? undefined
        : pendingSchedule(scheduler, scheduleGroup, environment, projectDir),
    driftSchedules: (target) => new EventBridgeDriftSchedules(scheduler, target),
    close: () => {
      for (const client of [dynamo, sfn, s3, scheduler]) client.destroy();
    },
  };
}
