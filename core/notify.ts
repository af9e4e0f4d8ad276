// The Notify step: the status event, the chat message, and on GitHub the sticky PR comment,
// commit status and deployment. Best effort by design: each channel fails alone and is
// reported; only a status event that cannot be published is an error (NotificationFailed),
// which the workflow retries and then steps over.
import { type ChangeCounts, MASKED_OUTPUT, formatCounts } from './contracts/job-result.ts';
import { dispatchAfterApply, githubRepositoryOf } from './dispatch.ts';
import { z } from 'zod';
import {
  MULTI_PROJECT_WORKFLOWS,
  RUN_INPUT,
  type RunContext,
  runProjects,
  singleProject,
} from './contracts/workflow-input.ts';
import { NotificationFailed, describeError } from './errors.ts';
import {
  type DecisionActor,
  decisionActor,
  decisionSentence,
  overrideActor,
  overrideSentence,
} from './decision-actor.ts';
import type {
  ApprovalPort,
  ArtifactPort,
  ChatMessage,
  ChatPort,
  CodeHostPort,
  CommitState,
  DeploymentState,
  RunPort,
  StatusPort,
} from './ports.ts';
import { commentMarker, renderPrComment } from './pr-comment.ts';
import { environmentCommentMarker, renderEnvironmentComment } from './environment-comment.ts';
import { PHASES, type Phase, type StatusEvent, statusEvent } from './contracts/status-event.ts';
import type { PlanDiff } from './plan-diff.ts';
import { policyField } from './policy-view.ts';
import { PROJECT_POLICY } from './project-results.ts';
import type { SlackDrift, SlackProject } from './slack-message.ts';
import { PLAN_STEP } from './run.ts';
import { parseInput } from './validation.ts';
import {
  COLLECTED_DRIFT,
  type DriftIssueAction,
  type DriftIssueHost,
  reportDriftIssue,
} from './drift.ts';

export const NOTIFY_INPUT = z.looseObject({
  run: RUN_INPUT,
  phase: z.enum(PHASES),
  result: z.looseObject({ resultLocation: z.string() }).optional(),
  /** The applied job's result (plan-apply's outcome): the outputs after_apply sends. */
  apply: z.looseObject({ outputs: z.record(z.string(), MASKED_OUTPUT) }).optional(),
  /** A run of projects (CollectProjects' output): totals, and per project its result. */
  projects: z
    .looseObject({
      summary: z.looseObject({ add: z.number(), change: z.number(), destroy: z.number() }),
      projects: z.array(
        z.looseObject({
          name: z.string(),
          dir: z.string(),
          layer: z.number().int().min(0),
          status: z.string(),
          summary: z.looseObject({ add: z.number(), change: z.number(), destroy: z.number() }),
          resultLocation: z.string().optional(),
          outputs: z.record(z.string(), MASKED_OUTPUT).optional(),
          error: z.looseObject({ name: z.string(), message: z.string() }).optional(),
          policy: PROJECT_POLICY.optional(),
        }),
      ),
    })
    .optional(),
  // A Catch's Cause may be null (moto's interpreter gives null for SendTaskFailure's cause):
  // a rejection is still reported, without one.
  error: z
    .looseObject({
      Error: z.string(),
      Cause: z
        .string()
        .nullish()
        .transform((cause) => cause ?? undefined),
    })
    .optional(),
  /** The rollback target (DecideRollback's plan); its message only once it rolled back. */
  rollback: z.looseObject({ commit: z.string(), message: z.string().optional() }).optional(),
  /** A TTL change: the new destroy time, or null when the destroy was cancelled. */
  schedule: z.looseObject({ fireAt: z.string().nullable() }).optional(),
  /** A command run: the command that will run (awaiting approval) or ran. */
  command: z.looseObject({ name: z.string(), args: z.array(z.string()) }).optional(),
  approval: z.unknown().optional(),
  /** A drift run (CollectDrift's output): each project's check. */
  drift: COLLECTED_DRIFT.optional(),
  links: z.strictObject({ approve: z.string(), reject: z.string() }).optional(),
  /** With the links: lets Slack's interactive buttons name the approval they decide. */
  approvalId: z.string().optional(),
  /** awaiting_policy_override: the blocking sets, and the owners who may override them. */
  policyOverride: z
    .looseObject({ blockedBy: z.array(z.string()), owners: z.array(z.string()) })
    .optional(),
});
export type NotifyInput = z.input<typeof NOTIFY_INPUT>;

