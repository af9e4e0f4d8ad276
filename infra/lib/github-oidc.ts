// GitHub Actions' way in: the OIDC provider (or the account's existing one) and one role per
// kind of job, each allowed to start only its workflows: pull requests `plan`, pushes to the
// default branch `plan` and `plan-apply`, jobs in the dispatch environment the manual ones:
// `ephemeral`, `destroy`, `ttl` and `command`.
import { Duration, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { Workflow } from '../../state-machines/workflows.ts';
import { invalidProps } from './common-props.ts';
import { acknowledgeWildcardResources } from './nag.ts';
import type { StateMachineNames } from './state-machine-names.ts';

const ISSUER = 'token.actions.githubusercontent.com';
/**
 * How the action names the executions it starts (github-action/src/execution.ts,
 * `executionName`): the roles may stop only executions named so.
 */
export const ACTION_EXECUTION_PREFIX = 'gh-';
const REPOSITORY = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const BRANCH = /^[A-Za-z0-9._/-]+$/;
const ENVIRONMENT = /^[A-Za-z0-9._-]+$/;
const PROVIDER_ARN =
  /^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/;

/** The GitHub side: who may start which workflow. */
export interface GitHubOidcProps {
  /** The repository, `owner/name`. */
  readonly repository: string;
  /**
   * The branch whose pushes may start `plan-apply`.
   * @default 'main'
   */
  readonly defaultBranch?: string;
  /**
   * The ARN of an existing `token.actions.githubusercontent.com` OIDC provider (an account
   * has at most one per URL).
   * @default - a new provider is created
   */
  readonly existingProviderArn?: string;
  /**
   * The GitHub environment that the manual (workflow_dispatch) jobs run in; its role may
   * start `ephemeral` and `destroy`. Protect it in GitHub (required reviewers, branches).
   * @default 'stepform-dispatch'
   */
  readonly dispatchEnvironment?: string;
}

export interface GitHubOidcRolesProps extends GitHubOidcProps {
  /** The machines the roles may start (and watch, and stop). */
  readonly stateMachines: Readonly<Record<Workflow, sfn.IStateMachine>>;
  /** Their names, for the executions the roles may watch. */
  readonly stateMachineNames: StateMachineNames;
}

export type GitHubRoleName = 'pullRequest' | 'defaultBranch' | 'dispatch';

export class GitHubOidcRoles extends Construct {
  readonly roles: Readonly<Record<GitHubRoleName, iam.Role>>;

  constructor(scope: Construct, id: string, props: GitHubOidcRolesProps) {
    super(scope, id);
    validate(props);
    const providerArn =
      props.existingProviderArn ??
      new iam.OidcProviderNative(this, 'GitHubOidcProvider', {
        url: `https://${ISSUER}`,
        clientIds: ['sts.amazonaws.com'],
      }).oidcProviderArn;
    const repo = props.repository;
    const branch = props.defaultBranch ?? 'main';
    const environment = props.dispatchEnvironment ?? 'stepform-dispatch';
    const names = props.stateMachineNames;
    const role = (id: string, subject: string, workflows: Workflow[], description: string) => {
      const r = new iam.Role(this, id, {
        description,
        maxSessionDuration: Duration.hours(1),
        assumedBy: new iam.FederatedPrincipal(
          providerArn,
          {
            StringEquals: { [`${ISSUER}:aud`]: 'sts.amazonaws.com', [`${ISSUER}:sub`]: subject },
          },
          'sts:AssumeRoleWithWebIdentity',
        ),
      });
      r.addToPolicy(
        new iam.PolicyStatement({
          sid: 'StartWorkflows',
          actions: ['states:StartExecution'],
          resources: workflows.map((w) => props.stateMachines[w].stateMachineArn),
        }),
      );
      const executions = workflows.map((w) => names.executionsArn(w));
      r.addToPolicy(
        new iam.PolicyStatement({
          sid: 'WatchExecutions',
          actions: ['states:DescribeExecution', 'states:GetExecutionHistory'],
          resources: executions,
        }),
      );
      // The action stops the execution it started when its job is cancelled. IAM cannot say
      // "the one this job started" (GitHub's OIDC token carries no session tags), so: only
      // executions of the machines this role may start, and only those the action names
      // (never a TTL schedule's destroy, nor a run started from the CLI).
      const stoppable = workflows.map((w) => names.executionsArn(w, ACTION_EXECUTION_PREFIX));
      r.addToPolicy(
        new iam.PolicyStatement({
          sid: 'StopActionExecutions',
          actions: ['states:StopExecution'],
          resources: stoppable,
        }),
      );
      acknowledgeWildcardResources(
        r,
        'Executions of the named state machines only (execution names are run ids, unknown in advance).',
        [...executions, ...stoppable],
      );
      return r;
    };
    this.roles = {
      pullRequest: role(
        'GitHubPullRequestRole',
        `repo:${repo}:pull_request`,
        ['plan'],
        `Stepform: pull requests of ${repo} may start plan only`,
      ),
      defaultBranch: role(
        'GitHubDefaultBranchRole',
        `repo:${repo}:ref:refs/heads/${branch}`,
        ['plan', 'plan-apply'],
        `Stepform: pushes to ${repo}@${branch} may start plan and plan-apply`,
      ),
      dispatch: role(
        'GitHubDispatchRole',
        `repo:${repo}:environment:${environment}`,
        // The manual workflows: never a pull request's (it could move a TTL or rm state).
        ['ephemeral', 'destroy', 'ttl', 'command'],
        `Stepform: jobs of ${repo} in the ${environment} environment may start ephemeral, destroy, ttl and command`,
      ),
    };
  }
}

function validate(props: GitHubOidcProps): void {
  const fail: (message: string) => never = (message) => invalidProps('GitHubOidcRoles', message);
  if (!REPOSITORY.test(props.repository))
    fail(`repository must be owner/name, got "${props.repository}"`);
  if (props.defaultBranch !== undefined && !BRANCH.test(props.defaultBranch)) {
    fail(`defaultBranch "${props.defaultBranch}" is not a branch name`);
  }
  if (props.dispatchEnvironment !== undefined && !ENVIRONMENT.test(props.dispatchEnvironment)) {
    fail(`dispatchEnvironment "${props.dispatchEnvironment}" is not an environment name`);
  }
  const arn = props.existingProviderArn;
  if (arn !== undefined && !Token.isUnresolved(arn) && !PROVIDER_ARN.test(arn)) {
    fail(
      'existingProviderArn must be the ARN of the token.actions.githubusercontent.com OIDC provider',
    );
  }
}
