// GitHub credentials as a token provider: a personal access token as it is, or a GitHub App's
// installation token, minted with the App's JWT (RS256, signed here with node:crypto) and
// reused until five minutes before it expires. SecretGitHubCredentials reads which of the two
// from the deployment's secret. No error message carries the key, the JWT or a token.
import { createPrivateKey, sign } from 'node:crypto';
import { stripVTControlCharacters } from 'node:util';
import { z } from 'zod';
import { GitHubAuthFailed, StepformError, describeError } from '../../core/errors.ts';
import {
  type GitHubCredentialsConfig,
  gitHostOf,
  parseGitHubCredentials,
} from '../../core/github-credentials.ts';
import type { SecretPort } from '../../core/ports.ts';
import {
  DEFAULT_RETRY,
  HttpStatusError,
  NetworkError,
  type RetryOptions,
  parseRetryAfter,
  statusOf,
  withRetries,
} from '../http-retry.ts';

/** A GitHub token for the API and for git over HTTPS, valid for five more minutes at least. */
export interface GitHubCredentials {
  token(): Promise<string>;
}

/** GitHub accepts a JWT that lives 10 minutes at most; iat is backdated for clock drift. */
const JWT_BACKDATE_S = 60;
const JWT_LIFETIME_S = 9 * 60;
/** An installation token (one hour) is replaced this long before it expires. */
export const TOKEN_REFRESH_MARGIN_MS = 5 * 60 * 1000;

export type Permission = 'read' | 'write';

/** What an installation token may do: fewer repositories and permissions than the App has. */
export interface TokenScope {
  /** Repository names (without the owner) of the installation's account. */
  readonly repositories?: readonly string[];
  /** E.g. `{ contents: 'read' }`. */
  readonly permissions?: Readonly<Record<string, Permission>>;
}

export interface HttpOptions {
  /** Replaces the global fetch (tests). */
  readonly fetch?: typeof globalThis.fetch;
  /** The clock, in epoch milliseconds. */
  readonly now?: () => number;
  readonly retry?: Partial<RetryOptions>;
  /** Per request. */
  readonly timeoutMs?: number;
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** The App's JWT (RS256): iss = the App, iat a minute back, exp nine minutes ahead. */
export function appJwt(appId: string, privateKey: string, nowMs: number): string {
  const now = Math.floor(nowMs / 1000);
  const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const payload = base64url(
    JSON.stringify({ iat: now - JWT_BACKDATE_S, exp: now + JWT_LIFETIME_S, iss: appId }),
  );
  const signed = `${header}.${payload}`;
  const key = createPrivateKey({ key: privateKey, format: 'pem' });
  return `${signed}.${base64url(sign('sha256', Buffer.from(signed), key))}`;
}

const INSTALLATION_TOKEN = z.looseObject({
  token: z.string().min(1),
  expires_at: z.iso.datetime({ offset: true }),
});

/** GitHub's short error message of a failed response, one line, no control characters. */
async function gitHubMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  let message: unknown;
  try {
    message = (JSON.parse(text) as { message?: unknown }).message;
  } catch {
    return '';
  }
  return typeof message === 'string'
    ? stripVTControlCharacters(message).replace(/\s+/g, ' ').trim().slice(0, 200)
    : '';
}

export interface GitHubAppOptions extends HttpOptions {
  readonly appId: string;
  readonly installationId: string;
  readonly privateKey: string;
  /** @default https://api.github.com */
  readonly apiUrl?: string;
  /** What the tokens may do. @default - all the installation may */
  readonly scope?: TokenScope;
}

/** A GitHub App installation's tokens, minted on demand and cached until near expiry. */
export class GitHubAppInstallation implements GitHubCredentials {
  readonly #options: GitHubAppOptions;
  readonly #fetch: typeof globalThis.fetch;
  readonly #now: () => number;
  readonly #retry: RetryOptions;
  #cached: { token: string; expiresAtMs: number } | undefined;
  #pending: Promise<string> | undefined;

