// cdk-nag acknowledgements, each placed next to its resource with its reason.
import { type Acknowledgment, type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/** Acknowledges cdk-nag findings on one construct, each with its reason. */
export function acknowledge(scope: Construct, ...acks: Acknowledgment[]): void {
  Validations.of(scope).acknowledge(...acks);
}

/** Acknowledges exactly these wildcard findings (AwsSolutions-IAM5[<finding>]) on one construct. */
export function acknowledgeWildcards(scope: Construct, reason: string, findings: string[]): void {
  Validations.of(scope).acknowledge(
    ...findings.map((finding) => ({ id: `AwsSolutions-IAM5[${finding}]`, reason })),
  );
}

/** The logical id cdk-nag shows for a resource's ARN (`<LogicalId.Arn>`). */
export function arnRef(resource: Construct): string {
  const element = resource.node.defaultChild as CfnElement;
  return `<${Stack.of(resource).getLogicalId(element)}.Arn>`;
}