export interface NotifyDetail {
  readonly summary?: ChangeCounts;
  readonly error?: { Error: string; Cause?: string | undefined };
  readonly rollback?: { message: string };
  readonly schedule?: { fireAt: string | null };
  readonly command?: { name: string; args: readonly string[] };
  readonly links?: { approve: string; reject: string };
  readonly approvalId?: string;
  /** Each project's counts and resource changes, for the chat message. */
  readonly projects?: readonly SlackProject[];
  /** Who decided the run's approval, on every notice after the decision. */
  readonly actor?: DecisionActor;
  /** A drift run: what each project's check found. */
  readonly drift?: SlackDrift;
  /** The same as a sentence: `Approved by alice via the CLI at …`. */
  readonly decision?: string;
}

export interface NotifyPorts {
  readonly status: StatusPort;
  readonly artifacts: ArtifactPort;
  readonly runs: RunPort;
  readonly chat?: ChatPort;
  /** GitHub, when configured: PR comment, commit status, deployments. */
  readonly codeHost?: CodeHostPort;
  /** Where the PR comment goes when there is no pull request or no code host (a file locally). */
  readonly commentSink?: (runId: string, markdown: string) => Promise<void>;
  /**
   * Sends after_apply's repository_dispatch events: GitHub on AWS, files in the run's folder
   * locally. Without one, nothing is sent.
   */
  readonly dispatcher?: Pick<CodeHostPort, 'dispatchRepositoryEvent'>;
  /** Builds the chat message (Block Kit on Slack); plain text by default. */
  readonly chatMessage?: (run: RunContext, phase: Phase, detail: NotifyDetail) => ChatMessage;
  /** The run's approval, for who decided it (none: no actor is shown). */
  readonly approvals?: Pick<ApprovalPort, 'latestForRun'>;
  /**
   * Where a drift run's issues are kept: the code host's by default; locally without GitHub,
   * files in the Stepform home that outlive the run.
   */
  readonly issues?: DriftIssueHost;
}

/** Phases that come before any decision: no approval record is read for them. */
const UNDECIDED_PHASES: ReadonlySet<Phase> = new Set([
  'started',
  'planned',
  'no_changes',
  'awaiting_policy_override',
  'awaiting_approval',
  'ttl_changed',
]);

/**
 * The run's decisions (who, when, where, and how): its decided approval, if it has one, and
 * the owner's override of a blocking policy that came before it, on every notice after it.
 */
async function decisionOf(
  run: RunContext,
  phase: Phase,
  ports: NotifyPorts,
  report: NotifyReport,
): Promise<Pick<NotifyDetail, 'actor' | 'decision'>> {
  const override =
    run.policyOverride === undefined
      ? undefined
      : overrideSentence('approved', overrideActor(run.policyOverride));
  const overrideOnly = override === undefined ? {} : { decision: override };
  if (ports.approvals === undefined || UNDECIDED_PHASES.has(phase)) return overrideOnly;
  try {
    const approval = await ports.approvals.latestForRun(run.runId);
    const actor = decisionActor(approval);
    if (actor === undefined || approval === undefined) return overrideOnly;
    const status = approval.status === 'approved' ? 'approved' : 'rejected';
    // The override's own record: its sentence, once (the run carries the same decision).
    if (approval.subject?.kind === 'policy_override')
      return { actor, decision: overrideSentence(status, actor) };
    const decided = decisionSentence(status, actor);
    return { actor, decision: override === undefined ? decided : `${override}. ${decided}` };
  } catch (error) {
    // Best effort, as every channel: the notice goes out without its actor.
    report.failed.push(`actor: ${describeError(error).message}`);
    return overrideOnly;
  }
}