  constructor(options: GitHubAppOptions) {
    this.#options = options;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#now = options.now ?? Date.now;
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  async token(): Promise<string> {
    const cached = this.#cached;
    if (cached !== undefined && this.#now() < cached.expiresAtMs - TOKEN_REFRESH_MARGIN_MS) {
      return cached.token;
    }
    // Concurrent callers share one request.
    this.#pending ??= this.#mint().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #mint(): Promise<string> {
    const { appId, installationId, privateKey, scope } = this.#options;
    const apiUrl = (this.#options.apiUrl ?? 'https://api.github.com').replace(/\/+$/, '');
    const url = `${apiUrl}/app/installations/${encodeURIComponent(installationId)}/access_tokens`;
    const body = {
      ...(scope?.repositories ? { repositories: scope.repositories } : {}),
      ...(scope?.permissions ? { permissions: scope.permissions } : {}),
    };
    const what = `GitHub App ${appId} could not get a token for installation ${installationId}`;
    let tries = 0;
    let answer: unknown;
    try {
      answer = await withRetries(async () => {
        tries += 1;
        let response: Response;
        try {
          response = await this.#fetch(url, {
            method: 'POST',
            headers: {
              accept: 'application/vnd.github+json',
              authorization: `Bearer ${appJwt(appId, privateKey, this.#now())}`,
              'content-type': 'application/json',
              'user-agent': 'stepform',
              'x-github-api-version': '2022-11-28',
            },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(this.#options.timeoutMs ?? 10_000),
          });
        } catch (error) {
          // A fetch error may quote the URL; say what kind of failure it was, nothing more.
          const name = describeError(error).name;
          throw new NetworkError(
            name === 'TimeoutError' ? 'timed out' : 'network error',
            (error as { cause?: { code?: string } }).cause?.code,
          );
        }
        if (!response.ok) {
          const message = await gitHubMessage(response);
          throw new HttpStatusError(
            response.status,
            `HTTP ${response.status}${message === '' ? '' : ` (${message})`}`,
            parseRetryAfter(response.headers.get('retry-after'), this.#now()),
          );
        }
        const data: unknown = await response.json();
        return data;
      }, this.#retry);
    } catch (error) {
      const attempts = `after ${tries} ${tries === 1 ? 'attempt' : 'attempts'}`;
      const detail =
        error instanceof HttpStatusError || error instanceof NetworkError
          ? error.message
          : `unexpected ${describeError(error).name}`;
      const hint =
        statusOf(error) === 401
          ? ': check appId and privateKey'
          : statusOf(error) === 404
            ? ': check installationId'
            : statusOf(error) === 422
              ? ': the installation lacks a repository or permission asked for'
              : '';
      throw new GitHubAuthFailed(`${what} ${attempts}: ${detail}${hint}`, { cause: error });
    }
    const parsed = INSTALLATION_TOKEN.safeParse(answer);
    if (!parsed.success) throw new GitHubAuthFailed(`${what}: GitHub's answer has no token`);
    this.#cached = { token: parsed.data.token, expiresAtMs: Date.parse(parsed.data.expires_at) };
    return parsed.data.token;
  }
}

/** A personal access token: the same token every time. */
export class StaticToken implements GitHubCredentials {
  readonly #token: string;

  constructor(token: string) {
    this.#token = token;
  }

  token(): Promise<string> {
    return Promise.resolve(this.#token);
  }
}

/** The token provider of parsed credentials; `scope` narrows an App's tokens. */
export function credentialsFor(
  config: GitHubCredentialsConfig,
  options: HttpOptions & { readonly scope?: TokenScope } = {},
): GitHubCredentials {
  if (config.kind === 'token') return new StaticToken(config.token);
  return new GitHubAppInstallation({ ...options, ...config });
}

export interface ResolvedCredentials {
  readonly kind: GitHubCredentialsConfig['kind'];
  readonly apiUrl: string;
  /** Where git clones from with these credentials (github.com, or the Enterprise host). */
  readonly gitHost: string;
  readonly credentials: GitHubCredentials;
}

export interface SecretGitHubCredentialsOptions extends HttpOptions {
  readonly secrets: SecretPort;
  readonly secretId: string;
  /** Narrows an App's tokens (a token from a PAT cannot be narrowed). */
  readonly scope?: TokenScope;
}

/**
 * The credentials in a secret, read when first needed (the secret port caches the value); an
 * App's token cache lives as long as the secret's value does not change. Every failure is a
 * GitHubAuthFailed naming the secret and what is wrong with it, never its value.
 */
export class SecretGitHubCredentials implements GitHubCredentials {
  readonly #options: SecretGitHubCredentialsOptions;
  #current: { source: string; resolved: ResolvedCredentials } | undefined;

  constructor(options: SecretGitHubCredentialsOptions) {
    this.#options = options;
  }

  async resolve(): Promise<ResolvedCredentials> {
    const { secrets, secretId, scope, ...http } = this.#options;
    const failed = (error: unknown) =>
      new GitHubAuthFailed(
        `the GitHub credentials in secret ${secretId} are not usable: ${describeError(error).message}`,
        { cause: error },
      );
    let source: string;
    try {
      source = await secrets.get(secretId);
    } catch (error) {
      throw failed(error);
    }
    if (this.#current?.source === source) return this.#current.resolved;
    let config: GitHubCredentialsConfig;
    try {
      config = parseGitHubCredentials(source, 'secret');
    } catch (error) {
      if (error instanceof StepformError) throw failed(error);
      throw failed(new Error('cannot be parsed'));
    }
    const resolved: ResolvedCredentials = {
      kind: config.kind,
      apiUrl: config.apiUrl,
      gitHost: gitHostOf(config.apiUrl),
      credentials: credentialsFor(config, { ...http, ...(scope ? { scope } : {}) }),
    };
    this.#current = { source, resolved };
    return resolved;
  }

  async token(): Promise<string> {
    return (await this.resolve()).credentials.token();
  }
}
