// cdk-nag acknowledgements, each placed next to its resource with its reason.
//
// cdk-nag 3 matches an acknowledgement by exact text: `AwsSolutions-IAM5[Resource::<arn>]`,
// where <arn> is the resource's ARN as the stack resolves it, flattened (`Ref` → `<AWS::Region>`,
// `Fn::GetAtt` → `<LogicalId.Arn>`). That text differs between an environment-agnostic stack
// (`<AWS::Region>:<AWS::AccountId>`) and one with a known account and region (`eu-west-1:…`),
// so the helpers here take the ARN the policy uses and let the stack write the text.
import { type Acknowledgment, Aspects, Stack, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
// The function cdk-nag's IAM rules name their findings with (not exported from its index).
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';

/** Acknowledges cdk-nag findings on one construct, each with its reason. */
export function acknowledge(scope: Construct, ...acks: Acknowledgment[]): void {
  Validations.of(scope).acknowledge(...acks);
}

/**
 * Runs `acknowledgements` once, at synthesis: for findings that name resources of the scope's
 * own part by logical ID, which StepformPipeline renames only once the part is built
 * (keepLogicalIds), so their text is final only then.
 */
export function acknowledgeAtSynthesis(scope: Construct, acknowledgements: () => void): void {
  let done = false;
  Aspects.of(scope).add({
    visit: (node) => {
      if (node !== scope || done) return;
      done = true;
      acknowledgements();
    },
  });
}

/** Acknowledges exactly these wildcard findings (AwsSolutions-IAM5[<finding>]) on one construct. */
export function acknowledgeWildcards(scope: Construct, reason: string, findings: string[]): void {
  Validations.of(scope).acknowledge(
    ...findings.map((finding) => ({ id: `AwsSolutions-IAM5[${finding}]`, reason })),
  );
}

/**
 * Acknowledges the wildcard in each of these resource ARNs (the values given to the policy
 * statement, tokens and all) on one construct.
 */
export function acknowledgeWildcardResources(
  scope: Construct,
  reason: string,
  resourceArns: string[],
): void {
  acknowledgeWildcards(
    scope,
    reason,
    resourceArns.map((arn) => `Resource::${nagText(scope, arn)}`),
  );
}

/** Acknowledges an AWS managed policy attached to a role (AwsSolutions-IAM4). */
export function acknowledgeManagedPolicy(
  scope: Construct,
  reason: string,
  policy: iam.IManagedPolicy,
): void {
  acknowledge(scope, {
    id: `AwsSolutions-IAM4[Policy::${nagText(scope, policy.managedPolicyArn)}]`,
    reason,
  });
}

/**
 * A value as cdk-nag shows it: resolved in the scope's stack (its account and region, literal
 * or `AWS::` references) and flattened.
 */
export function nagText(scope: Construct, value: string): string {
  return flattenCfnReference(Stack.of(scope).resolve(value));
}