export interface NotifyReport {
  delivered: string[];
  failed: string[];
}

/** `Error: Cause`, or the error name alone when the Catch gave no cause. */
function errorText(error: { Error: string; Cause?: string | undefined }): string {
  return error.Cause ? `${error.Error}: ${error.Cause}` : error.Error;
}

/**
 * What a run says about its rollback, true at its phase: "rolled back" only once it has; a
 * rollback under way names the apply's error, and a failed one its own error.
 */
export function rollbackMessage(
  phase: Phase,
  rollback: { readonly commit: string; readonly message?: string | undefined },
  error?: { Error: string; Cause?: string | undefined },
): string {
  const target = `the last good commit ${rollback.commit}`;
  switch (phase) {
    case 'rolling_back':
      return `${error ? `${errorText(error)}; ` : ''}rolling back to ${target}`;
    case 'rollback_failed':
      return `the rollback to ${target} failed${error ? `: ${errorText(error)}` : ''}`;
    default:
      return rollback.message ?? `rollback to ${target}`;
  }
}

/** What a run waiting for a policy override asks, and of whom. */
export function overrideRequest(
  runId: string,
  override: { readonly blockedBy: readonly string[]; readonly owners: readonly string[] },
): string {
  return (
    `Blocked by ${override.blockedBy.join(', ')}: waiting for an override by ${override.owners.join(' or ')}, ` +
    `with a reason (their own link, or \`stepform approve ${runId} --by NAME --reason "…"\`)`
  );
}

/** One status line, as chat and the CLI show it. */
export function statusLine(run: RunContext, phase: Phase, detail: NotifyDetail): string {
  const parts = [
    `${run.workflow} ${run.projectDir} in ${run.environment} @ ${run.commit.slice(0, 12)}: ${phase}`,
  ];
  if (detail.summary) parts.push(formatCounts(detail.summary));
  if (detail.rollback) parts.push(detail.rollback.message);
  else if (detail.error) parts.push(errorText(detail.error));
  if (detail.command)
    parts.push(`terraform ${[detail.command.name, ...detail.command.args].join(' ')}`);
  if (detail.schedule) {
    parts.push(
      detail.schedule.fireAt === null
        ? 'scheduled destroy cancelled: kept until destroyed by hand'
        : `destroy scheduled at ${detail.schedule.fireAt}`,
    );
  }
  return parts.join(' — ');
}

const TERMINAL_COMMIT_STATES: Partial<Record<Phase, CommitState>> = {
  started: 'pending',
  planned: 'success',
  no_changes: 'success',
  applied: 'success',
  command_completed: 'success',
  destroyed: 'success',
  rejected: 'failure',
  expired: 'failure',
  failed: 'failure',
  rolled_back: 'failure',
  rollback_failed: 'failure',
  cancelled: 'failure',
};

const DEPLOYMENT_STATES: Partial<Record<Phase, DeploymentState>> = {
  applying: 'in_progress',
  applied: 'success',
  rolled_back: 'failure',
  rollback_failed: 'failure',
  destroying: 'in_progress',
  destroyed: 'inactive',
};

