// Each part of StepformPipeline on its own: the props it refuses, naming the prop, and what its
// defaults and options make. Bundling is skipped: these only build the construct tree.
import { describe, expect, it } from '@jest/globals';
import { App, Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { TASK_FUNCTIONS } from '../../core/task-steps.ts';
import { WORKFLOWS, type Workflow, placeholdersOf } from '../../state-machines/workflows.ts';
import { ExecutorCompute, type ExecutorComputeOptions } from '../lib/executor-compute.ts';
import { StepformFunctions, type StepformFunctionsOptions } from '../lib/functions.ts';
import { GitHubOidcRoles, type GitHubOidcProps } from '../lib/github-oidc.ts';
import { StepformSecrets, type StepformSecretsProps } from '../lib/secrets.ts';
import { StateMachineNames } from '../lib/state-machine-names.ts';
import { StepformStorage, type StepformStorageProps } from '../lib/storage.ts';
import { DriftSchedules } from '../lib/drift-schedules.ts';
import { TtlSchedules } from '../lib/ttl-schedules.ts';
import { StepformWorkflows, fillingEvery } from '../lib/workflows.ts';

const newStack = () => new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test');

/** An executor image that needs no Docker build context. */
const IMAGE = ecs.ContainerImage.fromRegistry('public.ecr.aws/stepform/executor:test');

function storage(props: StepformStorageProps = {}) {
  const stack = newStack();
  return { stack, storage: new StepformStorage(stack, 'Storage', props) };
}

function compute(options: ExecutorComputeOptions = {}) {
  const { stack, storage: s } = storage();
  const built = new ExecutorCompute(stack, 'Compute', {
    executorImage: IMAGE,
    ...options,
    storage: s,
  });
  return { stack, compute: built };
}

function functions(
  options: StepformFunctionsOptions = {},
  githubRepository?: string,
  secretsProps: StepformSecretsProps = {},
) {
  const { stack, storage: s } = storage();
  const names = new StateMachineNames(stack, 'Sf');
  const built = new StepformFunctions(stack, 'Functions', {
    ...options,
    storage: s,
    secrets: new StepformSecrets(stack, 'Secrets', secretsProps),
    schedules: new TtlSchedules(stack, 'Schedules', { stateMachines: names }),
    stateMachines: names,
    ...(githubRepository ? { githubRepository } : {}),
  });
  return { stack, names, storage: s, functions: built };
}

describe('StepformStorage', () => {
  it('refuses a state key prefix that is not a relative prefix without a trailing /', () => {
    for (const stateKeyPrefix of ['/states', 'states/', 'a//b', 'a b', '']) {
      expect(() => storage({ stateKeyPrefix })).toThrow(
        `StepformStorage: stateKeyPrefix "${stateKeyPrefix}" must be a relative key prefix`,
      );
    }
  });

  it('refuses an artifact retention S3 cannot express (whole days, at least one)', () => {
    for (const artifactRetention of [Duration.hours(36), Duration.hours(12), Duration.days(0)]) {
      expect(() => storage({ artifactRetention })).toThrow(
        /StepformStorage: artifactRetention must be a whole number of days/,
      );
    }
  });

  it('retains its data by default and keeps states under stepform/state', () => {
    const { stack, storage: s } = storage();
    const t = Template.fromStack(stack);

    expect(s.stateKeyPrefix).toBe('stepform/state');
    expect(s.artifactsPrefix).toBe('artifacts');
    t.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
    t.resourcePropertiesCountIs('AWS::S3::Bucket', { VersioningConfiguration: Match.absent() }, 1);
    t.resourceCountIs('AWS::S3::Bucket', 3);
    t.resourcePropertiesCountIs('AWS::SQS::Queue', { FifoQueue: true }, 2);
    t.resourceCountIs('AWS::CloudWatch::Alarm', 1);
  });

  it('takes its prefix, retention and removal policy from the props', () => {
    const { stack, storage: s } = storage({
      stateKeyPrefix: 'tf/states',
      artifactRetention: Duration.days(30),
      dataRemovalPolicy: RemovalPolicy.DESTROY,
    });
    const t = Template.fromStack(stack);

    expect(s.stateKeyPrefix).toBe('tf/states');
    t.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    t.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 30 })] },
    });
  });
});

