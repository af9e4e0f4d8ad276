// The apply role's policy is a named choice (AdministratorAccess by default, with a synthesis
// warning that says so), and each environment's account can have its own roles for Terraform
// to assume: asserted on the template of a StepformPipeline (bundling skipped).
import { describe, expect, it } from '@jest/globals';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { executionName } from '../../github-action/src/execution.ts';
import { ACTION_EXECUTION_PREFIX } from '../lib/github-oidc.ts';
import { StepformPipeline, type StepformPipelineProps } from '../lib/stepform-pipeline.ts';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}
interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}

function synth(props: StepformPipelineProps) {
  const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test');
  const pipeline = new StepformPipeline(stack, 'P', props);
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const idOf = (construct: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(construct.node.defaultChild as never);
  /** The statements of the AWS::IAM::Policy resources attached to a role. */
  const statementsOf = (role: iam.Role): Statement[] =>
    Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .filter((r) => JSON.stringify(r.Properties.Roles) === JSON.stringify([{ Ref: idOf(role) }]))
      .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
  /** The container environment of a job definition, name → value. */
  const environmentOf = (definition: { node: { defaultChild?: unknown } }) => {
    const properties = resources[idOf(definition)]!.Properties as {
      ContainerProperties: { Environment: { Name: string; Value: unknown }[] };
    };
    return Object.fromEntries(
      properties.ContainerProperties.Environment.map((e) => [e.Name, stack.resolve(e.Value)]),
    ) as Record<string, unknown>;
  };
  const managedPoliciesOf = (role: iam.Role) =>
    JSON.stringify(resources[idOf(role)]!.Properties.ManagedPolicyArns ?? []);
  return { stack, pipeline, template, statementsOf, environmentOf, managedPoliciesOf };
}

const APPLY_ROLE_WARNING = Match.stringLikeRegexp('AdministratorAccess');
const DEV = {
  planRoleArn: 'arn:aws:iam::111111111111:role/stepform-plan',
  applyRoleArn: 'arn:aws:iam::111111111111:role/stepform-apply',
};
const PROD = {
  planRoleArn: 'arn:aws:iam::222222222222:role/stepform-plan',
  applyRoleArn: 'arn:aws:iam::222222222222:role/stepform-apply',
};

describe('the apply role', () => {
  it('is AdministratorAccess by default, and a synthesis warning names that choice', () => {
    const { stack, pipeline, managedPoliciesOf } = synth({});
    expect(managedPoliciesOf(pipeline.applyJobRole)).toContain(
      ':iam::aws:policy/AdministratorAccess',
    );
    Annotations.fromStack(stack).hasWarning(
      '/Test/P/ExecutorCompute/ApplyJobRole',
      APPLY_ROLE_WARNING,
    );
  });

  it('has exactly the policies given, a boundary and statements, and no warning', () => {
    const scope = new Stack();
    const policy = (name: string) =>
      iam.ManagedPolicy.fromManagedPolicyArn(
        scope,
        name,
        `arn:aws:iam::123456789012:policy/${name}`,
      );
    const {
      pipeline,
      stack: built,
      managedPoliciesOf,
      statementsOf,
    } = synth({
      applyRole: {
        managedPolicies: [policy('deployer')],
        permissionsBoundary: policy('bound'),
        policyStatements: [
          new iam.PolicyStatement({
            actions: ['sqs:CreateQueue'],
            resources: ['arn:aws:sqs:*:*:app-*'],
          }),
        ],
      },
    });
    expect(managedPoliciesOf(pipeline.applyJobRole)).not.toContain('AdministratorAccess');
    expect(managedPoliciesOf(pipeline.applyJobRole)).toContain(':policy/deployer');
    expect(JSON.stringify(Template.fromStack(built).toJSON())).toContain(':policy/bound');
    expect(statementsOf(pipeline.applyJobRole).map((s) => s.Action)).toContainEqual(
      'sqs:CreateQueue',
    );
    Annotations.fromStack(built).hasNoWarning('*', APPLY_ROLE_WARNING);
  });

  it('can be given no policy in this account at all (the environments are elsewhere)', () => {
    const { stack, pipeline, managedPoliciesOf } = synth({
      applyRole: { managedPolicies: [] },
      environmentRoles: { dev: DEV },
    });
    expect(managedPoliciesOf(pipeline.applyJobRole)).toBe('[]');
    Annotations.fromStack(stack).hasNoWarning('*', APPLY_ROLE_WARNING);
  });
});

describe('per-environment roles', () => {
  const assumed = (statements: Statement[]) =>
    statements
      .filter((s) => [s.Action].flat().includes('sts:AssumeRole'))
      .flatMap((s) => [s.Resource].flat());

  it('let the plan jobs assume only the plan roles and the apply jobs only the apply roles', () => {
    const { pipeline, statementsOf } = synth({ environmentRoles: { dev: DEV, prod: PROD } });
    expect(assumed(statementsOf(pipeline.planJobRole)).sort()).toEqual(
      [DEV.planRoleArn, PROD.planRoleArn].sort(),
    );
    expect(assumed(statementsOf(pipeline.applyJobRole)).sort()).toEqual(
      [DEV.applyRoleArn, PROD.applyRoleArn].sort(),
    );
  });

  it("give each job definition its own kind's role per environment, as TF_VAR_stepform_role_arns", () => {
    const { pipeline, environmentOf } = synth({ environmentRoles: { dev: DEV, prod: PROD } });
    const roleArns = (definition: typeof pipeline.planJobDefinition) =>
      JSON.parse(environmentOf(definition).TF_VAR_stepform_role_arns as string) as unknown;
    expect(roleArns(pipeline.planJobDefinition)).toEqual({
      dev: DEV.planRoleArn,
      prod: PROD.planRoleArn,
    });
    expect(roleArns(pipeline.applyJobDefinition)).toEqual({
      dev: DEV.applyRoleArn,
      prod: PROD.applyRoleArn,
    });
  });

  it('are absent by default: no role to assume, no variable', () => {
    const { pipeline, statementsOf, environmentOf } = synth({});
    expect(assumed(statementsOf(pipeline.applyJobRole))).toEqual([]);
    expect(assumed(statementsOf(pipeline.planJobRole))).toEqual([]);
    expect(environmentOf(pipeline.applyJobDefinition)).not.toHaveProperty(
      'TF_VAR_stepform_role_arns',
    );
  });

  it('refuse an environment name or a role ARN that cannot be one, naming the prop', () => {
    expect(() => synth({ environmentRoles: { Prod: PROD } })).toThrow(/environmentRoles.*"Prod"/);
    expect(() =>
      synth({ environmentRoles: { dev: { ...DEV, applyRoleArn: 'arn:aws:iam::1:user/x' } } }),
    ).toThrow(/environmentRoles\.dev\.applyRoleArn/);
  });
});

/** An ARN as the template writes it (Fn::Join of text, Refs and GetAtts), as one string. */
function arnText(value: unknown, names: Record<string, string>): string {
  if (typeof value === 'string') return value;
  const object = value as Record<string, unknown>;
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => arnText(part, names)).join(separator);
  }
  if ('Ref' in object) return `\${${String(object.Ref)}}`;
  if ('Fn::GetAtt' in object) {
    const [id] = object['Fn::GetAtt'] as [string];
    return `<${names[id] ?? id}>`;
  }
  return JSON.stringify(value);
}