export async function notifyStep(
  input: unknown,
  ports: NotifyPorts,
  now: Date,
): Promise<NotifyReport> {
  const notice = parseInput(NOTIFY_INPUT, input, 'notify');
  const { run, phase } = notice;
  const report: NotifyReport = { delivered: [], failed: [] };
  if (run.workflow === 'drift') return notifyDrift(notice, ports, now, report);
  // A run of one project tells of it as of any single job: its result.json.
  const projects = notice.projects?.projects ?? [];
  const resultLocation =
    notice.result?.resultLocation ??
    (projects.length === 1 ? projects[0]?.resultLocation : undefined);
  const result = resultLocation ? await ports.artifacts.readResult(resultLocation) : undefined;
  const summary = result?.summary ?? notice.projects?.summary;
  const detail: NotifyDetail = {
    ...(summary
      ? { summary: { add: summary.add, change: summary.change, destroy: summary.destroy } }
      : {}),
    ...(notice.error ? { error: notice.error } : {}),
    ...(notice.rollback
      ? { rollback: { message: rollbackMessage(phase, notice.rollback, notice.error) } }
      : {}),
    ...(notice.schedule ? { schedule: notice.schedule } : {}),
    ...(notice.command
      ? { command: { name: notice.command.name, args: notice.command.args } }
      : {}),
    ...(notice.links ? { links: notice.links } : {}),
    ...(notice.approvalId ? { approvalId: notice.approvalId } : {}),
    ...(await decisionOf(run, phase, ports, report)),
    ...(notice.policyOverride === undefined
      ? {}
      : { decision: overrideRequest(run.runId, notice.policyOverride) }),
  };
  const line = statusLine(run, phase, detail);
  if (result || notice.projects) {
    await ports.runs.addRunDetails(run.runId, {
      ...(detail.summary ? { summary: detail.summary } : {}),
      ...(result?.outputs ? { outputs: result.outputs } : {}),
      ...(result?.plan ? { planSha256: result.plan.sha256 } : {}),
      ...(notice.projects ? { projects: notice.projects.projects } : {}),
    });
  }

  // The event's projects: a run of one project gives its one with the run's counts (its
  // result.json's), a run of several each project's report, or, before there are reports,
  // each project as the run covers it.
  const covered = runProjects(run);
  const onlyProject = covered.length === 1 && projects.length <= 1 ? covered[0] : undefined;
  const eventProjects =
    onlyProject !== undefined
      ? [
          {
            name: onlyProject.name,
            dir: onlyProject.dir,
            ...(detail.summary ? { summary: detail.summary } : {}),
            ...(projects[0] ? { status: projects[0].status } : {}),
          },
        ]
      : projects.length > 0
        ? projects.map((p) => ({ name: p.name, dir: p.dir, status: p.status, summary: p.summary }))
        : covered.map((p) => ({ name: p.name, dir: p.dir }));
  const event = statusEvent(
    {
      runId: run.runId,
      workflow: run.workflow,
      environment: run.environment,
      projects: eventProjects,
      commit: run.commit,
      phase,
      // An override's event says why in its own words (its actor carries the reason too).
      ...(notice.error || notice.rollback
        ? { message: line }
        : (phase === 'policy_overridden' || phase === 'awaiting_policy_override') &&
            detail.decision !== undefined
          ? { message: detail.decision }
          : {}),
      ...(detail.actor ? { actor: detail.actor } : {}),
    },
    now,
  );
  await publishStatus(ports, event, phase, report);

  // After a successful apply, each after_apply dispatch: reported, never failing the run.
  const entries = phase === 'applied' ? (run.afterApply ?? []) : [];
  if (entries.length > 0 && ports.dispatcher) {
    const single = singleProject(run);
    const dispatchProjects =
      projects.length > 0
        ? projects.map((p) => ({ name: p.name, dir: p.dir, outputs: p.outputs ?? {} }))
        : [
            {
              name: single?.name ?? run.projectDir,
              dir: run.projectDir,
              outputs: notice.apply?.outputs ?? result?.outputs ?? {},
            },
          ];
    const repository = githubRepositoryOf(run.repository);
    const dispatches = await dispatchAfterApply(
      ports.dispatcher,
      entries,
      {
        environment: run.environment,
        commit: run.commit,
        runId: run.runId,
        ...(repository === undefined ? {} : { repository }),
      },
      dispatchProjects,
    );
    for (const sent of dispatches) {
      const channel = `dispatch ${sent.eventType} to ${sent.repository}`;
      if (sent.status === 'sent') report.delivered.push(channel);
      else report.failed.push(`${channel}: ${sent.error ?? 'failed'}`);
    }
    await ports.runs.addRunDetails(run.runId, { dispatches }).catch((error: unknown) => {
      report.failed.push(`dispatch record: ${describeError(error).message}`);
    });
  }

  const attempt = attemptInto(report);
  const { chat, codeHost, commentSink } = ports;
  const errorOf = (error: { name: string; message: string } | undefined) =>
    detail.rollback
      ? { error: detail.rollback.message }
      : error
        ? { error: `${error.name}: ${error.message}` }
        : notice.error
          ? { error: errorText(notice.error) }
          : {};
  // The workflows of several projects (plan, plan-apply) keep the environment's one comment,
  // a section per project: written when the notice has the projects' reports, or at the end
  // of a run that never had them (every project then shows how the run ended). Their other
  // notices (started, a project rolling back) leave it as it is. Other workflows keep the
  // comment of the environment and project.
  const severalProjects = MULTI_PROJECT_WORKFLOWS.includes(run.workflow);
  // The diffs are read only for a comment that is written.
  const commenting = (codeHost !== undefined && run.pullRequest !== undefined) || !!commentSink;
  const diffOf = async (location: string | undefined) =>
    commenting && location !== undefined ? diffNear(ports.artifacts, location) : undefined;
  // A notice without the projects' reports tells of one job: its diff, and outputs if applied.
  const diff = notice.projects ? undefined : await diffOf(resultLocation);
  const applied = phase === 'applied' && result?.outputs ? { appliedOutputs: result.outputs } : {};
  const sections = notice.projects
    ? await Promise.all(
        projects.map(async (project) => {
          // A view: an unreadable result leaves the section with the workflow's counts.
          const own =
            project.resultLocation === undefined
              ? undefined
              : project.resultLocation === resultLocation
                ? result
                : await ports.artifacts.readResult(project.resultLocation).catch(() => undefined);
          // A planned project shares the run's phase; after an apply each has its own.
          const failed = project.error !== undefined || project.status === 'failed';
          const diff = await diffOf(project.resultLocation);
          return {
            name: project.name,
            dir: project.dir,
            layer: project.layer,
            status: project.status === 'planned' ? phase : project.status,
            ...(own?.summary ? { summary: own.summary } : {}),
            ...(project.resultLocation ? { artifactLocation: project.resultLocation } : {}),
            ...(failed ? errorOf(project.error) : {}),
            ...(diff === undefined ? {} : { diff }),
            ...(project.status === 'applied' && project.outputs
              ? { appliedOutputs: project.outputs }
              : {}),
            ...policyField(phase, own?.policy, project.policy),
          };
        }),
      )
    : severalProjects && TERMINAL_COMMIT_STATES[phase] !== undefined
      ? runProjects(run).map((project, _, all) => ({
          name: project.name,
          dir: project.dir,
          layer: project.layer,
          status: phase,
          // A run of one project may still carry its job's result.
          ...(all.length === 1 && result?.summary ? { summary: result.summary } : {}),
          ...(all.length === 1 && resultLocation ? { artifactLocation: resultLocation } : {}),
          ...(all.length === 1 && diff !== undefined ? { diff } : {}),
          ...(all.length === 1 ? applied : {}),
          ...errorOf(undefined),
        }))
      : undefined;
  if (chat) {
    // The chat tells each project's counts and changes: the reports', or the one job's.
    const told: SlackProject[] | undefined =
      sections?.map((s) => ({
        name: s.name,
        ...(s.summary ? { summary: s.summary } : {}),
        ...('policy' in s && s.policy !== undefined ? { policy: s.policy } : {}),
      })) ??
      (result?.summary && onlyProject
        ? [{ name: onlyProject.name, summary: result.summary }]
        : undefined);
    const chatDetail = told === undefined ? detail : { ...detail, projects: told };
    await attempt('chat', () =>
      chat.post(
        ports.chatMessage?.(run, phase, chatDetail) ?? {
          text: withLinks(detail.decision ? `${line} — ${detail.decision}` : line, detail),
        },
      ),
    );
  }
  const comments =
    sections !== undefined
      ? [
          {
            marker: environmentCommentMarker(run.environment),
            body: renderEnvironmentComment({
              workflow: run.workflow,
              environment: run.environment,
              commit: run.commit,
              runId: run.runId,
              status: phase,
              projects: sections,
              ...(detail.decision ? { decision: detail.decision } : {}),
            }),
          },
        ]
      : severalProjects
        ? []
        : [
            {
              marker: commentMarker(run.environment, run.projectDir),
              body: renderPrComment({
                workflow: run.workflow,
                environment: run.environment,
                projectDir: run.projectDir,
                commit: run.commit,
                runId: run.runId,
                status: phase,
                ...(result?.summary ? { summary: result.summary } : {}),
                ...(resultLocation ? { artifactLocation: resultLocation } : {}),
                ...errorOf(undefined),
                ...(diff === undefined ? {} : { diff }),
                ...applied,
                ...(detail.decision ? { decision: detail.decision } : {}),
              }),
            },
          ];
  for (const comment of comments) {
    if (codeHost && run.pullRequest !== undefined) {
      const pullRequest = run.pullRequest;
      await attempt('pr-comment', () =>
        codeHost.upsertPullRequestComment(pullRequest, comment.marker, comment.body),
      );
    } else if (commentSink) {
      await attempt('pr-comment (file)', () => commentSink(run.runId, comment.body));
    }
  }
  const commitState = TERMINAL_COMMIT_STATES[phase];
  if (codeHost && commitState) {
    await attempt('commit-status', () =>
      codeHost.setCommitStatus(run.commit, {
        state: commitState,
        context: `stepform/${run.workflow}/${run.environment}`,
        description: line.slice(0, 140),
      }),
    );
  }
  const deploymentState = DEPLOYMENT_STATES[phase];
  if (codeHost && deploymentState && run.workflow !== 'plan') {
    await attempt('deployment', () =>
      codeHost.recordDeployment(run.commit, {
        environment: run.environment,
        state: deploymentState,
        description: line.slice(0, 140),
        runId: run.runId,
      }),
    );
  }
  return report;
}