describe('StepformSecrets', () => {
  it('retains the secrets by default, and generates only the signing key', () => {
    const stack = newStack();
    new StepformSecrets(stack, 'Secrets');
    const t = Template.fromStack(stack);

    t.resourceCountIs('AWS::SecretsManager::Secret', 3);
    t.resourcePropertiesCountIs(
      'AWS::SecretsManager::Secret',
      { GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true } },
      1,
    );
    expect(
      Object.values(t.findResources('AWS::SecretsManager::Secret')).map(
        (r: { DeletionPolicy?: string }) => r.DeletionPolicy,
      ),
    ).toEqual(['Retain', 'Retain', 'Retain']);
  });
});

describe('ExecutorCompute', () => {
  const vpc = (stack: Stack) => new ec2.Vpc(stack, 'Own');

  it('refuses subnets or public IPs without a VPC of your own', () => {
    expect(() => compute({ jobSubnets: { subnetType: ec2.SubnetType.PUBLIC } })).toThrow(
      'ExecutorCompute: jobSubnets needs vpc',
    );
    expect(() => compute({ assignPublicIp: true })).toThrow(
      'ExecutorCompute: assignPublicIp is for jobs in public subnets of your own vpc',
    );
  });

  it('refuses a job size Fargate does not run', () => {
    expect(() => compute({ jobVcpus: 3 })).toThrow(
      'ExecutorCompute: jobVcpus must be one of 0.25, 0.5, 1, 2, 4, 8, 16 (Fargate), got 3',
    );
    expect(() => compute({ jobVcpus: 0.25, jobMemory: Size.gibibytes(4) })).toThrow(
      'ExecutorCompute: jobMemory 4096 MiB is not valid on Fargate with 0.25 vCPU',
    );
    expect(() => compute({ jobVcpus: 1, jobMemory: Size.mebibytes(2500) })).toThrow(
      'jobMemory 2500 MiB is not valid on Fargate with 1 vCPU',
    );
    expect(() => compute({ jobVcpus: 4, jobMemory: Size.gibibytes(8), maxvCpus: 2 })).toThrow(
      'ExecutorCompute: maxvCpus must be an integer of at least jobVcpus (4), got 2',
    );
    expect(() => compute({ maxvCpus: 8.5 })).toThrow(/maxvCpus must be an integer/);
  });

  it('refuses a job timeout the workflows would not wait for', () => {
    for (const jobTimeout of [Duration.seconds(30), Duration.hours(5)]) {
      expect(() => compute({ jobTimeout })).toThrow(
        'ExecutorCompute: jobTimeout must be between 1 minute and 4 hours',
      );
    }
  });

  it('runs plans and applies on one on-demand queue by default, in a new VPC', () => {
    const { stack, compute: c } = compute();
    const t = Template.fromStack(stack);

    expect(c.planJobQueue).toBe(c.jobQueue);
    t.resourceCountIs('AWS::Batch::JobQueue', 1);
    t.resourceCountIs('AWS::EC2::VPC', 1);
    t.resourceCountIs('AWS::EC2::FlowLog', 1);
    t.resourcePropertiesCountIs(
      'AWS::Batch::JobDefinition',
      {
        Timeout: { AttemptDurationSeconds: 7200 },
        ContainerProperties: Match.objectLike({
          RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
        }),
      },
      2,
    );
  });

  it('puts plans on a Spot-first queue when asked, in your VPC and subnets', () => {
    const stack = newStack();
    const s = new StepformStorage(stack, 'Storage');
    const c = new ExecutorCompute(stack, 'Compute', {
      storage: s,
      executorImage: IMAGE,
      vpc: vpc(stack),
      jobSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      assignPublicIp: true,
      spotForPlans: true,
      architecture: 'X86_64',
    });
    const t = Template.fromStack(stack);

    expect(c.planJobQueue).not.toBe(c.jobQueue);
    t.resourceCountIs('AWS::Batch::JobQueue', 2);
    t.resourcePropertiesCountIs(
      'AWS::Batch::ComputeEnvironment',
      { ComputeResources: Match.objectLike({ Type: 'FARGATE_SPOT' }) },
      1,
    );
    t.resourceCountIs('AWS::EC2::VPC', 1);
    t.resourceCountIs('AWS::EC2::FlowLog', 0);
    t.resourcePropertiesCountIs(
      'AWS::Batch::JobDefinition',
      {
        ContainerProperties: Match.objectLike({
          NetworkConfiguration: { AssignPublicIp: 'ENABLED' },
          RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
        }),
      },
      2,
    );
  });
});

