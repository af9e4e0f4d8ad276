// The run console's HTTP side, mounted in `stepform serve`'s server: its pages, its two event
// streams (server-sent events: `/events` for the lists, `/runs/ID/events` for a run, with its
// job logs as they grow), and its served script and style sheet. It reads only a
// ConsoleSource; approving goes through the signed links of the approval endpoint.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ApprovalRecord, approvalLink } from '../../core/approval.ts';
import { singleValued } from '../../core/approval-endpoint.ts';
import { RUN_ID } from '../../core/contracts/job-input.ts';
import { WORKFLOWS } from '../../core/contracts/workflow-input.ts';
import { InvalidInput, NotFound, StepformError, describeError } from '../../core/errors.ts';
import { parseInput } from '../../core/validation.ts';
import { type AslDefinition, type Workflow, readAslText } from '../../state-machines/workflows.ts';
import type { RunRow } from '../engine/store/sqlite-runs.ts';
import {
  type ApprovalLinks,
  type ReadOnlyFrame,
  filterRuns,
  parseRunsFilter,
  renderEnvironmentsPage,
  renderMessagePage,
  renderRunPage,
  renderRunsPage,
} from './pages.ts';
import type { ConsoleSource } from './source.ts';

/** Only this server: its own script, styles, streams and forms; no framing, no inline code. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const HEADERS = {
  'cache-control': 'no-store',
  'content-security-policy': CONSOLE_CSP,
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
} as const;

const ASSETS: Readonly<Record<string, { type: string; body: string }>> = {
  '/console.js': {
    type: 'text/javascript; charset=utf-8',
    body: readFileSync(new URL('./console.js', import.meta.url), 'utf8'),
  },
  '/console.css': {
    type: 'text/css; charset=utf-8',
    body: readFileSync(new URL('./console.css', import.meta.url), 'utf8'),
  },
};

/** How many runs the list and its filters look at. */
const RUNS_LIMIT = 500;

interface ConsoleCommon {
  readonly now?: () => Date;
  /** How often a stream looks for changes. @default 1000 */
  readonly pollMs?: number;
  /** Told what went wrong behind a page that only says "Something went wrong." */
  readonly onError?: (error: unknown) => void;
}

/** The local engine's console: approve and reject through its signed links. */
export interface SigningConsoleOptions extends ConsoleCommon {
  /** The key the engine signs approval links with: the console's links are the same links. */
  readonly signingKey: string | Buffer;
  /** When set, one pair of links per approver, as Slack gets them. */
  readonly approvers?: readonly string[];
}

/** A deployed stack's console (`serve --stack`): it shows, and decides nothing. */
export interface ReadOnlyConsoleOptions extends ConsoleCommon {
  readonly readOnly: ReadOnlyFrame;
}

export type ConsoleOptions = SigningConsoleOptions | ReadOnlyConsoleOptions;

/** The console's handler: true when the request was the console's (answered or answering). */
export type ConsoleHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * The approval page links for a run that waits: a path on this server, signed as the run's
 * own links are (one pair per approver with a list). None once it no longer waits.
 */
export function consoleApprovalLinks(
  run: RunRow,
  approval: ApprovalRecord | undefined,
  options: Pick<SigningConsoleOptions, 'signingKey' | 'approvers'>,
  now: Date,
): ApprovalLinks[] {
  if (approval?.status !== 'pending' || run.status !== 'running') return [];
  const expiresAt = new Date(approval.expiresAt);
  if (!(expiresAt.getTime() > now.getTime())) return [];
  // Signed for any origin; the page links the path, so it works however the server is reached.
  const path = (action: 'approve' | 'reject', approver?: string) => {
    const url = new URL(
      approvalLink(
        'http://127.0.0.1',
        { id: approval.id, action, expiresAt, ...(approver === undefined ? {} : { approver }) },
        options.signingKey,
      ),
    );
    return `${url.pathname}${url.search}`;
  };
  const names = options.approvers === undefined ? [undefined] : options.approvers;
  return names.map((approver) => ({
    ...(approver === undefined ? {} : { approver }),
    approve: path('approve', approver),
    reject: path('reject', approver),
  }));
}

const definitions = new Map<string, Promise<AslDefinition | undefined>>();

/** The run's workflow file, parsed once; undefined for a workflow this version has none of. */
function definitionOf(workflow: string): Promise<AslDefinition | undefined> {
  let found = definitions.get(workflow);
  if (found === undefined) {
    found = (WORKFLOWS as readonly string[]).includes(workflow)
      ? readAslText(workflow as Workflow).then(
          (text) => JSON.parse(text) as AslDefinition,
          () => undefined,
        )
      : Promise.resolve(undefined);
    definitions.set(workflow, found);
  }
  return found;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { ...HEADERS, 'content-type': type }).end(body);
}

function sendPage(res: ServerResponse, status: number, body: string): void {
  send(res, status, 'text/html; charset=utf-8', body);
}

function errorStatus(error: unknown): number {
  if (error instanceof NotFound) return 404;
  if (error instanceof StepformError && error.kind === 'usage') return 400;
  return 500;
}

/**
 * A server-sent event stream: `tick` runs at once and then every `pollMs` until the client
 * goes; each call may write events. A comment every 15 s keeps proxies from closing it.
 */