/**
 * The status event is the notice's one must: it feeds the pull request and the queue, so a
 * failure to publish it fails the step (NotificationFailed, retried by the workflow).
 */
async function publishStatus(
  ports: Pick<NotifyPorts, 'status'>,
  event: StatusEvent,
  phase: string,
  report: NotifyReport,
): Promise<void> {
  try {
    await ports.status.publish(event);
    report.delivered.push('status');
  } catch (error) {
    throw new NotificationFailed(
      `status event ${phase} not published: ${describeError(error).message}`,
      { cause: error },
    );
  }
}

/**
 * Every other channel is best effort: `attempt(channel, send)` records it delivered or failed
 * in the report, and gives what it sent back (undefined when it failed).
 */
function attemptInto(report: NotifyReport) {
  return async <T>(channel: string, send: () => Promise<T>): Promise<T | undefined> => {
    try {
      const sent = await send();
      report.delivered.push(channel);
      return sent;
    } catch (error) {
      report.failed.push(`${channel}: ${describeError(error).message}`);
      return undefined;
    }
  };
}

function withLinks(line: string, detail: NotifyDetail): string {
  return detail.links
    ? `${line}\napprove: ${detail.links.approve}\nreject: ${detail.links.reject}`
    : line;
}

/**
 * The plan diff to show with a job's result: in its own folder (a plan, or a job that planned
 * and applied), else in the plan folder beside it (an apply of a saved plan). A view only:
 * a diff that cannot be read leaves the comment without it, never fails the notice.
 */