describe('the job roles in the buckets', () => {
  const s3Statements = (built: ReturnType<typeof synth>, role: iam.Role) => {
    const { stack, pipeline, statementsOf } = built;
    const names = {
      [stack.getLogicalId(pipeline.stateBucket.node.defaultChild as never)]: 'state',
      [stack.getLogicalId(pipeline.artifactsBucket.node.defaultChild as never)]: 'artifacts',
    };
    return statementsOf(role)
      .filter((s) => [s.Action].flat().some((a) => a.startsWith('s3:')))
      .map((s) => ({
        Effect: s.Effect,
        Action: [s.Action].flat().sort(),
        Resource: [s.Resource].flat().map((r) => arnText(r, names)),
        ...('Condition' in s ? { Condition: s.Condition } : {}),
      }));
  };

  it('let a plan job write only lock files under the state prefix and plan artifacts, and delete only lock files', () => {
    const built = synth({});
    expect(s3Statements(built, built.pipeline.planJobRole)).toEqual([
      {
        Effect: 'Allow',
        Action: ['s3:GetObject'],
        Resource: ['<state>/stepform/state/*', '<artifacts>/artifacts/*/plan/*'],
      },
      {
        Effect: 'Allow',
        Action: ['s3:DeleteObject', 's3:PutObject'],
        Resource: ['<state>/stepform/state/*.tflock'],
      },
      {
        Effect: 'Allow',
        Action: ['s3:PutObject'],
        Resource: ['<artifacts>/artifacts/*/plan/*'],
      },
      {
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: ['<state>', '<artifacts>'],
      },
    ]);
  });

  it('let an apply job read and write the states and every artifact', () => {
    const built = synth({ stateKeyPrefix: 'tf' });
    expect(s3Statements(built, built.pipeline.applyJobRole)).toEqual([
      {
        Effect: 'Allow',
        Action: ['s3:DeleteObject', 's3:GetObject', 's3:PutObject'],
        Resource: ['<state>/tf/*', '<artifacts>/artifacts/*'],
      },
      {
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: ['<state>', '<artifacts>'],
      },
    ]);
  });
});

