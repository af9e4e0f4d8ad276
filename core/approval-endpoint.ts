// The approval endpoint, once for both homes: the Lambda Function URL on AWS and
// `stepform serve` locally. A GET with a signed link only shows a confirmation page (chat
// clients prefetch links); only the POST from that page decides. Pure over its ports.
import {
  type ApprovalSubject,
  decidersOf,
  linkDecider,
  renderConfirmationPage,
  renderDecisionPage,
  verifyApprovalLink,
  withoutSecrets,
} from './approval.ts';
import { InvalidInput, NotFound, StepformError, describeError } from './errors.ts';
import { renderPlanHtml } from './plan-diff.ts';
import { type PagePolicy, policyChecks, policyHtml } from './policy-view.ts';
import type { ApprovalPort, ArtifactPort, TaskCallbackPort } from './ports.ts';
import { decideFromLink } from './steps.ts';

/** What the endpoint reads and writes through: the approvals, the waiting task, the plans. */
export interface EndpointPorts {
  readonly approvals: ApprovalPort;
  readonly callbacks: TaskCallbackPort;
  /**
   * Where the plans' diffs and results (their policy checks) are read from; without it the
   * page shows the counts alone.
   */
  readonly artifacts?: Pick<ArtifactPort, 'readPlanDiff' | 'readResult'>;
}

/**
 * The most the diffs of one page may take, shared by its projects: far more than anyone reads,
 * and well under the 6 MB a Lambda Function URL may answer.
 */
export const PAGE_DIFF_BUDGET = 1_000_000;

/**
 * Each project's plan diff as an HTML fragment, in the subject's order: what an approver reads
 * before deciding. A diff that cannot be read says so on the page; it never hides the form,
 * whose decision is bound to the plans' digest, not to what the page could show.
 */
export async function planDiffSections(
  subject: ApprovalSubject | undefined,
  artifacts: Pick<ArtifactPort, 'readPlanDiff'> | undefined,
): Promise<{ name: string; html: string }[]> {
  const plans = subject?.kind === 'plan' || subject?.kind === 'policy_override';
  if (subject === undefined || !plans || artifacts === undefined) return [];
  const planned = subject.projects.filter((project) => project.planLocation !== undefined);
  const budget = Math.floor(PAGE_DIFF_BUDGET / Math.max(1, planned.length));
  return Promise.all(
    planned.map(async (project) => {
      const diff = await artifacts
        .readPlanDiff(project.planLocation ?? '')
        .catch(() => 'unreadable' as const);
      const html =
        diff === 'unreadable'
          ? '<p class="fail">This plan’s diff could not be read; its counts above still hold.</p>'
          : diff === undefined
            ? '<p>This plan left no diff to show (it was made by an older executor).</p>'
            : renderPlanHtml(diff, { maxChars: budget });
      return { name: project.name, html };
    }),
  );
}

/**
 * The page's "Policy checks" section (HTML, escaped): each planned project's warnings and
 * failures, from its plan job's result.json. A result that cannot be read says so; like a
 * diff, it never hides the form.
 */
export async function planPolicySection(
  subject: ApprovalSubject | undefined,
  artifacts: Pick<ArtifactPort, 'readResult'> | undefined,
): Promise<string> {
  if (subject?.kind !== 'plan' || artifacts === undefined) return '';
  const planned = subject.projects.filter((project) => project.planLocation !== undefined);
  const projects = await Promise.all(
    planned.map(async (project): Promise<PagePolicy> => {
      const result = await artifacts
        .readResult(project.planLocation ?? '')
        .catch(() => 'unreadable' as const);
      return {
        name: project.name,
        checks: result === 'unreadable' ? result : policyChecks(result?.policy, undefined),
      };
    }),
  );
  return policyHtml(projects);
}

export interface EndpointRequest {
  readonly method: string;
  /** The path, e.g. /approvals/abc (percent-encoded as received). */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** The raw body (a form, for the POST). */
  readonly body: string;
}

export interface EndpointResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface EndpointOptions {
  readonly signingKey: string | Buffer;
  readonly now: Date;
  /**
   * When set, only these names may decide, each with the per-approver link made for them
   * (its signature covers the name); a bare link is refused.
   */
  readonly approvers?: readonly string[];
}

/** A form larger than this is refused before it is parsed (a reason's 1,000 characters fit, encoded). */
export const MAX_FORM_BYTES = 16 * 1024;