async function diffNear(
  artifacts: Pick<ArtifactPort, 'readPlanDiff'>,
  location: string,
): Promise<PlanDiff | undefined> {
  const read = async (at: string) => artifacts.readPlanDiff(at).catch(() => undefined);
  const own = await read(location);
  if (own !== undefined) return own;
  const beside = /^(.*)\/apply\/?$/.exec(location)?.[1];
  return beside === undefined ? undefined : read(`${beside}/${PLAN_STEP}`);
}

/** The drift the chat tells of: drifted projects with their counts, cleared, skipped. */
function slackDrift(drift: z.output<typeof COLLECTED_DRIFT>): SlackDrift {
  const named = (status: string) => drift.projects.filter((p) => p.status === status);
  return {
    drifted: named('drifted').map((p) => ({ name: p.name, summary: p.summary })),
    cleared: drift.projects.filter((p) => p.cleared).map((p) => p.name),
    skipped: named('skipped').map((p) => ({ name: p.name, reason: p.note ?? 'skipped' })),
    failed: named('failed').map((p) => p.name),
  };
}

/**
 * A drift run's notice: the status event (each project with its own status), the chat
 * message naming the drifted projects, and per project its issue on the code host (opened,
 * updated or closed: core/drift.ts). Pull-request comments, commit statuses and deployments
 * are for runs of a change; a drift check is of what is already applied.
 */