function stream(
  req: IncomingMessage,
  res: ServerResponse,
  pollMs: number,
  tick: (write: (event: string, data: unknown) => void) => Promise<void>,
): void {
  res.writeHead(200, {
    ...HEADERS,
    'content-type': 'text/event-stream; charset=utf-8',
    connection: 'keep-alive',
  });
  const write = (event: string, data: unknown) => {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  let closed = false;
  let busy = false;
  let since = Date.now();
  const run = () => {
    if (closed || busy) return;
    busy = true;
    tick(write)
      .catch((error: unknown) => write('failure', { message: describeError(error).message }))
      .finally(() => {
        busy = false;
      });
    if (Date.now() - since > 15_000) {
      res.write(': still here\n\n');
      since = Date.now();
    }
  };
  const timer = setInterval(run, pollMs);
  req.on('close', () => {
    closed = true;
    clearInterval(timer);
  });
  run();
}

export function createConsole(source: ConsoleSource, options: ConsoleOptions): ConsoleHandler {
  const now = options.now ?? (() => new Date());
  const pollMs = options.pollMs ?? 1000;
  const readOnly = 'readOnly' in options ? options.readOnly : undefined;
  const frame = readOnly === undefined ? {} : { readOnly };

  const runsPage = async (query: Record<string, string>) => {
    const filter = parseRunsFilter(query);
    const runs = await source.runs(RUNS_LIMIT);
    const distinct = (values: string[]) => [...new Set(values)].sort();
    return renderRunsPage({
      runs: filterRuns(runs, filter),
      filter,
      environments: distinct(runs.map((r) => r.environment)),
      projects: distinct(runs.map((r) => r.projectDir)),
      now: now(),
      ...frame,
    });
  };

  const runOf = async (id: string): Promise<RunRow> => {
    const runId = parseInput(RUN_ID, id, 'runId');
    const run = await source.run(runId);
    if (run === undefined) throw new NotFound(`no run ${runId}`);
    return run;
  };

  const runPage = async (id: string) => {
    const run = await runOf(id);
    const [definition, events, approval, plans, names] = await Promise.all([
      definitionOf(run.workflow),
      source.events(run.runId),
      source.approval(run.runId),
      source.planDiffs(run),
      source.logNames(run.runId),
    ]);
    const logs = await Promise.all(
      names.map(async (name) => ({ name, text: (await source.readLog(run.runId, name, 0)).text })),
    );
    return renderRunPage({
      run,
      ...(definition === undefined ? {} : { definition }),
      events,
      ...(approval === undefined ? {} : { approval }),
      approvalLinks:
        'signingKey' in options ? consoleApprovalLinks(run, approval, options, now()) : [],
      plans,
      logs,
      now: now(),
      ...frame,
    });
  };

  /** What the lists show, as one text: a change in it is a change worth re-rendering. */
  const listsVersion = async () => {
    const [runs, view] = await Promise.all([source.runs(RUNS_LIMIT), source.environments()]);
    return JSON.stringify([runs.map((r) => [r.runId, r.status, r.phase, r.finishedAt]), view]);
  };

  const runVersion = async (runId: string) => {
    const run = await source.run(runId);
    if (run === undefined) return '';
    const [events, approval, plans] = await Promise.all([
      source.events(runId),
      source.approval(runId),
      source.planDiffs(run),
    ]);
    return JSON.stringify([run, events.length, approval?.status, plans.length]);
  };

  const listsStream = (req: IncomingMessage, res: ServerResponse) => {
    let last: string | undefined;
    stream(req, res, pollMs, async (write) => {
      const version = await listsVersion();
      // The first event too: whatever changed between the page and this stream is caught up.
      if (version !== last) write('change', {});
      last = version;
    });
  };

  const runStream = (req: IncomingMessage, res: ServerResponse, run: RunRow) => {
    let last: string | undefined;
    const offsets = new Map<string, number>();
    stream(req, res, pollMs, async (write) => {
      const version = await runVersion(run.runId);
      if (version !== last) write('change', {});
      last = version;
      for (const name of await source.logNames(run.runId)) {
        const from = offsets.get(name);
        const chunk = await source.readLog(run.runId, name, from ?? 0);
        offsets.set(name, chunk.next);
        // The first chunk replaces what the page showed (the same text, or more of it).
        if (from === undefined || chunk.text !== '')
          write('log', { name, text: chunk.text, reset: from === undefined });
      }
    });
  };

  const answer = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname;
    if (path === '/') {
      sendPage(res, 200, await runsPage(singleValued(url.searchParams, 'query')));
    } else if (path === '/environments') {
      sendPage(res, 200, renderEnvironmentsPage(await source.environments(), readOnly));
    } else if (path === '/events') {
      listsStream(req, res);
    } else {
      const match = /^\/runs\/([^/]+)(\/events)?$/.exec(path);
      if (!match) throw new NotFound(`nothing at ${path}`);
      let id: string;
      try {
        id = decodeURIComponent(match[1] ?? '');
      } catch {
        throw new InvalidInput('runId', 'is not a valid run id');
      }
      if (match[2] === undefined) sendPage(res, 200, await runPage(id));
      else runStream(req, res, await runOf(id));
    }
  };

  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (req.method !== 'GET') return false;
    // Browsers ask for it on every page: nothing, rather than a 404 in their console.
    if (path === '/favicon.ico') {
      res.writeHead(204, HEADERS).end();
      return true;
    }
    const asset = ASSETS[path];
    if (asset) {
      send(res, 200, asset.type, asset.body);
      return true;
    }
    const ours =
      path === '/' || path === '/environments' || path === '/events' || path.startsWith('/runs/');
    if (!ours) return false;
    answer(req, res, url).catch((error: unknown) => {
      const status = errorStatus(error);
      if (status === 500) options.onError?.(error);
      const message = status === 500 ? 'Something went wrong.' : describeError(error).message;
      if (res.headersSent) {
        res.end();
        return;
      }
      sendPage(
        res,
        status,
        renderMessagePage(
          status === 404 ? 'Not found' : status === 400 ? 'Bad request' : 'Error',
          message,
          readOnly,
        ),
      );
    });
    return true;
  };
}