describe('StepformFunctions', () => {
  it('refuses an approver name that would not survive the comma-separated list', () => {
    for (const name of ['a,b', ' lead', '']) {
      expect(() => functions({ approvers: [name] })).toThrow(
        `StepformFunctions: approver "${name}" must be non-empty, without commas or leading spaces`,
      );
    }
  });

  it('deploys one function per Task step and the three handlers no workflow calls', () => {
    const { functions: f } = functions();

    expect(Object.keys(f.functions).sort()).toEqual(
      [...TASK_FUNCTIONS, 'ApprovalCallback', 'ExecutionEnded', 'GitHubToken'].sort(),
    );
  });

  it('refuses an approver list that nothing could verify, naming the props', () => {
    expect(() => functions({ approvers: ['alice'] })).toThrow(
      /^StepformFunctions: approvers are set .* set slackInteractivity: true/,
    );
  });

  it("with Slack interactivity, gives only the approval endpoint the Slack app's signing secret", () => {
    const { stack } = functions({ approvers: ['alice'] }, undefined, { slackInteractivity: true });
    const template = Template.fromStack(stack);
    const [secretId] = Object.keys(
      template.findResources('AWS::SecretsManager::Secret', {
        Properties: { Description: Match.stringLikeRegexp('signing secret') },
      }),
    );
    const functionsBySecret = Object.entries(
      template.findResources('AWS::Lambda::Function'),
    ).filter(([, r]) => JSON.stringify(r).includes('SLACK_SIGNING_SECRET_ID'));

    expect(secretId).toBeDefined();
    expect(functionsBySecret.map(([id]) => id)).toEqual([
      expect.stringMatching(/^FunctionsApprovalCallbackFunction/),
    ]);
    expect(JSON.stringify(functionsBySecret[0]?.[1])).toContain(`"Ref":"${secretId ?? ''}"`);
    const readers = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
      JSON.stringify(policy).includes(`"Ref":"${secretId ?? ''}"`),
    );
    expect(readers).toHaveLength(1);
    expect(JSON.stringify(readers[0])).toContain('secretsmanager:GetSecretValue');
    expect(JSON.stringify(readers[0])).toContain('ApprovalCallbackFunction');
  });

  it('gives every function the approvers and the repository, when there are some', () => {
    const { stack } = functions({ approvers: ['alice', 'bob'] }, 'acme/infra', {
      slackInteractivity: true,
    });
    const variables = Object.values(
      Template.fromStack(stack).findResources('AWS::Lambda::Function'),
    ).map(
      (r) =>
        (r as { Properties: { Environment: { Variables: Record<string, unknown> } } }).Properties
          .Environment.Variables,
    );

    expect(variables).toHaveLength(TASK_FUNCTIONS.length + 3);
    for (const env of variables) {
      expect(env).toMatchObject({ APPROVERS: 'alice,bob', GITHUB_REPOSITORY: 'acme/infra' });
    }
  });

  it('names the schedule group and the destroy machine by the state machines prefix', () => {
    const { stack } = functions();
    const t = Template.fromStack(stack);

    t.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: 'Sf-ttl' });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          APPROVAL_URL: 'https://approval-endpoint.invalid/',
          DESTROY_STATE_MACHINE_ARN: {
            'Fn::Join': ['', Match.arrayWith([':stateMachine:Sf-destroy'])],
          },
        }),
      },
    });
  });
});

describe('DriftSchedules', () => {
  it('names its own group by the prefix; its role may start the drift machine and nothing else', () => {
    const stack = newStack();
    new DriftSchedules(stack, 'Drift', { stateMachines: new StateMachineNames(stack, 'Sf') });
    const t = Template.fromStack(stack);

    t.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
    t.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: 'Sf-drift' });
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: 'scheduler.amazonaws.com' } })],
      }),
      Policies: [
        {
          PolicyName: 'StartDriftOnly',
          PolicyDocument: Match.objectLike({
            Statement: [
              {
                Action: 'states:StartExecution',
                Effect: 'Allow',
                Resource: { 'Fn::Join': ['', Match.arrayWith([':stateMachine:Sf-drift'])] },
              },
            ],
          }),
        },
      ],
    });
  });
});

