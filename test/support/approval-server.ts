// A real approval server (`stepform serve`'s HTTP side) on loopback over a real engine home,
// with the approvals it decides, the signed links to them and the requests a browser sends.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ApprovalAction, approvalLink, newApprovalId } from '../../core/approval.ts';
import type { StoredApproval } from '../../core/ports.ts';
import {
  type ApprovalServerOptions,
  createApprovalServer,
} from '../../local/engine/approval-server.ts';
import { LocalEngine } from '../../local/engine/local-engine.ts';
import { thisProcess } from '../../local/engine/processes.ts';

/** What the Step Functions task token stands for locally: it must never leave the store. */
export const TASK_TOKEN = `local-task-token-${randomBytes(16).toString('hex')}`;
export const PLAN_SHA256 = createHash('sha256').update('the saved plan').digest('hex');
export const HOUR = 3600_000;

export interface Started {
  engine: LocalEngine;
  server: Server;
  base: string;
  address: AddressInfo;
}

const running: Started[] = [];
/** Every response body seen since the last stopServers(), to check none holds the task token. */
const bodies: string[] = [];

/** A server over a new engine home, or over `home` (a workspace's, with its real runs). */
export async function startApprovalServer(
  options?: ApprovalServerOptions,
  existingHome?: string,
): Promise<Started> {
  const home = existingHome ?? (await mkdtemp(join(tmpdir(), 'stepform-approval-server-')));
  const engine = new LocalEngine({ home, env: {} });
  const server = createApprovalServer(engine, options);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const started = { engine, server, base: `http://127.0.0.1:${address.port}`, address };
  running.push(started);
  return started;
}

/** Stops every server started so far; returns the bodies they answered. */
export async function stopServers(): Promise<string[]> {
  for (const { server, engine } of running.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    engine.close();
  }
  return bodies.splice(0);
}

/** Whole seconds, as links carry them, so the link and the record expire together. */
export function inSeconds(ms: number): Date {
  return new Date(Math.floor((Date.now() + ms) / 1000) * 1000);
}

/** A pending approval of a run that waits, held by a live process (this one). */
export async function addApproval(
  engine: LocalEngine,
  overrides: Partial<StoredApproval> = {},
): Promise<StoredApproval> {
  const row: StoredApproval = {
    id: newApprovalId(),
    runId: `20300101T000000Z-${randomBytes(3).toString('hex')}`,
    taskToken: TASK_TOKEN,
    environment: 'prod',
    projectDir: 'terraform/examples/hello',
    commit: 'c0ffee'.padEnd(40, '0'),
    planSha256: PLAN_SHA256,
    status: 'pending',
    requestedAt: new Date().toISOString(),
    expiresAt: inSeconds(HOUR).toISOString(),
    ...overrides,
  };
  if (engine.stores.runs.get(row.runId) === undefined) {
    engine.stores.runs.create({
      runId: row.runId,
      workflow: 'plan-apply',
      environment: row.environment,
      projectDir: row.projectDir,
      repository: '/tmp/repo',
      commit: row.commit,
      startedAt: new Date().toISOString(),
    });
    engine.stores.runs.hold(row.runId, thisProcess(new Date()));
  }
  await engine.stores.approvals.create(row);
  return row;
}

/** The signed link to decide `row`, as the run would have sent it. */
export function link(
  s: Started,
  row: StoredApproval,
  action: ApprovalAction,
  expiresAt?: Date,
  approver?: string,
): string {
  return approvalLink(
    s.base,
    {
      id: row.id,
      action,
      expiresAt: expiresAt ?? new Date(row.expiresAt),
      ...(approver === undefined ? {} : { approver }),
    },
    s.engine.signingKey,
  );
}

export interface Reply {
  status: number;
  headers: Headers;
  body: string;
}

export async function request(url: string, init?: RequestInit): Promise<Reply> {
  const response = await fetch(url, init);
  const body = await response.text();
  bodies.push(body);
  return { status: response.status, headers: response.headers, body };
}

/** POSTs a form, as the confirmation page does. */
export async function post(url: string, fields: Record<string, string> | string): Promise<Reply> {
  return request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: typeof fields === 'string' ? fields : new URLSearchParams(fields).toString(),
  });
}

/** The four fields of a link, as its confirmation page would post them. */
export function linkFields(url: string): Record<string, string> {
  const parsed = new URL(url);
  return {
    id: parsed.pathname.split('/').at(-1) ?? '',
    ...Object.fromEntries(parsed.searchParams),
  };
}

export function withQuery(url: string, changes: Record<string, string | null>): string {
  const parsed = new URL(url);
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) parsed.searchParams.delete(name);
    else parsed.searchParams.set(name, value);
  }
  return parsed.toString();
}

/** The text with its last character changed: a signature one character off. */
export function flipLast(text: string): string {
  return `${text.slice(0, -1)}${text.endsWith('A') ? 'B' : 'A'}`;
}