export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
} as const;

const STATUS_BY_ERROR: Readonly<Record<string, number>> = {
  InvalidInput: 400,
  ApprovalSignatureInvalid: 403,
  NotAnApprover: 403,
  NotFound: 404,
  ApprovalAlreadyDecided: 409,
  // The run no longer waits (it ended, or its process died): nothing was recorded.
  RunNotWaiting: 409,
  ApprovalExpired: 410,
  // The workflow stopped waiting (timed out or ended) before the decision reached it.
  TaskNoLongerWaiting: 410,
};

/**
 * The fields of a query or form, each given once: `action=reject&action=approve` is refused,
 * not read as whichever value a parser keeps (the Lambda's joins them, Node's keeps the last).
 */
export function singleValued(params: URLSearchParams, where: string): Record<string, string> {
  const fields = new Map<string, string>();
  for (const [name, value] of params) {
    if (fields.has(name)) throw new InvalidInput(`${where}.${name}`, 'is given more than once');
    fields.set(name, value);
  }
  return Object.fromEntries(fields);
}

export function page(
  status: number,
  body: string,
  extra: Record<string, string> = {},
): EndpointResponse {
  return { status, headers: { ...PAGE_HEADERS, ...extra }, body };
}

/** The page for an error: its message for the caller's mistakes, nothing for ours. */
export function errorPage(error: unknown): EndpointResponse {
  const { name, message } = describeError(error);
  const status =
    STATUS_BY_ERROR[name] ?? (error instanceof StepformError && error.kind === 'usage' ? 400 : 500);
  return page(
    status,
    renderDecisionPage(status === 500 ? 'Something went wrong.' : message, false),
  );
}

async function route(
  request: EndpointRequest,
  ports: EndpointPorts,
  options: EndpointOptions,
): Promise<EndpointResponse> {
  const match = /^\/approvals\/([^/]+)$/.exec(request.path);
  if (!match) return page(404, renderDecisionPage('Not found.', false));
  let id: string;
  try {
    id = decodeURIComponent(match[1] ?? '');
  } catch {
    throw new InvalidInput('id', 'is not a valid approval id');
  }
  if (request.method === 'GET') {
    const link = verifyApprovalLink({ ...request.query, id }, options.signingKey, options.now);
    const approval = await ports.approvals.get(link.id);
    if (!approval) throw new NotFound('no such approval');
    // Refused here already, so nobody is shown a form that cannot decide.
    linkDecider(link, decidersOf(approval, options.approvers));
    const record = withoutSecrets(approval);
    return page(
      200,
      renderConfirmationPage({
        record,
        action: link.action,
        link: {
          id: link.id,
          action: link.action,
          expires: request.query.expires ?? '',
          sig: request.query.sig ?? '',
          ...(link.approver === undefined ? {} : { approver: link.approver }),
        },
        postUrl: `/approvals/${encodeURIComponent(link.id)}`,
        plans: await planDiffSections(approval.subject, ports.artifacts),
        policies: await planPolicySection(approval.subject, ports.artifacts),
      }),
    );
  }
  if (request.method === 'POST') {
    if (Buffer.byteLength(request.body, 'utf8') > MAX_FORM_BYTES)
      throw new InvalidInput('body', 'is too large');
    const form = singleValued(new URLSearchParams(request.body), 'form');
    const decided = await decideFromLink(
      {
        id,
        action: form.action,
        expires: form.expires,
        sig: form.sig,
        ...(form.approver === undefined ? {} : { approver: form.approver }),
        ...(form.reason === undefined ? {} : { reason: form.reason }),
      },
      ports,
      {
        signingKey: options.signingKey,
        now: options.now,
        ...(options.approvers ? { approvers: options.approvers } : {}),
      },
    );
    return page(200, renderDecisionPage(`Run ${decided.runId} ${decided.status}.`, true));
  }
  return page(405, renderDecisionPage('Method not allowed.', false), { allow: 'GET, POST' });
}

/** Answers one request; never throws: every error becomes its page. */
export async function handleApprovalRequest(
  request: EndpointRequest,
  ports: EndpointPorts,
  options: EndpointOptions,
): Promise<EndpointResponse> {
  try {
    return await route(request, ports, options);
  } catch (error) {
    return errorPage(error);
  }
}
