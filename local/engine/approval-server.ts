// The local approval endpoint (the Lambda Function URL on AWS), on loopback. A GET only shows
// a confirmation page (chat clients prefetch links); only the POST from that page decides.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import {
  escapeHtml,
  renderConfirmationPage,
  renderDecisionPage,
  verifyApprovalLink,
} from '../../lambdas/core/approval.ts';
import { InvalidInput, NotFound, StepformError, describeError } from '../../lambdas/core/errors.ts';
import type { LocalEngine } from './local-engine.ts';
import { decideFromLink } from '../../lambdas/core/steps.ts';
import { localPorts } from './local-ports.ts';
import { approvalRecord } from './store.ts';

const MAX_BODY_BYTES = 8 * 1024;

const STATUS_BY_ERROR: Record<string, number> = {
  InvalidInput: 400,
  ApprovalSignatureInvalid: 403,
  NotAnApprover: 403,
  NotFound: 404,
  ApprovalAlreadyDecided: 409,
  ApprovalExpired: 410,
};

function send(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  });
  res.end(html);
}

async function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new InvalidInput('body', 'is too large');
    chunks.push(chunk as Buffer);
  }
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
}

export interface ApprovalServerOptions {
  /** When set, only these names may decide (compared case-insensitively). */
  readonly approvers?: readonly string[];
  readonly now?: () => Date;
}

export function createApprovalServer(
  engine: LocalEngine,
  options: ApprovalServerOptions = {},
): Server {
  const now = options.now ?? (() => new Date());
  const { store, signingKey } = engine;
  const ports = localPorts(store);

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (url.pathname === '/' && req.method === 'GET') {
      const rows = store
        .listRuns(50)
        .map(
          (r) =>
            `<tr><td>${escapeHtml(r.runId)}</td><td>${escapeHtml(r.workflow)}</td><td>${escapeHtml(r.environment)}</td>` +
            `<td>${escapeHtml(r.projectDir)}</td><td>${escapeHtml(r.commit.slice(0, 12))}</td><td>${escapeHtml(r.status)}</td>` +
            `<td>${escapeHtml(r.phase ?? '')}</td></tr>`,
        )
        .join('');
      send(
        res,
        200,
        `<!doctype html><html><head><meta charset="utf-8"><title>Stepform runs</title></head><body><h1>Stepform runs</h1>` +
          `<table><tr><th>run</th><th>workflow</th><th>environment</th><th>project</th><th>commit</th><th>status</th><th>phase</th></tr>${rows}</table></body></html>`,
      );
      return;
    }
    const match = /^\/approvals\/([^/]+)$/.exec(url.pathname);
    if (!match) {
      send(res, 404, renderDecisionPage('Not found.', false));
      return;
    }
    let id: string;
    try {
      id = decodeURIComponent(match[1] ?? '');
    } catch {
      throw new InvalidInput('id', 'is not a valid approval id');
    }
    if (req.method === 'GET') {
      const link = verifyApprovalLink(
        { ...Object.fromEntries(url.searchParams), id },
        signingKey,
        now(),
      );
      const row = store.getApproval(link.id);
      if (!row) throw new NotFound('no such approval');
      send(
        res,
        200,
        renderConfirmationPage({
          record: approvalRecord(row),
          action: link.action,
          link: {
            id: link.id,
            action: link.action,
            expires: url.searchParams.get('expires') ?? '',
            sig: url.searchParams.get('sig') ?? '',
          },
          postUrl: `/approvals/${encodeURIComponent(link.id)}`,
        }),
      );
      return;
    }
    if (req.method === 'POST') {
      const form = await readForm(req);
      const decided = await decideFromLink(
        { id, action: form.action, expires: form.expires, sig: form.sig },
        ports,
        {
          signingKey,
          now: now(),
          // A link carries no identity: who decided is "whoever held the link".
          by: 'approval link',
          ...(options.approvers ? { approvers: options.approvers } : {}),
        },
      );
      send(res, 200, renderDecisionPage(`Run ${decided.runId} ${decided.status}.`, true));
      return;
    }
    res.setHeader('allow', 'GET, POST');
    send(res, 405, renderDecisionPage('Method not allowed.', false));
  };

  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const { name, message } = describeError(error);
      const status = STATUS_BY_ERROR[name] ?? (error instanceof StepformError ? 400 : 500);
      send(
        res,
        status,
        renderDecisionPage(status === 500 ? 'Something went wrong.' : message, false),
      );
    });
  });
}
