// A test double for Slack and GitHub: a real HTTP server on 127.0.0.1 (loopback only, a free
// port) that records every request and answers from per-route scripts, so adapters are
// tested through their real HTTP clients, 429 and 5xx included. Used by tests only.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  /** The path with its query string, as sent. */
  readonly url: string;
  /** The path without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** The raw body. */
  readonly text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly body: unknown;
}

export interface ScriptedResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** A string is sent as is (text/plain unless a content-type is given); anything else as JSON. */
  readonly body?: unknown;
}

export type Responder = ScriptedResponse | ((request: RecordedRequest) => ScriptedResponse);

/** More requests than this in one test is a runaway retry loop: the server answers 418. */
const REQUEST_LIMIT = 200;

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export class RecordingServer {
  readonly requests: RecordedRequest[] = [];
  readonly #server: Server;
  readonly #routes = new Map<string, Responder[]>();
  #baseUrl = '';

  private constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const url = req.url ?? '/';
        const parsed = new URL(url, 'http://127.0.0.1');
        const request: RecordedRequest = {
          method: req.method ?? 'GET',
          url,
          path: parsed.pathname,
          query: parsed.searchParams,
          headers: req.headers,
          text,
          body: parseJson(text),
        };
        this.requests.push(request);
        const answer =
          this.requests.length > REQUEST_LIMIT
            ? { status: 418, body: { message: 'request limit reached' } }
            : this.#answer(request);
        const { body } = answer;
        const payload =
          body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
        const contentType =
          typeof body === 'string' ? 'text/plain' : 'application/json; charset=utf-8';
        res.writeHead(answer.status, {
          ...(body === undefined ? {} : { 'content-type': contentType }),
          ...answer.headers,
        });
        res.end(payload);
      });
    });
  }

  /** Starts a server on 127.0.0.1 and a free port. */
  static async start(): Promise<RecordingServer> {
    const server = new RecordingServer();
    await new Promise<void>((resolve, reject) => {
      server.#server.once('error', reject);
      server.#server.listen(0, '127.0.0.1', () => {
        resolve();
      });
    });
    const address = server.#server.address() as AddressInfo;
    server.#baseUrl = `http://127.0.0.1:${address.port}`;
    return server;
  }

  /** `http://127.0.0.1:PORT`, no trailing slash. */
  get baseUrl(): string {
    return this.#baseUrl;
  }

  /**
   * Scripts the answers to `METHOD path` (the path without query): one responder per
   * request, in order; the last one answers every request after it.
   */
  route(method: string, path: string, ...responders: Responder[]): this {
    if (responders.length === 0) throw new Error('route needs at least one responder');
    this.#routes.set(`${method.toUpperCase()} ${path}`, [...responders]);
    return this;
  }

  /** The recorded requests to `METHOD path`. */
  requestsTo(method: string, path: string): RecordedRequest[] {
    return this.requests.filter(
      (request) => request.method === method.toUpperCase() && request.path === path,
    );
  }

  #answer(request: RecordedRequest): ScriptedResponse {
    const queue = this.#routes.get(`${request.method} ${request.path}`);
    if (queue === undefined) return { status: 404, body: { message: 'Not Found' } };
    const responder = queue.length > 1 ? (queue.shift() as Responder) : (queue[0] as Responder);
    return typeof responder === 'function' ? responder(request) : responder;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve, reject) => {
      this.#server.close((error) => {
        if (error) reject(error);
        else resolve();
      });
    });
  }
}
