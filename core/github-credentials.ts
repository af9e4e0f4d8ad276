// What the deployment's GitHub credentials secret may hold, parsed once: a token (a personal
// access token, as a plain string or `{"token": "..."}`) or a GitHub App (`{"appId",
// "installationId", "privateKey"}`), each optionally with the `apiUrl` of GitHub Enterprise.
// A bad secret is an InvalidInput naming the field; no message ever quotes the secret.
import { createPrivateKey } from 'node:crypto';
import { z } from 'zod';
import { InvalidInput } from './errors.ts';
import { parseInput } from './validation.ts';

export const GITHUB_API_URL = 'https://api.github.com';

/** GitHub's tokens (ghp_, github_pat_, gho_, ghs_, the older 40 hex): letters, digits, "_". */
const TOKEN = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9_]{20,255}$/, 'must be a GitHub token (20-255 letters, digits and "_")');

const NUMERIC_ID = (what: string) =>
  z
    .union([z.string().trim(), z.number()])
    .transform((value) => String(value))
    .refine((value) => /^[1-9][0-9]{0,19}$/.test(value), `must be the ${what} (a number)`);

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** https, or http on the loopback only (a test double); no credentials, query or fragment. */
const API_URL = z
  .string()
  .trim()
  .refine((value) => {
    if (!URL.canParse(value)) return false;
    const url = new URL(value);
    const scheme =
      url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
    return scheme && url.username === '' && url.password === '' && !url.search && !url.hash;
  }, 'must be an https:// URL such as https://github.example.com/api/v3')
  .transform((value) => value.replace(/\/+$/, ''));

/**
 * A PEM RSA private key, PKCS#1 ("BEGIN RSA PRIVATE KEY", what GitHub downloads) or PKCS#8.
 * A key pasted with literal "\n" instead of line breaks is accepted too.
 */
const PRIVATE_KEY = z
  .string()
  .transform((value) => (value.includes('\n') ? value : value.replaceAll('\\n', '\n')).trim())
  .refine((pem) => {
    if (!pem.startsWith('-----BEGIN')) return false;
    try {
      return createPrivateKey({ key: pem, format: 'pem' }).asymmetricKeyType === 'rsa';
    } catch {
      return false;
    }
  }, 'must be the GitHub App\'s PEM private key ("-----BEGIN RSA PRIVATE KEY-----" or PKCS#8)');

const TOKEN_JSON = z.strictObject({ token: TOKEN, apiUrl: API_URL.optional() });

const APP_JSON = z.strictObject({
  /** The App ID (a number) or its Client ID (Iv…), GitHub takes either as the JWT's issuer. */
  appId: z
    .union([z.string().trim(), z.number()])
    .transform((value) => String(value))
    .refine(
      (value) => /^[1-9][0-9]{0,19}$/.test(value) || /^Iv[A-Za-z0-9.]{4,40}$/.test(value),
      'must be the App ID (a number) or its Client ID (Iv…)',
    ),
  installationId: NUMERIC_ID('installation id'),
  privateKey: PRIVATE_KEY,
  apiUrl: API_URL.optional(),
});

export type GitHubCredentialsConfig =
  | { readonly kind: 'token'; readonly token: string; readonly apiUrl: string }
  | {
      readonly kind: 'app';
      readonly appId: string;
      readonly installationId: string;
      readonly privateKey: string;
      readonly apiUrl: string;
    };

const APP_FIELDS = ['appId', 'installationId', 'privateKey'];

/**
 * The credentials in `text` (the secret's value). `field` names the secret in errors, e.g.
 * `githubCredentials` → `githubCredentials.privateKey: must be ...`.
 */
export function parseGitHubCredentials(text: string, field: string): GitHubCredentialsConfig {
  const trimmed = text.trim();
  if (trimmed === '') throw new InvalidInput(field, 'is empty');
  if (!trimmed.startsWith('{')) {
    return { kind: 'token', token: parseInput(TOKEN, trimmed, field), apiUrl: GITHUB_API_URL };
  }
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    // JSON.parse's message quotes the text around the error: never pass it on.
    throw new InvalidInput(field, 'starts with "{" but is not valid JSON');
  }
  const isApp =
    typeof json === 'object' &&
    json !== null &&
    APP_FIELDS.some((name) => Object.hasOwn(json, name));
  if (isApp) {
    const app = parseInput(APP_JSON, json, field);
    return { kind: 'app', ...app, apiUrl: app.apiUrl ?? GITHUB_API_URL };
  }
  if (typeof json === 'object' && json !== null && Object.hasOwn(json, 'token')) {
    const pat = parseInput(TOKEN_JSON, json, field);
    return { kind: 'token', token: pat.token, apiUrl: pat.apiUrl ?? GITHUB_API_URL };
  }
  throw new InvalidInput(
    field,
    'must be a GitHub token, {"token": ...}, or a GitHub App\'s {"appId", "installationId", "privateKey"}',
  );
}

/**
 * The host git clones from for an API URL: github.com for api.github.com, NAME.ghe.com for
 * api.NAME.ghe.com, and GitHub Enterprise Server's own host (its API is HOST/api/v3).
 */
export function gitHostOf(apiUrl: string): string {
  const host = new URL(apiUrl).hostname.toLowerCase();
  return host.startsWith('api.') ? host.slice('api.'.length) : host;
}

/**
 * `{ owner, name }` of an https repository URL on `gitHost` (`https://HOST/OWNER/NAME[.git]`);
 * undefined for a local path, another host or another shape.
 */
export function repositoryOnHost(
  repository: string,
  gitHost: string,
): { owner: string; name: string } | undefined {
  if (!URL.canParse(repository)) return undefined;
  const url = new URL(repository);
  if (url.protocol !== 'https:' || url.hostname.toLowerCase() !== gitHost.toLowerCase()) {
    return undefined;
  }
  const match = /^\/([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(url.pathname);
  if (match === null) return undefined;
  return { owner: match[1] ?? '', name: match[2] ?? '' };
}

/**
 * What an executor job asks the deployment's GitHubToken function for: a token to clone its
 * repository (the job role may invoke the function, never read the secret itself).
 */
export const CLONE_TOKEN_REQUEST = z.strictObject({
  repository: z.string().min(1).max(2048),
});
export type CloneTokenRequest = z.output<typeof CLONE_TOKEN_REQUEST>;

/** The answer: the token and the host it is for (sent nowhere else). */
export const CLONE_TOKEN = z.strictObject({
  kind: z.enum(['token', 'app']),
  gitHost: z
    .string()
    .regex(/^[a-z0-9.-]{1,253}$/, 'must be a host name')
    .transform((host) => host.toLowerCase()),
  token: TOKEN,
});
export type CloneToken = z.output<typeof CLONE_TOKEN>;
