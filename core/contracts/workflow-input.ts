// The input of every workflow execution: what the action, the CLI and a schedule start a run
// with, validated once by PrepareRun (and by each caller before it starts one).
import { z } from 'zod';
import { COMMIT_SHA, ENVIRONMENT_NAME, PROJECT_DIR, REPOSITORY, RUN_ID } from './job-input.ts';

export const WORKFLOWS = ['plan', 'plan-apply', 'ephemeral', 'destroy'] as const;
export type Workflow = (typeof WORKFLOWS)[number];

/** The longest an approval may wait: the workflows' execution timeouts are sized for it. */
export const MAX_APPROVAL_TIMEOUT_SECONDS = 7 * 24 * 3600;

export const RUN_INPUT = z
  .strictObject({
    runId: RUN_ID,
    workflow: z.enum(WORKFLOWS),
    repository: REPOSITORY,
    commit: COMMIT_SHA,
    projectDir: PROJECT_DIR,
    environment: ENVIRONMENT_NAME,
    /** Skip the approval step (the CLI's --auto-approve). */
    autoApprove: z.boolean().default(false),
    approvalTimeoutSeconds: z.number().int().min(1).max(MAX_APPROVAL_TIMEOUT_SECONDS).default(3600),
    /** Ephemeral environments only: how long until the scheduled destroy. */
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(90 * 24 * 3600)
      .optional(),
    pullRequest: z.number().int().positive().optional(),
  })
  .refine((run) => run.workflow !== 'ephemeral' || run.ttlSeconds !== undefined, {
    message: 'an ephemeral environment needs a TTL',
    path: ['ttlSeconds'],
  });
export type RunContext = z.output<typeof RUN_INPUT>;
export type RunInput = z.input<typeof RUN_INPUT>;
