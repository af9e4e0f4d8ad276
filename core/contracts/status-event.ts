// The status event: one per phase of a run, sent to SQS (FIFO, one message group per
// environment) and written to the local outbox. Consumers read `schemaVersion` first. Pure,
// apart from node:crypto.
import { CHANGE_COUNTS, type ChangeCounts } from './job-result.ts';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parseInput } from '../validation.ts';
import { cutText } from '../text.ts';
import { COMMIT_SHA, ENVIRONMENT_NAME, RUN_ID } from './job-input.ts';
import { MAX_RUN_PROJECTS, WORKFLOWS, type Workflow } from './workflow-input.ts';

export const PHASES = [
  'started',
  'planned',
  'no_changes',
  'awaiting_approval',
  'approved',
  'rejected',
  'expired',
  'applying',
  'applied',
  'failed',
  'rolling_back',
  'rolled_back',
  // The rollback's own job failed: the environment is in neither commit's state.
  'rollback_failed',
  'destroying',
  'destroyed',
  'ttl_changed',
  // A `command` run's command ran (its masked output is in the run's details and log).
  'command_completed',
  // Stopped on purpose (Ctrl-C, SIGTERM, `stepform cancel`): lock released, approval expired.
  // (A run whose process died is closed by the next command as `failed`, RunInterrupted.)
  'cancelled',
] as const;
export type Phase = (typeof PHASES)[number];

/** One icon per phase, for Slack and the PR comment alike. */
export const PHASE_ICONS: Readonly<Record<Phase, string>> = {
  started: '🚀',
  planned: '📋',
  no_changes: '✅',
  awaiting_approval: '⏳',
  approved: '👍',
  rejected: '⛔',
  expired: '⌛',
  applying: '⏳',
  applied: '✅',
  failed: '❌',
  rolling_back: '↩️',
  rolled_back: '↩️',
  rollback_failed: '🚨',
  destroying: '⏳',
  destroyed: '🗑️',
  ttl_changed: '⏱️',
  command_completed: '🔧',
  cancelled: '🛑',
};

/** Longer messages are cut by statusEvent, so an event stays far below SQS's 256 KiB. */
export const STATUS_MESSAGE_LIMIT = 4_000;

export const STATUS_EVENT = z.strictObject({
  schemaVersion: z.literal(1),
  runId: RUN_ID,
  workflow: z.enum(WORKFLOWS),
  environment: ENVIRONMENT_NAME,
  project: z
    .string()
    .regex(
      /^(\.|[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*)$/,
      'must be a relative path inside the repository',
    ),
  commit: COMMIT_SHA,
  phase: z.enum(PHASES),
  summary: CHANGE_COUNTS.optional(),
  /** A run of projects: each one's name, folder, status and counts (`summary` adds them up). */
  projects: z
    .array(
      z.strictObject({
        // Its name in stepform.yaml, or without one its folder (as long as a dir may be).
        name: z.string().min(1).max(1024),
        dir: z.string().min(1).max(1024),
        status: z.string().min(1).max(32),
        summary: CHANGE_COUNTS,
      }),
    )
    .max(MAX_RUN_PROJECTS)
    .optional(),
  url: z.url({ protocol: /^https?$/ }).optional(),
  message: z.string().max(STATUS_MESSAGE_LIMIT).optional(),
  at: z.iso.datetime({ offset: true }),
});
export type StatusEvent = z.output<typeof STATUS_EVENT>;

export interface StatusEventFields {
  readonly runId: string;
  readonly workflow: Workflow;
  readonly environment: string;
  readonly project: string;
  readonly commit: string;
  readonly phase: Phase;
  /** Only add, change and destroy are kept (a full plan summary may be passed). */
  readonly summary?: ChangeCounts;
  readonly projects?: readonly {
    readonly name: string;
    readonly dir: string;
    readonly status: string;
    readonly summary: ChangeCounts;
  }[];
  readonly url?: string;
  readonly message?: string;
}

/** Builds and validates an event (InvalidInput names the bad field under `event`). */
export function statusEvent(fields: StatusEventFields, now: Date): StatusEvent {
  const { summary, message, url, projects } = fields;
  return parseInput(
    STATUS_EVENT,
    {
      schemaVersion: 1,
      runId: fields.runId,
      workflow: fields.workflow,
      environment: fields.environment,
      project: fields.project,
      commit: fields.commit,
      phase: fields.phase,
      ...(summary === undefined
        ? {}
        : { summary: { add: summary.add, change: summary.change, destroy: summary.destroy } }),
      ...(projects === undefined
        ? {}
        : {
            projects: projects.map((p) => ({
              name: p.name,
              dir: p.dir,
              status: p.status,
              summary: { add: p.summary.add, change: p.summary.change, destroy: p.summary.destroy },
            })),
          }),
      ...(url === undefined ? {} : { url }),
      ...(message === undefined
        ? {}
        : {
            message: cutText(message, STATUS_MESSAGE_LIMIT),
          }),
      at: Number.isFinite(now.getTime()) ? now.toISOString() : 'invalid date',
    },
    'event',
  );
}

/** SQS allows 1-128 characters of alphanumerics and punctuation in these ids. */
const SQS_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

/** The text itself when SQS accepts it; else a readable prefix and a SHA-256 of the whole. */
function sqsId(raw: string): string {
  if (SQS_ID_PATTERN.test(raw)) return raw;
  const hash = createHash('sha256').update(raw, 'utf8').digest('hex');
  const prefix = raw.replace(/[^\x21-\x7e]/g, '_').slice(0, 128 - hash.length - 1);
  return `${prefix}~${hash}`;
}

/** The FIFO deduplication id: one event per run and phase, however often it is retried. */
export function deduplicationId(runId: string, phase: Phase): string {
  return sqsId(`${runId}:${phase}`);
}

/** The FIFO message group: events of one environment are delivered in order. */
export function messageGroupId(environment: string): string {
  return sqsId(environment);
}
