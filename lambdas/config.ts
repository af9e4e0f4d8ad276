// The Lambdas' configuration: environment variables set by the CDK stack, read once and
// validated here (a missing or malformed one is named), never inside core code.
import { z } from 'zod';
import { parseInput } from '../core/validation.ts';

const ARN = z.string().regex(/^arn:aws[a-z-]*:/, 'must be an ARN');

export const LAMBDA_CONFIG = z.looseObject({
  AWS_REGION: z.string().min(1),
  TABLE_NAME: z.string().min(1),
  ARTIFACTS_BUCKET: z.string().min(3),
  ARTIFACTS_KMS_KEY_ID: z.string().optional(),
  STATE_BUCKET: z.string().min(3),
  STATE_KEY_PREFIX: z.string().default('stepform/state'),
  STATUS_QUEUE_URL: z.url().endsWith('.fifo'),
  /** The approval endpoint's URL; RequestApproval needs it to make links. */
  APPROVAL_URL: z.url().optional(),
  SIGNING_KEY_SECRET_ID: z.string().min(1),
  SLACK_WEBHOOK_SECRET_ID: z.string().min(1).optional(),
  SLACK_SIGNING_SECRET_ID: z.string().min(1).optional(),
  GITHUB_TOKEN_SECRET_ID: z.string().min(1).optional(),
  /** owner/name of the repository the pipeline serves. */
  GITHUB_REPOSITORY: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'must be owner/name')
    .optional(),
  SCHEDULE_GROUP: z.string().min(1),
  DESTROY_STATE_MACHINE_ARN: ARN,
  SCHEDULER_ROLE_ARN: ARN,
  /** Comma-separated approver names; unset lets anyone holding a link decide. */
  APPROVERS: z.string().optional(),
  /** "true" lets a run skip approval (autoApprove); off by default, so nobody can. */
  ALLOW_AUTO_APPROVE: z.enum(['true', 'false']).default('false'),
});
export type LambdaConfig = z.output<typeof LAMBDA_CONFIG>;

export function readConfig(env: Readonly<Record<string, string | undefined>>): LambdaConfig {
  return parseInput(LAMBDA_CONFIG, env, 'env');
}

export function approvers(config: LambdaConfig): string[] | undefined {
  const list = config.APPROVERS?.split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  return list && list.length > 0 ? list : undefined;
}
