// The input of every workflow execution: what the action, the CLI and a schedule start a run
// with, validated once by PrepareRun (and by each caller before it starts one).
import { z } from 'zod';
import { DEFAULT_TTL_BOUNDS } from '../duration.ts';
import { commandProblem } from '../terraform-commands.ts';
import { COMMIT_SHA, ENVIRONMENT_NAME, PROJECT_DIR, REPOSITORY, RUN_ID } from './job-input.ts';

export const WORKFLOWS = ['plan', 'plan-apply', 'ephemeral', 'destroy', 'ttl', 'command'] as const;
export type Workflow = (typeof WORKFLOWS)[number];

/** The longest an approval may wait: the workflows' execution timeouts are sized for it. */
export const MAX_APPROVAL_TIMEOUT_SECONDS = 7 * 24 * 3600;

/**
 * The longest TTL a run may carry: the longest DEFAULT_TTL_BOUNDS allows (core/duration.ts),
 * which every caller parses a duration with, so that a TTL that got past one is never refused
 * by the workflow it starts.
 */
export const MAX_TTL_SECONDS = DEFAULT_TTL_BOUNDS.maxMs / 1000;

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
    /** Ephemeral and ttl runs: how long from now until the scheduled destroy. */
    ttlSeconds: z.number().int().min(1).max(MAX_TTL_SECONDS).optional(),
    /** ttl runs only: keep the environment until it is destroyed by hand. */
    cancelTtl: z.literal(true).optional(),
    /** command runs only (and required there): the allowlisted command and its arguments. */
    args: z.array(z.string()).min(1).max(8).optional(),
    pullRequest: z.number().int().positive().optional(),
  })
  .superRefine((run, ctx) => {
    const issue = (path: string, message: string) =>
      ctx.addIssue({ code: 'custom', path: [path], message });
    if (run.workflow === 'ephemeral' && run.ttlSeconds === undefined)
      issue('ttlSeconds', 'an ephemeral environment needs a TTL');
    if (run.workflow === 'ttl' && (run.ttlSeconds === undefined) === (run.cancelTtl === undefined))
      issue('ttlSeconds', 'a ttl run has exactly one of ttlSeconds and cancelTtl');
    if (run.workflow !== 'ttl' && run.cancelTtl !== undefined)
      issue('cancelTtl', 'is for ttl runs only');
    if (run.workflow === 'command') {
      if (run.args === undefined) issue('args', 'a command run needs the command to run');
      else {
        const problem = commandProblem(run.args);
        if (problem !== undefined) issue('args', problem);
      }
    } else if (run.args !== undefined) issue('args', 'is for command runs only');
  });
export type RunContext = z.output<typeof RUN_INPUT>;
export type RunInput = z.input<typeof RUN_INPUT>;
