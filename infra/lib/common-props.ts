// What several of Stepform's constructs share: props documented once (each construct's props
// extend them, and so do StepformPipeline's), the log groups they create, and how they refuse
// impossible props.
import { RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/** The CPU architecture of the Lambdas and the Batch jobs. */
export type Architecture = 'ARM64' | 'X86_64';

export interface ArchitectureProps {
  /**
   * Architecture of the Lambdas and the Batch jobs (the image must match).
   * @default 'ARM64'
   */
  readonly architecture?: Architecture;
}

export interface LogRetentionProps {
  /**
   * How long logs are kept.
   * @default RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;
}

export interface DataRemovalProps {
  /**
   * What happens to the table, the buckets and the secrets when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly dataRemovalPolicy?: RemovalPolicy;
}

/** A log group of its own, kept as long as the props say, deleted with the stack. */
export function newLogGroup(scope: Construct, id: string, props: LogRetentionProps): logs.LogGroup {
  return new logs.LogGroup(scope, id, {
    retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
    removalPolicy: RemovalPolicy.DESTROY,
  });
}

/** Refuses impossible props, naming the construct and the prop. */
export function invalidProps(construct: string, message: string): never {
  throw new Error(`${construct}: ${message}`);
}
