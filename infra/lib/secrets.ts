// The deployment's secrets: the GitHub credentials (a GitHub App's JSON or a token) and the
// Slack webhook URL (created with a random placeholder; docs/deploy.md says how to set them,
// and until then GitHub and Slack notifications fail, reported, never fatal, every plan-apply
// is refused: its default-branch check needs GitHub, and jobs clone without credentials), the key that signs approval links, and with Slack
// interactivity the Slack app's signing secret (which proves who clicked a button).
import { RemovalPolicy } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { DataRemovalProps } from './common-props.ts';
import { acknowledge } from './nag.ts';

export interface StepformSecretsProps extends DataRemovalProps {
  /**
   * Slack interactivity: the approval endpoint takes the Slack app's signed button clicks at
   * `/slack/actions`, deciding as the Slack user who clicked. Creates the secret that holds
   * the app's signing secret (set it after the first deploy). Needed by an approver list.
   * @default false
   */
  readonly slackInteractivity?: boolean;
}

export class StepformSecrets extends Construct {
  /**
   * The GitHub credentials: a GitHub App's JSON `{"appId", "installationId", "privateKey"}`
   * (optionally `"apiUrl"` for GitHub Enterprise), or a personal access token (core/github-credentials.ts).
   * Its construct id predates the App: kept so that deployed stacks keep their secret.
   */
  readonly githubTokenSecret: secretsmanager.Secret;
  readonly slackWebhookSecret: secretsmanager.Secret;
  readonly signingKeySecret: secretsmanager.Secret;
  /** The Slack app's signing secret; only with slackInteractivity. */
  readonly slackSigningSecret?: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: StepformSecretsProps = {}) {
    super(scope, id);
    const removalPolicy = props.dataRemovalPolicy ?? RemovalPolicy.RETAIN;
    const rotationReason =
      'An externally issued token: it is rotated where it is issued (GitHub, Slack), then put here.';
    this.githubTokenSecret = new secretsmanager.Secret(this, 'GitHubTokenSecret', {
      description:
        'Stepform: GitHub App credentials as JSON {"appId","installationId","privateKey"}, or a GitHub token (PR comments, statuses, deployments, merge check, private clones). Set it after the first deploy.',
      removalPolicy,
    });
    acknowledge(this.githubTokenSecret, { id: 'AwsSolutions-SMG4', reason: rotationReason });
    this.slackWebhookSecret = new secretsmanager.Secret(this, 'SlackWebhookSecret', {
      description: 'Stepform: Slack incoming-webhook URL. Set it after the first deploy.',
      removalPolicy,
    });
    acknowledge(this.slackWebhookSecret, { id: 'AwsSolutions-SMG4', reason: rotationReason });
    this.signingKeySecret = new secretsmanager.Secret(this, 'ApprovalSigningKey', {
      description: 'Stepform: HMAC key that signs approval links (generated at deploy).',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy,
    });
    acknowledge(this.signingKeySecret, {
      id: 'AwsSolutions-SMG4',
      reason:
        'Rotating the signing key invalidates every pending approval link; rotate by hand between runs (docs/deploy.md).',
    });
    if (props.slackInteractivity === true) {
      this.slackSigningSecret = new secretsmanager.Secret(this, 'SlackSigningSecret', {
        description:
          "Stepform: the Slack app's signing secret (interactive approve / reject buttons). Set it after the first deploy.",
        removalPolicy,
      });
      acknowledge(this.slackSigningSecret, { id: 'AwsSolutions-SMG4', reason: rotationReason });
    }
  }
}
