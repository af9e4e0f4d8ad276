// A deployed stack updates in place after StepformPipeline was split into parts: CDK's
// logical-ID rule is reproduced exactly, each part's resources keep the IDs they had without
// the part, and the pipeline's stateful and fixed-name resources keep the IDs deployments have.
import { describe, expect, it } from '@jest/globals';
import { App, CfnResource, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { keepLogicalIds, logicalIdOfPath } from '../lib/logical-ids.ts';
import { StepformPipeline } from '../lib/stepform-pipeline.ts';

const newStack = (id = 'Test') =>
  new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), id);

/** A resource at `path` below a fresh stack, and the logical ID CDK gives it. */
function cdkLogicalId(path: string[]): string {
  const stack = newStack();
  let scope: Construct = stack;
  for (const id of path.slice(0, -1)) scope = new Construct(scope, id);
  const resource = new CfnResource(scope, path.at(-1) ?? '', { type: 'Test::Resource' });
  return stack.getLogicalId(resource);
}

function resourcesOf(stack: Stack): Record<string, unknown> {
  const app = stack.node.root;
  if (!App.isApp(app)) throw new Error(`${stack.stackName} is not in an app`);
  const template = app.synth().getStackByName(stack.stackName).template as {
    Resources: Record<string, unknown>;
  };
  return template.Resources;
}

describe('logicalIdOfPath', () => {
  it.each([
    [['Table']],
    [['my-table_1']],
    [['Pipeline', 'Table', 'Resource']],
    [['Pipeline', 'Default', 'Vpc', 'publicSubnet1', 'Subnet']],
    [['Pipeline', 'Default']],
    [['Pipeline', 'PipelineRole', 'Role', 'DefaultPolicy', 'Resource']],
    [['A', 'A', 'B']],
    [['Pipeline', 'x'.repeat(300), 'Resource']],
    [['y'.repeat(260)]],
  ])('gives %j the ID CDK gives it', (path) => {
    expect(logicalIdOfPath(path)).toBe(cdkLogicalId(path));
  });
});

describe('keepLogicalIds', () => {
  /** A bucket, a role reading it, and a grant made after the part was built. */
  function build(withPart: boolean) {
    const stack = newStack();
    const pipeline = new Construct(stack, 'Pipeline');
    const part = withPart ? new Construct(pipeline, 'Storage') : pipeline;
    const bucket = new s3.Bucket(part, 'Bucket', { enforceSSL: true });
    const role = new iam.Role(part, 'Role', { assumedBy: new iam.AccountRootPrincipal() });
    if (withPart) keepLogicalIds(part);
    bucket.grantRead(role);
    return { stack, bucket, role };
  }
  const resourceIds = (stack: Stack) => Object.keys(resourcesOf(stack)).sort();

  it('gives every resource of a part, those made later too, the ID it had without the part', () => {
    const before = build(false);
    const after = build(true);

    const ids = resourceIds(after.stack);

    expect(ids).toEqual(resourceIds(before.stack));
    expect(ids).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PipelineBucket[0-9A-F]{8}$/),
        expect.stringMatching(/^PipelineBucketPolicy[0-9A-F]{8}$/),
        expect.stringMatching(/^PipelineRoleDefaultPolicy[0-9A-F]{8}$/),
      ]),
    );
    expect(after.stack.getLogicalId(after.bucket.node.defaultChild as CfnResource)).toBe(
      before.stack.getLogicalId(before.bucket.node.defaultChild as CfnResource),
    );
  });
});

describe('StepformPipeline', () => {
  it('keeps the logical IDs of a stack deployed before it was composed of parts', () => {
    const stack = newStack('Stepform');
    new StepformPipeline(stack, 'Pipeline', { github: { repository: 'acme/infra' } });
    const ids = Object.keys(resourcesOf(stack));

    // Stateful, fixed-name, or named in other places (role ARNs in GitHub workflows, the
    // approval URL in Slack): a new logical ID would replace these.
    expect(ids).toEqual(
      expect.arrayContaining([
        'PipelineTable0C1A5F45',
        'PipelineAccessLogsBucket31EC11F4',
        'PipelineArtifactsBucket22248F97',
        'PipelineStateBucket21DE7A86',
        'PipelineStatusQueue13E9AC67',
        'PipelineStatusDeadLetterQueue2B0A4B98',
        'PipelineGitHubTokenSecretA2638CC8',
        'PipelineSlackWebhookSecret38013F16',
        'PipelineApprovalSigningKeyA3BDD895',
        'PipelineVpc62BC8747',
        'PipelineJobQueue47BEFBC4',
        'PipelinePlanJobDefinition681534A2',
        'PipelineApplyJobRoleF3384CEA',
        'PipelineScheduleGroup16BEC9B8',
        'PipelineSchedulerRoleF759143F',
        'PipelineApprovalCallbackFunction8E81F207',
        'PipelineApprovalCallbackFunctionFunctionUrlC64F502F',
        'PipelinePlanStateMachineBEAE6AB3',
        'PipelinePlanApplyStateMachine8FD1C7E9',
        'PipelineEphemeralStateMachineD99F2607',
        'PipelineDestroyStateMachine2AEAE76B',
        'PipelineReleaseLocksOfEndedExecutions6256E303',
        'PipelineStatusDeadLetterAlarmA34CAE63',
        'PipelineGitHubOidcProvider639D80E8',
        'PipelineGitHubPullRequestRoleE1A88E7F',
        'PipelineGitHubDefaultBranchRoleFA2CF0EE',
        'PipelineGitHubDispatchRole0BBE87BC',
      ]),
    );
    // The one ID that names a part: CDK names the rule's invoke permission after the
    // function's full path. A Lambda permission is replaced without a gap.
    const parts = /Storage|Secrets|ExecutorCompute|TtlSchedules|DriftSchedules|Functions|Workflows/;
    expect(ids.filter((id) => parts.test(id))).toEqual([
      expect.stringMatching(
        /^PipelineReleaseLocksOfEndedExecutionsAllowEventRuleStepformPipelineFunctionsExecutionEndedFunction/,
      ),
    ]);
  });
});
