// `stepform serve`'s HTTP side, on loopback: the approval endpoint (the same core handler as
// the Lambda Function URL on AWS), the run console (local/console/), and a health check.
import { type IncomingMessage, type Server, createServer } from 'node:http';
import {
  type EndpointResponse,
  MAX_FORM_BYTES,
  errorPage,
  handleApprovalRequest,
  singleValued,
} from '../../core/approval-endpoint.ts';
import { InvalidInput } from '../../core/errors.ts';
import { createConsole } from '../console/server.ts';
import { localSource } from '../console/source.ts';
import type { LocalEngine } from './local-engine.ts';
import { localPorts } from './local-ports.ts';

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

export interface ApprovalServerOptions {
  /** When set, only these names may decide (compared case-insensitively). */
  readonly approvers?: readonly string[];
  readonly now?: () => Date;
  /** How often the console's event streams look for changes. @default 1000 */
  readonly pollMs?: number;
}

export function createApprovalServer(
  engine: LocalEngine,
  options: ApprovalServerOptions = {},
): Server {
  const now = options.now ?? (() => new Date());
  const { stores, signingKey } = engine;
  const ports = localPorts(stores);
  const runConsole = createConsole(localSource(stores, engine.home.artifacts), {
    signingKey,
    now,
    ...(options.approvers ? { approvers: options.approvers } : {}),
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
  });

  const respond = async (req: IncomingMessage): Promise<EndpointResponse> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/healthz')
      return { status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok\n' };
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
    if (runConsole(req, res)) return;
    respond(req)
      .catch(errorPage)
      .then((response) => res.writeHead(response.status, response.headers).end(response.body))
      .catch(() => res.destroy());
  });
}
