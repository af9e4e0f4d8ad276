// The deployment's security properties, asserted on the synthesized template (offline; one
// real synthesis with esbuild bundling and cdk-nag for the whole file, ~30 s).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../bin/app.ts';
import {
  WORKFLOWS,
  aslPath,
  jobDefinitionsOf,
  placeholdersOf,
} from '../../state-machines/workflows.ts';
import { READ_ONLY_ACTION } from '../lib/executor-compute.ts';
import { HANDLERS, handlerFiles } from '../lib/functions.ts';
import { StepformPipeline, type StepformPipelineProps } from '../lib/stepform-pipeline.ts';

type Json = Record<string, unknown>;
interface Resource {
  Type: string;
  Properties: Json;
}
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

const REPO = 'acme/infra';
let outdir: string;
let template: Template;
let resources: Record<string, Resource>;
let pipeline: StepformPipeline;
let stack: Stack;
let validationReport: { pluginReports: { conclusion: string; violations: unknown[] }[] };

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'stepform-cdk-'));
  const previous = process.env.STEPFORM_GITHUB_REPOSITORY;
  process.env.STEPFORM_GITHUB_REPOSITORY = REPO;
  try {
    const built = buildApp({ outdir, nag: true });
    ({ pipeline, stack } = built);
    // Throws when cdk-nag reports an unacknowledged finding.
    built.app.synth();
  } finally {
    if (previous === undefined) delete process.env.STEPFORM_GITHUB_REPOSITORY;
    else process.env.STEPFORM_GITHUB_REPOSITORY = previous;
  }
  template = Template.fromJSON(
    JSON.parse(readFileSync(join(outdir, `${stack.artifactId}.template.json`), 'utf8')) as Json,
  );
  resources = template.toJSON().Resources as Record<string, Resource>;
  validationReport = JSON.parse(
    readFileSync(join(outdir, 'validation-report.json'), 'utf8'),
  ) as typeof validationReport;
});

afterAll(() => {
  rmSync(outdir, { recursive: true, force: true });
});

const logicalId = (construct: { node: { defaultChild?: unknown } }): string =>
  stack.getLogicalId(construct.node.defaultChild as never);
const ref = (id: string) => ({ Ref: id });
const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Every statement of every inline policy and AWS::IAM::Policy attached to a role. */
function statementsOf(roleId: string): Statement[] {
  const role = resources[roleId]!;
  const inline = (
    (role.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]
  ).flatMap((p) => p.PolicyDocument.Statement);
  const attached = Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .filter((r) =>
      (r.Properties.Roles as unknown[]).some(
        (x) => JSON.stringify(x) === JSON.stringify(ref(roleId)),
      ),
    )
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
  return [...inline, ...attached];
}

function allowedResourcesOf(roleId: string, action: string): unknown[] {
  return statementsOf(roleId)
    .filter((s) => s.Effect === 'Allow' && asArray(s.Action).includes(action))
    .flatMap((s) => asArray(s.Resource));
}

/** The ARN CDK renders for the state machine of a workflow (a Fn::Join over pseudo parameters). */
function stateMachineArnJson(workflow: string): string {
  return JSON.stringify(stack.resolve(pipeline.stateMachines[workflow as 'plan'].stateMachineArn));
}

