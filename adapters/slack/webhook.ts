// ChatPort over a Slack incoming webhook. The webhook URL is itself a secret (whoever has it
// can post to the channel): it is read from the SecretPort by name at the first post, and
// never logged nor put into an error message. 429, 5xx and network failures are retried
// with backoff; what still fails is a NotificationFailed, which callers report and never let
// fail a run. postEphemeral answers an interaction at its response_url the same way.
import { NotificationFailed } from '../../core/errors.ts';
import type { ChatMessage, ChatPort, SecretPort } from '../../core/ports.ts';
import {
  DEFAULT_RETRY,
  HttpStatusError,
  NetworkError,
  parseRetryAfter,
  type RetryOptions,
  withRetries,
} from '../http-retry.ts';

export interface SlackWebhookOptions {
  readonly secrets: SecretPort;
  /** The name under which the SecretPort keeps the webhook URL. */
  readonly secretName: string;
  readonly retry?: Partial<RetryOptions>;
  /** Per request. */
  readonly timeoutMs?: number;
  /** Replaces the global fetch (tests). */
  readonly fetch?: typeof globalThis.fetch;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Parses `text` as a Slack URL: https, or http on loopback only (local tests). */
function slackUrl(text: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new NotificationFailed(`${what} is not a URL`);
  }
  const allowed =
    url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
  if (!allowed || url.username !== '' || url.password !== '') {
    throw new NotificationFailed(`${what} is not an https URL`);
  }
  return url;
}

/** The webhook secret as a URL. */
function webhookUrl(secret: string): URL {
  return slackUrl(secret, 'the Slack webhook secret');
}

/** Slack answers errors with short codes (`invalid_blocks`, `no_service`); nothing else is kept. */
function slackErrorCode(text: string): string | undefined {
  const code = text.trim();
  return /^[a-z][a-z0-9_]{0,63}$/.test(code) ? code : undefined;
}

/** Words for a failure that never include the URL (fetch errors may quote it). */
function describeFailure(error: unknown): string {
  if (error instanceof HttpStatusError) return error.message;
  if (error instanceof NetworkError) {
    return error.code === undefined ? 'network error' : `network error (${error.code})`;
  }
  if (error instanceof NotificationFailed) return error.message;
  return 'unexpected error';
}

function property(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null
    ? (value as Record<string, unknown>)[name]
    : undefined;
}

/** A fetch failure's code, read by property (its errors may come from another realm). */
function networkCode(error: unknown): string | undefined {
  const name = property(error, 'name');
  if (name === 'TimeoutError' || name === 'AbortError') return 'timeout';
  const code = property(property(error, 'cause'), 'code');
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,40}$/.test(code) ? code : undefined;
}

export class SlackWebhookChatPort implements ChatPort {
  readonly #secrets: SecretPort;
  readonly #secretName: string;
  readonly #options: PostOptions;

  constructor(options: SlackWebhookOptions) {
    this.#secrets = options.secrets;
    this.#secretName = options.secretName;
    this.#options = {
      retry: { ...DEFAULT_RETRY, ...options.retry },
      timeoutMs: options.timeoutMs ?? 10_000,
      fetch: options.fetch ?? globalThis.fetch,
    };
  }

  async post(message: ChatMessage): Promise<void> {
    let secret: string;
    try {
      secret = await this.#secrets.get(this.#secretName);
    } catch {
      throw new NotificationFailed(
        `Slack: the webhook secret ${JSON.stringify(this.#secretName)} could not be read`,
      );
    }
    await postWithRetries(webhookUrl(secret), message, this.#options, 'Slack webhook');
  }
}

interface PostOptions {
  readonly retry: RetryOptions;
  readonly timeoutMs: number;
  readonly fetch: typeof globalThis.fetch;
}

/** Posts the message as Slack takes it, retried; NotificationFailed naming `what` after the last try. */
async function postWithRetries(
  url: URL,
  message: ChatMessage,
  options: PostOptions,
  what: string,
  fields: Readonly<Record<string, unknown>> = {},
): Promise<void> {
  const { text, blocks } = message;
  const body = JSON.stringify({ ...fields, text, ...(blocks === undefined ? {} : { blocks }) });
  let tries = 0;
  try {
    await withRetries(async () => {
      tries += 1;
      await send(url, body, options, what);
    }, options.retry);
  } catch (error) {
    throw new NotificationFailed(
      `${what} failed after ${tries} ${tries === 1 ? 'attempt' : 'attempts'}: ${describeFailure(error)}`,
    );
  }
}

async function send(url: URL, body: string, options: PostOptions, what: string): Promise<void> {
  let response: Response;
  try {
    response = await options.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    throw new NetworkError(`the ${what} could not be reached`, networkCode(error));
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw new NetworkError(`the ${what} response was cut off`, networkCode(error));
  }
  if (response.ok) return;
  const code = slackErrorCode(text);
  throw new HttpStatusError(
    response.status,
    `HTTP ${response.status}${code === undefined ? '' : ` ${code}`}`,
    parseRetryAfter(response.headers.get('retry-after')),
  );
}

/**
 * Answers a Slack interaction at its response_url with a message only the user who clicked
 * sees. The URL comes from a payload Slack signed: https, or http on loopback (tests).
 */
export async function postEphemeral(
  responseUrl: string,
  message: ChatMessage,
  options: Partial<PostOptions> = {},
): Promise<void> {
  await postWithRetries(
    slackUrl(responseUrl, 'the Slack response_url'),
    message,
    { retry: DEFAULT_RETRY, timeoutMs: 10_000, fetch: globalThis.fetch, ...options },
    'Slack response_url',
    { response_type: 'ephemeral', replace_original: false },
  );
}
