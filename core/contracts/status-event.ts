// The status event: one per phase of a run, sent to SQS (FIFO, one message group per
// environment) and written to the local outbox. Consumers read `schemaVersion` first (2: the
// run's projects in `projects`; schemas/status-event.schema.json describes it). Pure, apart
// from node:crypto.
import { CHANGE_COUNTS, type ChangeCounts } from './job-result.ts';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parseInput } from '../validation.ts';
import { cutText } from '../text.ts';
import { COMMIT_SHA, ENVIRONMENT_NAME, RUN_ID } from './job-input.ts';
import { MAX_RUN_PROJECTS, WORKFLOWS, type Workflow } from './workflow-input.ts';
import { DECISION_ACTOR, type DecisionActor } from '../decision-actor.ts';

export const PHASES = [
  'started',
  'planned',
  'no_changes',
  // A policy set with `on_failure: block` failed on a plan: stopped before the approval
  // (when no owner may override it, or the override was refused or never came).
  'policy_failed',
  // A blocking policy failed, and the policies' owners are asked whether to override it.
  'awaiting_policy_override',
  // An owner overrode it (actor: who, when, where, why); the plan goes on to its approval.
  'policy_overridden',
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
  // A drift run: a project's plan of its last applied commit has changes (drifted), or had
  // them at the previous check and has none now (drift_cleared).
  'drifted',
  'drift_cleared',
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
  drifted: '🌊',
  drift_cleared: '✅',
  policy_failed: '🚫',
  awaiting_policy_override: '🛡️',
  policy_overridden: '⚠️',
};

/** Longer messages are cut by statusEvent, so an event stays far below SQS's 256 KiB. */
export const STATUS_MESSAGE_LIMIT = 4_000;

/** The version consumers read first; 2 replaced version 1's `project` and `summary` by `projects`. */
export const STATUS_EVENT_SCHEMA_VERSION = 2;

/** A project of the run, as an event tells of it. */
export const STATUS_EVENT_PROJECT = z.strictObject({
  /** Its name in stepform.yaml; without one, its folder (as long as a dir may be). */
  name: z.string().min(1).max(1024),
  dir: z
    .string()
    .max(1024)
    .regex(
      /^(\.|[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*)$/,
      'must be a relative path inside the repository',
    ),
  /** Its counts, once planned. */
  summary: CHANGE_COUNTS.optional().describe("Its plan's counts, when known."),
  /** Its own status when known (planned, applied, rolled_back, not_started, destroyed…). */
  status: z
    .string()
    .min(1)
    .max(32)
    .optional()
    .describe(
      'Its own status, when known: planned, no_changes, applied, failed, rolled_back, rollback_failed, not_started, destroyed, destroy_failed.',
    ),
});

export const STATUS_EVENT = z.strictObject({
  schemaVersion: z.literal(STATUS_EVENT_SCHEMA_VERSION),
  runId: RUN_ID,
  workflow: z.enum(WORKFLOWS),
  environment: ENVIRONMENT_NAME,
  /** The projects the event is about: the run's (a run of one project: its one). */
  projects: z
    .array(STATUS_EVENT_PROJECT)
    .min(1)
    .max(MAX_RUN_PROJECTS)
    .describe(
      "The projects the event is about: the run's (one, named after its folder, without stepform.yaml), or the one project a step of the run is about (rolling_back).",
    ),
  commit: COMMIT_SHA,
  phase: z.enum(PHASES),
  url: z.url({ protocol: /^https?$/ }).optional(),
  message: z.string().max(STATUS_MESSAGE_LIMIT).optional(),
  /** On every event after the run's approval was decided (additive: still version 2). */
  actor: DECISION_ACTOR.optional(),
  at: z.iso.datetime({ offset: true }),
});
export type StatusEvent = z.output<typeof STATUS_EVENT>;

export interface StatusEventProjectFields {
  readonly name: string;
  readonly dir: string;
  /** Only add, change and destroy are kept (a full plan summary may be passed). */
  readonly summary?: ChangeCounts | undefined;
  readonly status?: string | undefined;
}

export interface StatusEventFields {
  readonly runId: string;
  readonly workflow: Workflow;
  readonly environment: string;
  readonly projects: readonly StatusEventProjectFields[];
  readonly commit: string;
  readonly phase: Phase;
  readonly url?: string;
  readonly message?: string;
  readonly actor?: DecisionActor;
}

/** Builds and validates an event (InvalidInput names the bad field under `event`). */
export function statusEvent(fields: StatusEventFields, now: Date): StatusEvent {
  const { message, url } = fields;
  return parseInput(
    STATUS_EVENT,
    {
      schemaVersion: STATUS_EVENT_SCHEMA_VERSION,
      runId: fields.runId,
      workflow: fields.workflow,
      environment: fields.environment,
      projects: fields.projects.map(({ name, dir, summary, status }) => ({
        name,
        dir,
        ...(summary === undefined
          ? {}
          : { summary: { add: summary.add, change: summary.change, destroy: summary.destroy } }),
        ...(status === undefined ? {} : { status }),
      })),
      commit: fields.commit,
      phase: fields.phase,
      ...(url === undefined ? {} : { url }),
      ...(message === undefined
        ? {}
        : {
            message: cutText(message, STATUS_MESSAGE_LIMIT),
          }),
      ...(fields.actor === undefined ? {} : { actor: fields.actor }),
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

/**
 * The FIFO deduplication id: one event per run, phase and projects, however often it is
 * retried. The projects count because a run of several projects tells of one of them on its
 * own (rolling_back, from inside the apply's Map): two projects rolling back in one run are
 * two events, where run and phase alone would have SQS drop the second.
 */
export function deduplicationId(
  event: Pick<StatusEvent, 'runId' | 'phase'> & { readonly projects: readonly { name: string }[] },
): string {
  return sqsId(`${event.runId}:${event.phase}:${event.projects.map((p) => p.name).join(',')}`);
}

/**
 * The FIFO message group: events of one environment are delivered in order, and
 * environments do not wait on each other. It stays the environment, not a project: an event
 * names several projects (no one of them could be its group), a run holds its environment's
 * projects together from start to end, and a consumer deciding on an environment (a
 * dashboard, a promotion gate) needs its runs' phases in the order they happened.
 */
export function messageGroupId(environment: string): string {
  return sqsId(environment);
}