describe('StepformPipeline', () => {
  it('passes cdk-nag AwsSolutions with every finding acknowledged', () => {
    expect(validationReport.pluginReports.map((r) => r.conclusion)).toEqual(['success']);
    expect(validationReport.pluginReports.flatMap((r) => r.violations)).toEqual([]);
  });

  it('lets the functions that read job results list the artifacts prefix, so a missing result is JobLost', () => {
    // Without s3:ListBucket, S3 answers a missing key with 403 AccessDenied, not 404.
    const bucket = ref(logicalId(pipeline.artifactsBucket));
    for (const name of ['CollectJobResult', 'Notify', 'RequestApproval'] as const) {
      const role = logicalId(pipeline.functions[name].role!);
      const listing = statementsOf(role).filter((s) => asArray(s.Action).includes('s3:ListBucket'));
      expect(listing).toEqual([
        {
          Effect: 'Allow',
          Action: 's3:ListBucket',
          Resource: { 'Fn::GetAtt': [bucket.Ref, 'Arn'] },
          Condition: { StringLike: { 's3:prefix': 'artifacts/*' } },
        },
      ]);
    }
  });

  it('lets the scheduler role start only the destroy state machine', () => {
    const roleId = logicalId(pipeline.schedulerRole);
    const role = resources[roleId]!;
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    const trust = (role.Properties.AssumeRolePolicyDocument as { Statement: Statement[] })
      .Statement;
    expect(trust).toHaveLength(1);
    expect(JSON.stringify(trust[0]!)).toContain('scheduler.amazonaws.com');
    const statements = statementsOf(roleId);
    expect(statements).toHaveLength(1);
    expect(statements[0]!.Effect).toBe('Allow');
    expect(statements[0]!.Action).toBe('states:StartExecution');
    // The ARN by name (the Lambdas need it before the machine exists): the destroy machine's.
    const destroyName =
      resources[logicalId(pipeline.stateMachines.destroy)]!.Properties.StateMachineName;
    expect(destroyName).toBe('Stepform-destroy');
    expect(statements[0]!.Resource).toEqual({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':states:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':stateMachine:Stepform-destroy',
        ],
      ],
    });
    const names = Object.values(resources)
      .filter((r) => r.Type === 'AWS::StepFunctions::StateMachine')
      .map((r) => r.Properties.StateMachineName);
    expect(names.filter((n) => n === 'Stepform-destroy')).toHaveLength(1);
  });

  it('gives the plan job role no write action beyond lock files, plan artifacts and a clone token', () => {
    const roleId = logicalId(pipeline.planJobRole);
    expect(resources[roleId]!.Properties.ManagedPolicyArns).toEqual([
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/ReadOnlyAccess']] },
    ]);
    const writes = statementsOf(roleId).flatMap((s) =>
      asArray(s.Action)
        .filter((action) => !READ_ONLY_ACTION.test(action))
        .map((action) => ({ action, resources: asArray(s.Resource) })),
    );
    const objects = (bucket: { node: { defaultChild?: unknown } }, pattern: string) => ({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(bucket), 'Arn'] }, `/${pattern}`]],
    });
    const lockFiles = objects(pipeline.stateBucket, 'stepform/state/*.tflock');
    const planArtifacts = objects(pipeline.artifactsBucket, 'artifacts/*/plan/*');
    expect(writes).toEqual([
      { action: 's3:PutObject', resources: [lockFiles] },
      { action: 's3:DeleteObject', resources: [lockFiles] },
      { action: 's3:PutObject', resources: [planArtifacts] },
      // A read-only token of the deployment's repository (a GitHub App's: contents read).
      {
        action: 'lambda:InvokeFunction',
        resources: [{ 'Fn::GetAtt': [logicalId(pipeline.functions.GitHubToken), 'Arn'] }],
      },
    ]);
    expect(statementsOf(roleId).every((s) => s.Effect === 'Allow')).toBe(true);
  });

  it('gives the apply job role AdministratorAccess by default and a separate role from plans', () => {
    const applyId = logicalId(pipeline.applyJobRole);
    expect(applyId).not.toBe(logicalId(pipeline.planJobRole));
    expect(JSON.stringify(resources[applyId]!.Properties.ManagedPolicyArns)).toContain(
      ':iam::aws:policy/AdministratorAccess',
    );
  });

  it('denies non-TLS access to the artifacts and state buckets', () => {
    for (const bucket of [pipeline.artifactsBucket, pipeline.stateBucket]) {
      const bucketId = logicalId(bucket);
      const policy = Object.values(resources).find(
        (r) =>
          r.Type === 'AWS::S3::BucketPolicy' &&
          JSON.stringify(r.Properties.Bucket) === JSON.stringify(ref(bucketId)),
      );
      expect(policy).toBeDefined();
      const statements = (policy!.Properties.PolicyDocument as { Statement: Statement[] })
        .Statement;
      const deny = statements.find(
        (s) =>
          s.Effect === 'Deny' &&
          JSON.stringify(s.Condition) ===
            JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }),
      );
      expect(deny).toBeDefined();
      expect(deny!.Action).toBe('s3:*');
      expect((deny as unknown as { Principal: unknown }).Principal).toEqual({ AWS: '*' });
      expect(asArray(deny!.Resource)).toHaveLength(2);
      const props = resources[bucketId]!.Properties;
      expect(props.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      expect(props.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(JSON.stringify(props.BucketEncryption)).toContain('AES256');
    }
    const lifecycle = resources[logicalId(pipeline.artifactsBucket)]!.Properties
      .LifecycleConfiguration as { Rules: { ExpirationInDays?: number }[] };
    expect(lifecycle.Rules[0]!.ExpirationInDays).toBe(90);
  });

  it('lets the pull-request role start only plan, and only from pull requests of the repository', () => {
    const roleId = logicalId(pipeline.githubRoles.pullRequest!);
    const starts = allowedResourcesOf(roleId, 'states:StartExecution').map((r) =>
      JSON.stringify(r),
    );
    expect(starts).toEqual([stateMachineArnJson('plan')]);
    expect(starts).not.toContain(stateMachineArnJson('plan-apply'));
    for (const s of statementsOf(roleId)) {
      expect(asArray(s.Action).every((a) => a.startsWith('states:'))).toBe(true);
    }
    const trust = JSON.stringify(resources[roleId]!.Properties.AssumeRolePolicyDocument);
    expect(trust).toContain(
      `"token.actions.githubusercontent.com:sub":"repo:${REPO}:pull_request"`,
    );
    expect(trust).toContain('"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"');
  });

  it('lets only the default branch start plan-apply, and the dispatch role the manual workflows', () => {
    const branchId = logicalId(pipeline.githubRoles.defaultBranch!);
    expect(
      allowedResourcesOf(branchId, 'states:StartExecution').map((r) => JSON.stringify(r)),
    ).toEqual([stateMachineArnJson('plan'), stateMachineArnJson('plan-apply')]);
    expect(JSON.stringify(resources[branchId]!.Properties.AssumeRolePolicyDocument)).toContain(
      `repo:${REPO}:ref:refs/heads/main`,
    );
    const dispatchId = logicalId(pipeline.githubRoles.dispatch!);
    expect(
      allowedResourcesOf(dispatchId, 'states:StartExecution').map((r) => JSON.stringify(r)),
    ).toEqual([
      stateMachineArnJson('ephemeral'),
      stateMachineArnJson('destroy'),
      stateMachineArnJson('ttl'),
      stateMachineArnJson('command'),
    ]);
    // A pull request may start neither ttl nor command.
    const pullRequestId = logicalId(pipeline.githubRoles.pullRequest!);
    expect(
      allowedResourcesOf(pullRequestId, 'states:StartExecution').map((r) => JSON.stringify(r)),
    ).toEqual([stateMachineArnJson('plan')]);
    // No other role in the stack may start plan-apply.
    const startersOfPlanApply = Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::IAM::Role')
      .filter(([id]) =>
        allowedResourcesOf(id, 'states:StartExecution')
          .map((r) => JSON.stringify(r))
          .includes(stateMachineArnJson('plan-apply')),
      )
      .map(([id]) => id);
    expect(startersOfPlanApply).toEqual([branchId]);
  });

  it('fills every placeholder of every state machine definition', () => {
    // The workflows, loaded from their ASL files; the image build's waiter is the provider
    // framework's (an inline definition).
    const machines = Object.values(resources).filter(
      (r) =>
        r.Type === 'AWS::StepFunctions::StateMachine' &&
        r.Properties.DefinitionS3Location !== undefined,
    );
    expect(machines).toHaveLength(WORKFLOWS.length);
    for (const workflow of WORKFLOWS) {
      const machine = machines.find(
        (m) =>
          JSON.stringify(m.Properties.StateMachineName) === JSON.stringify(`Stepform-${workflow}`),
      )!;
      expect(machine).toBeDefined();
      const location = machine.Properties.DefinitionS3Location as { Key: string };
      const staged = readFileSync(join(outdir, `asset.${location.Key}`), 'utf8');
      expect(staged).toBe(readFileSync(aslPath(workflow), 'utf8'));
      const substitutions = machine.Properties.DefinitionSubstitutions as Record<string, unknown>;
      const needed = placeholdersOf(workflow);
      expect(needed.length).toBeGreaterThan(0);
      for (const name of needed) expect(substitutions[name]).toBeDefined();
      // What CloudFormation will do: replace each ${Name}; nothing may be left.
      let filled = staged;
      for (const [name, value] of Object.entries(substitutions)) {
        filled = filled.split(`\${${name}}`).join(`arn:resolved:${JSON.stringify(value).length}`);
      }
      expect(filled).not.toContain('${');
      expect(() => JSON.parse(filled) as unknown).not.toThrow();
      const props = machine.Properties;
      expect(props.TracingConfiguration).toEqual({ Enabled: true });
      expect((props.LoggingConfiguration as { Level: string }).Level).toBe('ALL');
    }
  });

  it('grants each state machine invoke on exactly the functions its file names', () => {
    for (const workflow of WORKFLOWS) {
      const sm = pipeline.stateMachines[workflow];
      const roleId = logicalId(sm.role);
      const invoked = allowedResourcesOf(roleId, 'lambda:InvokeFunction').map((r) =>
        JSON.stringify(r),
      );
      const expected = placeholdersOf(workflow)
        .filter((p) => p.endsWith('FunctionArn'))
        .map((p) =>
          JSON.stringify({
            'Fn::GetAtt': [
              logicalId(pipeline.functions[p.replace('FunctionArn', '') as 'Lock']),
              'Arn',
            ],
          }),
        );
      expect(invoked.sort()).toEqual(expected.sort());
      if (jobDefinitionsOf(workflow).length === 0) {
        // ttl runs no job: it may submit none.
        expect(allowedResourcesOf(roleId, 'batch:SubmitJob')).toEqual([]);
        continue;
      }
      expect(allowedResourcesOf(roleId, 'batch:SubmitJob').length).toBeGreaterThanOrEqual(2);
      expect(JSON.stringify(allowedResourcesOf(roleId, 'events:PutRule'))).toContain(
        'rule/StepFunctionsGetEventsForBatchJobsRule',
      );
    }
  });

  it('deploys one nodejs24.x ARM64 function per handler file, with the configuration it reads', () => {
    expect(Object.values(HANDLERS).sort()).toEqual(handlerFiles());
    // Besides these, the executor image build's custom resource has its own functions.
    const handlerIds = new Set(Object.values(pipeline.functions).map((fn) => logicalId(fn)));
    const functions = Object.entries(resources)
      .filter(([id]) => handlerIds.has(id))
      .map(([, r]) => r);
    expect(functions).toHaveLength(Object.keys(HANDLERS).length);
    for (const fn of functions) expect(fn.Properties.Runtime).toBe('nodejs24.x');
    for (const fn of functions) {
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
      const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      for (const key of [
        'TABLE_NAME',
        'ARTIFACTS_BUCKET',
        'STATE_BUCKET',
        'STATE_KEY_PREFIX',
        'STATUS_QUEUE_URL',
        'APPROVAL_URL',
        'SIGNING_KEY_SECRET_ID',
        'SCHEDULE_GROUP',
        'DESTROY_STATE_MACHINE_ARN',
        'SCHEDULER_ROLE_ARN',
        'GITHUB_REPOSITORY',
      ]) {
        expect(env[key]).toBeDefined();
      }
      expect(env.AWS_REGION).toBeUndefined();
    }
  });

  it('creates the table, the FIFO queues, the approval URL and the alarms as designed', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAtEpoch', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      BillingMode: 'PAY_PER_REQUEST',
    });
    template.resourcePropertiesCountIs('AWS::SQS::Queue', { FifoQueue: true }, 2);
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE' });
    template.resourceCountIs('AWS::CloudWatch::Alarm', WORKFLOWS.length + 1);
    template.hasResourceProperties('AWS::Batch::JobDefinition', {
      PlatformCapabilities: ['FARGATE'],
    });
    template.resourceCountIs('AWS::Batch::JobQueue', 1);
  });
});