async function notifyDrift(
  notice: z.output<typeof NOTIFY_INPUT>,
  ports: NotifyPorts,
  now: Date,
  report: NotifyReport,
): Promise<NotifyReport> {
  const { run, phase, drift } = notice;
  const projects = drift?.projects ?? [];
  const detail: NotifyDetail = {
    ...(drift
      ? { summary: drift.projects.reduce(addCounts, { add: 0, change: 0, destroy: 0 }) }
      : {}),
    ...(notice.error ? { error: notice.error } : {}),
    ...(drift ? { drift: slackDrift(drift) } : {}),
  };
  const event = statusEvent(
    {
      runId: run.runId,
      workflow: run.workflow,
      environment: run.environment,
      projects:
        projects.length > 0
          ? projects.map((p) => ({
              name: p.name,
              dir: p.dir,
              status: p.status,
              summary: p.summary,
            }))
          : runProjects(run).map((p) => ({ name: p.name, dir: p.dir })),
      commit: run.commit,
      phase,
      ...(notice.error ? { message: statusLine(run, phase, detail) } : {}),
    },
    now,
  );
  await publishStatus(ports, event, phase, report);
  const attempt = attemptInto(report);
  const { chat } = ports;
  if (chat) {
    await attempt('chat', () =>
      chat.post(
        ports.chatMessage?.(run, phase, detail) ?? {
          text: driftText(statusLine(run, phase, detail), detail),
        },
      ),
    );
  }
  const host = ports.issues ?? ports.codeHost;
  if (host === undefined) return report;
  const actions: DriftIssueAction[] = [];
  // A skipped or failed check says nothing of drift: its issue stays as it is.
  const checked = projects.filter((p) => p.status === 'drifted' || p.status === 'no_drift');
  for (const project of checked) {
    const location = project.resultLocation;
    const planned = project.status === 'drifted' && location !== undefined;
    const result = planned
      ? await ports.artifacts.readResult(location).catch(() => undefined)
      : undefined;
    const diff = planned ? await diffNear(ports.artifacts, location) : undefined;
    const action = await attempt(`issue ${project.name}`, () =>
      reportDriftIssue(host, run, project, {
        ...(result?.summary ? { summary: result.summary } : {}),
        ...(diff === undefined ? {} : { diff }),
      }),
    );
    if (action !== undefined) actions.push(action);
  }
  if (actions.length > 0) {
    await ports.runs.addRunDetails(run.runId, { issues: actions }).catch((error: unknown) => {
      report.failed.push(`issues record: ${describeError(error).message}`);
    });
  }
  return report;
}

function addCounts(
  total: { add: number; change: number; destroy: number },
  project: { summary: { add: number; change: number; destroy: number } },
): { add: number; change: number; destroy: number } {
  return {
    add: total.add + project.summary.add,
    change: total.change + project.summary.change,
    destroy: total.destroy + project.summary.destroy,
  };
}

/** The plain-text chat line of a drift run: the status line, then who drifted. */
function driftText(line: string, detail: NotifyDetail): string {
  const drifted = detail.drift?.drifted ?? [];
  if (drifted.length === 0) return line;
  return `${line}\ndrifted: ${drifted.map((p) => `${p.name} (${formatCounts(p.summary)})`).join(', ')}`;
}
