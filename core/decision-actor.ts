// Who decided an approval, when, and where: the `actor` the status event, the Slack message,
// the PR comment, the git note and `stepform logs` show for every phase after the decision.
// Read from the run's approval record, so every engine and every channel agree. Pure.
import { z } from 'zod';

/** Where a decision was made: the approval page (a signed link), the CLI, Slack's buttons. */
export const APPROVAL_CHANNELS = ['web', 'cli', 'slack'] as const;
export type ApprovalChannel = (typeof APPROVAL_CHANNELS)[number];

export const DECISION_ACTOR = z
  .strictObject({
    name: z.string().min(1).max(256).describe('Who decided (an approver name or e-mail).'),
    at: z.iso.datetime({ offset: true }).describe('When the decision was made (ISO-8601).'),
    channel: z
      .enum(APPROVAL_CHANNELS)
      .optional()
      .describe(
        'Where: web (the approval page of a link), cli (stepform approve / reject), slack (its buttons). Absent for a decision recorded before channels were.',
      ),
    reason: z
      .string()
      .min(1)
      .max(1000)
      .optional()
      .describe("Why, in the decider's words: always given for a policy override."),
  })
  .describe("Who decided the run's approval, once it is decided (approved or rejected).");
export type DecisionActor = z.output<typeof DECISION_ACTOR>;

/** The parts of an approval record the actor comes from. */
export interface DecidedFields {
  readonly status: string;
  readonly decidedBy?: string | undefined;
  readonly decidedAt?: string | undefined;
  readonly decidedVia?: ApprovalChannel | undefined;
  readonly reason?: string | undefined;
}

/** The actor of an approved or rejected record; undefined while pending, or when it expired. */
export function decisionActor(record: DecidedFields | undefined): DecisionActor | undefined {
  if (record === undefined || (record.status !== 'approved' && record.status !== 'rejected'))
    return undefined;
  const parsed = DECISION_ACTOR.safeParse({
    name: record.decidedBy,
    at: record.decidedAt,
    ...(record.decidedVia === undefined ? {} : { channel: record.decidedVia }),
    ...(record.reason === undefined ? {} : { reason: record.reason }),
  });
  return parsed.success ? parsed.data : undefined;
}

const CHANNEL_NAMES: Readonly<Record<ApprovalChannel, string>> = {
  web: 'the approval page',
  cli: 'the CLI',
  slack: 'Slack',
};

/** `alice via the CLI at 2026-…`: the actor in a sentence (after "approved by" / "rejected by"). */
export function actorText(actor: DecisionActor): string {
  const via = actor.channel === undefined ? '' : ` via ${CHANNEL_NAMES[actor.channel]}`;
  return `${actor.name}${via} at ${actor.at}`;
}

/** `Approved by alice via the CLI at …` / `Rejected by …`, from the decided status. */
export function decisionSentence(status: 'approved' | 'rejected', actor: DecisionActor): string {
  return `${status === 'approved' ? 'Approved' : 'Rejected'} by ${actorText(actor)}`;
}

/**
 * `Policy overridden by alice via the CLI at …: “reason”` / `Policy override refused by …`:
 * an owner's decision on a blocking policy, in a sentence.
 */
export function overrideSentence(status: 'approved' | 'rejected', actor: DecisionActor): string {
  const why = actor.reason === undefined ? '' : `: “${actor.reason}”`;
  return `${status === 'approved' ? 'Policy overridden' : 'Policy override refused'} by ${actorText(actor)}${why}`;
}

/** The actor of a run's policy override, as the workflow carries it in the run. */
export function overrideActor(override: {
  readonly approvedBy: string;
  readonly decidedAt: string;
  readonly via?: ApprovalChannel | undefined;
  readonly reason: string;
}): DecisionActor {
  return {
    name: override.approvedBy,
    at: override.decidedAt,
    ...(override.via === undefined ? {} : { channel: override.via }),
    reason: override.reason,
  };
}