describe('the approval endpoint in the artifacts bucket', () => {
  it('reads only the plan diffs (no secret in them), never a plan or a log', () => {
    const built = synth({});
    const { stack, pipeline, statementsOf } = built;
    const role = pipeline.functions.ApprovalCallback.role as iam.Role;
    const names = {
      [stack.getLogicalId(pipeline.artifactsBucket.node.defaultChild as never)]: 'artifacts',
    };
    const s3 = statementsOf(role)
      .filter((s) => [s.Action].flat().some((a) => a.startsWith('s3:')))
      .map((s) => ({
        Action: [s.Action].flat().sort(),
        Resource: [s.Resource].flat().map((r) => arnText(r, names)),
      }));
    expect(s3).toEqual([
      { Action: ['s3:GetObject'], Resource: ['<artifacts>/artifacts/*/plan-diff.json'] },
      { Action: ['s3:ListBucket'], Resource: ['<artifacts>'] },
    ]);
  });
});

describe('the GitHub credentials secret', () => {
  const built = synth({ github: { repository: 'acme/infra' } });
  const { stack, pipeline, statementsOf, environmentOf } = built;
  const actionsOf = (statements: Statement[], service: string) =>
    statements.filter((s) => [s.Action].flat().some((a) => a.startsWith(`${service}:`)));

  it('reaches the jobs only as clone tokens: they may invoke the GitHubToken function, never read the secret', () => {
    const tokenFunction = stack.resolve(pipeline.functions.GitHubToken.functionArn) as unknown;
    for (const [role, definition] of [
      [pipeline.planJobRole, pipeline.planJobDefinition],
      [pipeline.applyJobRole, pipeline.applyJobDefinition],
    ] as const) {
      expect(environmentOf(definition).STEPFORM_GITHUB_TOKEN_FUNCTION).toEqual(tokenFunction);
      const statements = statementsOf(role);
      expect(actionsOf(statements, 'lambda')).toEqual([
        {
          Sid: 'CloneToken',
          Effect: 'Allow',
          Action: 'lambda:InvokeFunction',
          Resource: tokenFunction,
        },
      ]);
      expect(actionsOf(statements, 'secretsmanager')).toEqual([]);
      expect(actionsOf(statements, 'kms')).toEqual([]);
    }
  });

  it('is read by the functions that call GitHub and by the GitHubToken function only', () => {
    const secret = stack.resolve(pipeline.githubTokenSecret.secretArn) as unknown;
    const readers = Object.entries(pipeline.functions)
      .filter(([, fn]) =>
        actionsOf(statementsOf(fn.role as iam.Role), 'secretsmanager').some(
          (s) =>
            [s.Action].flat().includes('secretsmanager:GetSecretValue') &&
            JSON.stringify([s.Resource].flat()).includes(JSON.stringify(secret)),
        ),
      )
      .map(([name]) => name)
      .sort();
    expect(readers).toEqual([
      'ExecutionEnded',
      'GitHubToken',
      'Notify',
      'PrepareRun',
      'RequestApproval',
    ]);
  });
});