describe('StepformWorkflows', () => {
  it('refuses a file whose placeholders the stack does not fill, naming them', () => {
    const filled = Object.fromEntries(placeholdersOf('plan-apply').map((p) => [p, `arn:${p}`]));
    const rest = Object.fromEntries(
      Object.entries(filled).filter(([name]) => !['LockFunctionArn', 'JobQueueArn'].includes(name)),
    );

    expect(fillingEvery('plan-apply', filled)).toBe(filled);
    expect(() => fillingEvery('plan-apply', rest)).toThrow(
      /StepformWorkflows: .*plan-apply\.asl\.json names placeholders nothing fills: JobQueueArn, LockFunctionArn$/,
    );
  });

  it('makes one named machine per workflow, logging without execution data unless asked', () => {
    for (const logExecutionData of [undefined, true]) {
      const { stack, names, functions: f } = functions();
      const c = new ExecutorCompute(stack, 'Compute', {
        storage: new StepformStorage(stack, 'MoreStorage'),
        executorImage: IMAGE,
      });
      const w = new StepformWorkflows(stack, 'Workflows', {
        functions: f,
        compute: c,
        stateMachines: names,
        ...(logExecutionData ? { logExecutionData } : {}),
      });
      const t = Template.fromStack(stack);

      expect(Object.keys(w.stateMachines)).toEqual([...WORKFLOWS]);
      for (const workflow of WORKFLOWS) {
        expect(w.stateMachines[workflow]).toBeInstanceOf(sfn.StateMachine);
        t.hasResourceProperties('AWS::StepFunctions::StateMachine', {
          StateMachineName: `Sf-${workflow}`,
          LoggingConfiguration: Match.objectLike({
            IncludeExecutionData: logExecutionData ?? false,
          }),
        });
      }
      expect(w.alarms).toHaveLength(WORKFLOWS.length);
    }
  });
});

describe('GitHubOidcRoles', () => {
  function roles(props: GitHubOidcProps) {
    const stack = newStack();
    const names = new StateMachineNames(stack, 'Sf');
    const machines = Object.fromEntries(
      WORKFLOWS.map((w) => [w, sfn.StateMachine.fromStateMachineName(stack, w, names.name(w))]),
    ) as Record<Workflow, sfn.IStateMachine>;
    const built = new GitHubOidcRoles(stack, 'GitHub', {
      ...props,
      stateMachines: machines,
      stateMachineNames: names,
    });
    return { stack, roles: built };
  }

  it('refuses a repository, branch, environment or provider that cannot be what it says', () => {
    expect(() => roles({ repository: 'acme' })).toThrow(
      'GitHubOidcRoles: repository must be owner/name, got "acme"',
    );
    expect(() => roles({ repository: 'a/b', defaultBranch: 'main branch' })).toThrow(
      'GitHubOidcRoles: defaultBranch "main branch" is not a branch name',
    );
    expect(() => roles({ repository: 'a/b', dispatchEnvironment: 'ops/prod' })).toThrow(
      'GitHubOidcRoles: dispatchEnvironment "ops/prod" is not an environment name',
    );
    expect(() =>
      roles({
        repository: 'a/b',
        existingProviderArn: 'arn:aws:iam::123456789012:oidc-provider/gitlab.com',
      }),
    ).toThrow(/GitHubOidcRoles: existingProviderArn must be the ARN of the token\.actions/);
  });

  it('creates the OIDC provider unless the account has one, and three roles', () => {
    const created = Template.fromStack(roles({ repository: 'acme/infra' }).stack);
    const existing = Template.fromStack(
      roles({
        repository: 'acme/infra',
        existingProviderArn:
          'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com',
      }).stack,
    );

    created.resourceCountIs('AWS::IAM::OIDCProvider', 1);
    existing.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    existing.resourceCountIs('AWS::IAM::Role', 3);
  });

  it('lets the dispatch environment and the default branch be chosen', () => {
    const { stack } = roles({
      repository: 'acme/infra',
      defaultBranch: 'trunk',
      dispatchEnvironment: 'ops',
    });
    const trusts = JSON.stringify(Template.fromStack(stack).findResources('AWS::IAM::Role'));

    expect(trusts).toContain('repo:acme/infra:ref:refs/heads/trunk');
    expect(trusts).toContain('repo:acme/infra:environment:ops');
    expect(trusts).toContain('repo:acme/infra:pull_request');
  });
});
