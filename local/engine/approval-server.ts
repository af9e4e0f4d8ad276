// `stepform serve`'s HTTP side, on loopback: the approval endpoint (the same core handler as
// the Lambda Function URL on AWS), a page listing recent runs, and a health check.
import { type IncomingMessage, type Server, createServer } from 'node:http';
import { escapeHtml } from '../../core/approval.ts';
import {
  type EndpointResponse,
  MAX_FORM_BYTES,
  errorPage,
  handleApprovalRequest,
  page,
  singleValued,
} from '../../core/approval-endpoint.ts';
import { InvalidInput } from '../../core/errors.ts';
import type { LocalEngine } from './local-engine.ts';
import { localPorts } from './local-ports.ts';
import type { SqliteRuns } from './store/sqlite-runs.ts';

/** Reads a body, refusing it as soon as it passes the form limit. */
async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) throw new InvalidInput('body', 'is too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function runsPage(runs: SqliteRuns): EndpointResponse {
  const cells = (values: string[]) => values.map((v) => `<td>${escapeHtml(v)}</td>`).join('');
  const rows = runs
    .list(50)
    .map(
      (r) =>
        `<tr>${cells([r.runId, r.workflow, r.environment, r.projectDir, r.commit.slice(0, 12), r.status, r.phase ?? ''])}</tr>`,
    )
    .join('');
  return page(
    200,
    '<!doctype html><html><head><meta charset="utf-8"><title>Stepform runs</title></head><body>' +
      '<h1>Stepform runs</h1><table><tr><th>run</th><th>workflow</th><th>environment</th><th>project</th>' +
      `<th>commit</th><th>status</th><th>phase</th></tr>${rows}</table></body></html>`,
  );
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
  const { stores, signingKey } = engine;
  const ports = localPorts(stores);

  const respond = async (req: IncomingMessage): Promise<EndpointResponse> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/healthz')
      return { status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok\n' };
    if (url.pathname === '/' && req.method === 'GET') return runsPage(stores.runs);
    return handleApprovalRequest(
      {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: singleValued(url.searchParams, 'query'),
        body: req.method === 'POST' ? await readBody(req) : '',
      },
      ports,
      { signingKey, now: now(), ...(options.approvers ? { approvers: options.approvers } : {}) },
    );
  };

  return createServer((req, res) => {
    respond(req)
      .catch(errorPage)
      .then((response) => res.writeHead(response.status, response.headers).end(response.body))
      .catch(() => res.destroy());
  });
}