describe('the GitHub roles', () => {
  const executionActions = (built: ReturnType<typeof synth>, role: iam.Role | undefined) => {
    if (!role) throw new Error('no such role');
    const byAction: Record<string, string[]> = {};
    for (const s of built.statementsOf(role)) {
      for (const action of [s.Action].flat()) {
        byAction[action] = [
          ...(byAction[action] ?? []),
          ...[s.Resource].flat().map((r) => arnText(r, {})),
        ].sort();
      }
    }
    return byAction;
  };
  const ARN = 'arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}';

  it('may stop only executions the action started, of the machines each role may start', () => {
    const built = synth({ github: { repository: 'acme/infra' } });
    const { pullRequest, defaultBranch, dispatch } = built.pipeline.githubRoles;

    expect(executionActions(built, pullRequest)).toEqual({
      'states:StartExecution': [
        `\${${built.stack.getLogicalId(built.pipeline.stateMachines.plan.node.defaultChild as never)}}`,
      ],
      'states:DescribeExecution': [`${ARN}:execution:Test-plan:*`],
      'states:GetExecutionHistory': [`${ARN}:execution:Test-plan:*`],
      'states:StopExecution': [`${ARN}:execution:Test-plan:gh-*`],
    });
    expect(executionActions(built, defaultBranch)['states:StopExecution']).toEqual([
      `${ARN}:execution:Test-plan-apply:gh-*`,
      `${ARN}:execution:Test-plan:gh-*`,
    ]);
    expect(executionActions(built, dispatch)['states:StopExecution']).toEqual([
      `${ARN}:execution:Test-command:gh-*`,
      `${ARN}:execution:Test-destroy:gh-*`,
      `${ARN}:execution:Test-ephemeral:gh-*`,
      `${ARN}:execution:Test-ttl:gh-*`,
    ]);
  });

  it('are the way to give a pipeline its repository: without one, a warning says every run is refused', () => {
    const without = synth({});
    const withRepository = synth({ github: { repository: 'acme/infra' } });
    const warning = Match.stringLikeRegexp('PrepareRun refuses every run');

    Annotations.fromStack(without.stack).hasWarning('/Test/P', warning);
    Annotations.fromStack(withRepository.stack).hasNoWarning('*', warning);
    const environment = (built: ReturnType<typeof synth>) =>
      JSON.stringify(
        built.template.findResources('AWS::Lambda::Function', {
          Properties: { Environment: { Variables: { GITHUB_REPOSITORY: 'acme/infra' } } },
        }),
      );
    expect(environment(withRepository)).toContain('PrepareRun');
    expect(environment(without)).toBe('{}');
  });

  it("names the action's executions as the roles expect them", () => {
    const name = executionName({
      runId: '123',
      runAttempt: '1',
      workflow: 'plan',
      environment: 'prod',
      projectDir: 'infra',
    });
    expect(name.startsWith(ACTION_EXECUTION_PREFIX)).toBe(true);
  });
});