describe('StepformPipeline props', () => {
  // Bundling skipped: these only build the construct tree.
  const newStack = () => new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test');
  const build = (props: StepformPipelineProps) => new StepformPipeline(newStack(), 'P', props);

  it('refuses invalid combinations with a clear error', () => {
    expect(() => build({ jobVcpus: 3 })).toThrow(/jobVcpus must be one of/);
    expect(() => build({ jobVcpus: 1, jobMemory: undefined, maxvCpus: 0 })).toThrow(/maxvCpus/);
    expect(() => build({ assignPublicIp: true })).toThrow(/assignPublicIp/);
    expect(() => build({ github: { repository: 'not a repo' } })).toThrow(/owner\/name/);
    expect(() =>
      build({ github: { repository: 'a/b', existingProviderArn: 'arn:aws:iam::1:x' } }),
    ).toThrow(/existingProviderArn/);
    expect(() => build({ namePrefix: '1bad name' })).toThrow(/namePrefix/);
    expect(() => build({ approvers: ['a,b'] })).toThrow(/approver/);
    // A bare link carries no identity: an approver list needs Slack to say who clicked.
    expect(() => build({ approvers: ['alice'] })).toThrow(/approvers .*slackInteractivity/);
    expect(() => build({ approvers: ['alice'], slackInteractivity: true })).not.toThrow();
  });

  it('runs pull-request plans on a Spot-first queue when asked, applies never', () => {
    const stack = newStack();
    const p = new StepformPipeline(stack, 'P', { spotForPlans: true });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::Batch::JobQueue', 2);
    t.resourcePropertiesCountIs(
      'AWS::Batch::ComputeEnvironment',
      { ComputeResources: { Type: 'FARGATE_SPOT' } },
      1,
    );
    const subs = (name: string) =>
      JSON.stringify(
        (
          Object.values(t.toJSON().Resources as Record<string, Resource>).find(
            (r) => JSON.stringify(r.Properties.StateMachineName) === JSON.stringify(`Test-${name}`),
          )!.Properties.DefinitionSubstitutions as Json
        ).JobQueueArn,
      );
    expect(subs('plan')).toBe(JSON.stringify(stack.resolve(p.planJobQueue.jobQueueArn)));
    for (const w of ['plan-apply', 'ephemeral', 'destroy']) {
      expect(subs(w)).toBe(JSON.stringify(stack.resolve(p.jobQueue.jobQueueArn)));
    }
    expect(p.githubRoles).toEqual({});
  });
});
