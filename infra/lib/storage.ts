// Where Stepform keeps things: the DynamoDB table (runs, locks, last good commits,
// environments, approvals), the artifacts bucket (plans, logs, results), the Terraform state
// bucket, the access-log bucket of both, and the FIFO status queue with its dead letters.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type DataRemovalProps, invalidProps } from './common-props.ts';
import { acknowledge } from './nag.ts';

/** Where executor artifacts live in the artifacts bucket (lambdas/runtime.ts uses the same). */
export const ARTIFACTS_PREFIX = 'artifacts';

const STATE_KEY_PREFIX = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

export interface StepformStorageProps extends DataRemovalProps {
  /**
   * Where Terraform states live in the state bucket.
   * @default 'stepform/state'
   */
  readonly stateKeyPrefix?: string;
  /**
   * Delete artifacts (plans, logs, results) after this long; noncurrent versions after 30 days.
   * @default Duration.days(90)
   */
  readonly artifactRetention?: Duration;
}

export class StepformStorage extends Construct {
  readonly table: dynamodb.Table;
  readonly accessLogsBucket: s3.Bucket;
  readonly artifactsBucket: s3.Bucket;
  readonly stateBucket: s3.Bucket;
  readonly statusQueue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  /** Status events reached the dead-letter queue. */
  readonly deadLetterAlarm: cloudwatch.Alarm;
  /** Where Terraform states live in the state bucket. */
  readonly stateKeyPrefix: string;
  /** Where executor artifacts live in the artifacts bucket. */
  readonly artifactsPrefix = ARTIFACTS_PREFIX;

  constructor(scope: Construct, id: string, props: StepformStorageProps = {}) {
    super(scope, id);
    const fail: (message: string) => never = (message) => invalidProps('StepformStorage', message);
    this.stateKeyPrefix = props.stateKeyPrefix ?? 'stepform/state';
    if (!STATE_KEY_PREFIX.test(this.stateKeyPrefix)) {
      fail(
        `stateKeyPrefix "${this.stateKeyPrefix}" must be a relative key prefix without a trailing /`,
      );
    }
    const artifactRetention = props.artifactRetention ?? Duration.days(90);
    if (!artifactRetention.isUnresolved()) {
      const days = artifactRetention.toDays({ integral: false });
      if (!Number.isInteger(days) || days < 1) {
        fail(
          `artifactRetention must be a whole number of days (S3 expires objects by day), got ${artifactRetention.toHumanString()}`,
        );
      }
    }
    const removalPolicy = props.dataRemovalPolicy ?? RemovalPolicy.RETAIN;

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: 'expiresAtEpoch',
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy,
    });

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogsBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy,
    });
    acknowledge(this.accessLogsBucket, {
      id: 'AwsSolutions-S1',
      reason:
        'This is the access-log bucket of the artifacts and state buckets; logging it to itself would loop.',
    });
    const bucketProps = (logPrefix: string): s3.BucketProps => ({
      encryption: s3.BucketEncryption.S3_MANAGED,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: logPrefix,
      removalPolicy,
    });
    this.artifactsBucket = new s3.Bucket(this, 'ArtifactsBucket', {
      ...bucketProps('artifacts/'),
      lifecycleRules: [
        {
          expiration: artifactRetention,
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });
    this.stateBucket = new s3.Bucket(this, 'StateBucket', {
      ...bucketProps('state/'),
      // Every Terraform state version is kept for a year: the way back after a bad apply.
      lifecycleRules: [
        {
          noncurrentVersionExpiration: Duration.days(365),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });

    this.deadLetterQueue = new sqs.Queue(this, 'StatusDeadLetterQueue', {
      fifo: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(this.deadLetterQueue, {
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the dead-letter queue of the status queue.',
    });
    this.statusQueue = new sqs.Queue(this, 'StatusQueue', {
      fifo: true,
      // The sender sets the deduplication id (run, phase, projects) and the group (environment).
      contentBasedDeduplication: false,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });
    this.deadLetterAlarm = new cloudwatch.Alarm(this, 'StatusDeadLetterAlarm', {
      alarmDescription: 'Stepform: status events reached the dead-letter queue',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
