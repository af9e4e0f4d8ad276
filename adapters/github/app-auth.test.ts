// The App's JWT is checked with node:crypto against the public half of a key made here; the
// installation token endpoint is a real HTTP server (RecordingServer) that checks the JWT too.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { type KeyObject, generateKeyPairSync, verify } from 'node:crypto';
import { rejection } from '../../test/support/caught.ts';
import {
  type RecordedRequest,
  RecordingServer,
  type ScriptedResponse,
} from '../../test/support/recording-server.ts';
import { GitHubAuthFailed } from '../../core/errors.ts';
import {
  GitHubAppInstallation,
  SecretGitHubCredentials,
  TOKEN_REFRESH_MARGIN_MS,
  appJwt,
} from './app-auth.ts';
import { GitHubCodeHost, createOctokit } from './code-host.ts';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PKCS1 = String(privateKey.export({ type: 'pkcs1', format: 'pem' }));
const PKCS8 = String(privateKey.export({ type: 'pkcs8', format: 'pem' }));
const APP_ID = '424242';
const INSTALLATION = '99';
const TOKENS_PATH = `/app/installations/${INSTALLATION}/access_tokens`;
const FAST_RETRY = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5, random: () => 0 };
const T0 = Date.parse('2026-03-01T12:00:00Z');

/** The JWT's claims, after checking its RS256 signature with `key`; throws when it is forged. */
function verifiedClaims(jwt: string, key: KeyObject = publicKey): Record<string, unknown> {
  const [header = '', payload = '', signature = ''] = jwt.split('.');
  expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toEqual({
    alg: 'RS256',
    typ: 'JWT',
  });
  const valid = verify(
    'sha256',
    Buffer.from(`${header}.${payload}`),
    key,
    Buffer.from(signature, 'base64url'),
  );
  if (!valid) throw new Error('the JWT signature does not verify');
  return JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
}

/** Answers like GitHub: 201 with a token when the bearer JWT is the App's, 401 otherwise. */
function tokenEndpoint(issued: string[], expiresIn = 60 * 60 * 1000, now = () => T0) {
  return (request: RecordedRequest): ScriptedResponse => {
    const bearer = /^Bearer (.+)$/.exec(String(request.headers.authorization))?.[1] ?? '';
    try {
      if (verifiedClaims(bearer).iss !== APP_ID) throw new Error('wrong issuer');
    } catch {
      return { status: 401, body: { message: 'A JSON web token could not be decoded' } };
    }
    const token = `ghs_${'t'.repeat(30)}${String(issued.length).padStart(6, '0')}`;
    issued.push(token);
    return {
      status: 201,
      body: { token, expires_at: new Date(now() + expiresIn).toISOString() },
    };
  };
}

describe('appJwt', () => {
  it.each([
    ['PKCS#1', PKCS1],
    ['PKCS#8', PKCS8],
  ])(
    'signs RS256 claims that a %s key pair verifies: iss, iat a minute back, exp in 9 minutes',
    (_kind, key) => {
      const claims = verifiedClaims(appJwt(APP_ID, key, T0 + 999));
      expect(claims).toEqual({ iss: APP_ID, iat: T0 / 1000 - 60, exp: T0 / 1000 + 540 });
    },
  );

  it('makes a JWT that another key does not verify', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    expect(() => verifiedClaims(appJwt(APP_ID, PKCS1, T0), other)).toThrow('does not verify');
  });
});

describe('GitHubAppInstallation', () => {
  let server: RecordingServer;
  let now: number;
  const issued: string[] = [];

  beforeEach(async () => {
    server = await RecordingServer.start();
    now = T0;
    issued.length = 0;
  });

  afterEach(async () => {
    await server.close();
  });

  const app = (scope?: ConstructorParameters<typeof GitHubAppInstallation>[0]['scope']) =>
    new GitHubAppInstallation({
      appId: APP_ID,
      installationId: INSTALLATION,
      privateKey: PKCS1,
      apiUrl: server.baseUrl,
      retry: FAST_RETRY,
      now: () => now,
      ...(scope ? { scope } : {}),
    });

  it('asks for a token narrowed to a repository and contents: read, and reuses it', async () => {
    server.route('POST', TOKENS_PATH, tokenEndpoint(issued));
    const tokens = app({ repositories: ['infra'], permissions: { contents: 'read' } });

    const [first, concurrent] = await Promise.all([tokens.token(), tokens.token()]);
    now += 60 * 60 * 1000 - TOKEN_REFRESH_MARGIN_MS - 1;
    const later = await tokens.token();

    expect(first).toBe(issued[0]);
    expect(concurrent).toBe(first);
    expect(later).toBe(first);
    const requests = server.requestsTo('POST', TOKENS_PATH);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.body).toEqual({
      repositories: ['infra'],
      permissions: { contents: 'read' },
    });
    expect(requests[0]?.headers['x-github-api-version']).toBe('2022-11-28');
  });

  it('mints a new token five minutes before the old one expires', async () => {
    server.route(
      'POST',
      TOKENS_PATH,
      tokenEndpoint(issued, 60 * 60 * 1000, () => now),
    );
    const tokens = app();
    const first = await tokens.token();
    now += 60 * 60 * 1000 - TOKEN_REFRESH_MARGIN_MS;
    const second = await tokens.token();

    expect(second).not.toBe(first);
    expect(issued).toEqual([first, second]);
    // Without a scope the request asks for nothing narrower than the installation has.
    expect(server.requestsTo('POST', TOKENS_PATH)[1]?.body).toEqual({});
  });

  it('retries a 5xx and then gets its token', async () => {
    server.route('POST', TOKENS_PATH, { status: 502, body: 'bad gateway' }, tokenEndpoint(issued));
    expect(await app().token()).toBe(issued[0]);
    expect(server.requestsTo('POST', TOKENS_PATH)).toHaveLength(2);
  });

  it('fails with GitHubAuthFailed when GitHub refuses the JWT, quoting neither key nor JWT', async () => {
    server.route('POST', TOKENS_PATH, tokenEndpoint(issued));
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const wrongKey = String(other.export({ type: 'pkcs1', format: 'pem' }));
    const tokens = new GitHubAppInstallation({
      appId: APP_ID,
      installationId: INSTALLATION,
      privateKey: wrongKey,
      apiUrl: server.baseUrl,
      retry: FAST_RETRY,
    });

    const error = await rejection(tokens.token());

    expect(error).toBeInstanceOf(GitHubAuthFailed);
    const message = (error as Error).message;
    expect(message).toBe(
      `GitHub App ${APP_ID} could not get a token for installation ${INSTALLATION} after 1 attempt: ` +
        'HTTP 401 (A JSON web token could not be decoded): check appId and privateKey',
    );
    const jwt = String(server.requests[0]?.headers.authorization).slice('Bearer '.length);
    expect(message).not.toContain(jwt.slice(-20));
    expect(issued).toEqual([]);
  });

  it('says which installation GitHub does not know, and that a 422 is a missing grant', async () => {
    server.route('POST', TOKENS_PATH, { status: 404, body: { message: 'Not Found' } });
    expect(String(await rejection(app().token()))).toContain('check installationId');
    server.route('POST', TOKENS_PATH, { status: 422, body: { message: 'no access' } });
    expect(String(await rejection(app({ repositories: ['other'] }).token()))).toContain(
      'lacks a repository or permission',
    );
  });
});

describe('SecretGitHubCredentials', () => {
  let server: RecordingServer;
  const issued: string[] = [];
  const secretValues = new Map<string, string>();
  const secrets = {
    get: (name: string) => {
      const value = secretValues.get(name);
      return value === undefined
        ? Promise.reject(new Error(`no secret ${name}`))
        : Promise.resolve(value);
    },
  };

  beforeEach(async () => {
    server = await RecordingServer.start();
    issued.length = 0;
    secretValues.clear();
  });

  afterEach(async () => {
    await server.close();
  });

  const appSecret = (key: string = PKCS1) =>
    JSON.stringify({
      appId: Number(APP_ID),
      installationId: INSTALLATION,
      privateKey: key,
      apiUrl: server.baseUrl,
    });

  it('gives a personal access token as it is, for github.com', async () => {
    const pat = `github_pat_${'x'.repeat(40)}`;
    secretValues.set('gh', pat);
    const credentials = new SecretGitHubCredentials({ secrets, secretId: 'gh' });
    expect(await credentials.token()).toBe(pat);
    expect(await credentials.resolve()).toMatchObject({
      kind: 'token',
      gitHost: 'github.com',
      apiUrl: 'https://api.github.com',
    });
    expect(server.requests).toHaveLength(0);
  });

  it("mints an App's installation token, and a new App when the secret changes", async () => {
    server.route('POST', TOKENS_PATH, tokenEndpoint(issued, 60 * 60 * 1000, Date.now));
    secretValues.set('gh', appSecret());
    const credentials = new SecretGitHubCredentials({
      secrets,
      secretId: 'gh',
      retry: FAST_RETRY,
    });
    expect(await credentials.token()).toBe(issued[0]);
    expect(await credentials.token()).toBe(issued[0]);
    secretValues.set('gh', appSecret(PKCS8));
    expect(await credentials.token()).toBe(issued[1]);
    expect(await credentials.resolve()).toMatchObject({ kind: 'app', gitHost: '127.0.0.1' });
  });

  it('names the secret and the bad field, never its value', async () => {
    const broken = appSecret().replace('"installationId":"99"', '"installationId":"ninety"');
    secretValues.set('arn:gh', broken);
    const error = await rejection(
      new SecretGitHubCredentials({ secrets, secretId: 'arn:gh' }).token(),
    );
    expect(error).toBeInstanceOf(GitHubAuthFailed);
    expect((error as Error).message).toBe(
      'the GitHub credentials in secret arn:gh are not usable: secret.installationId: must be the installation id (a number)',
    );
    const unread = await rejection(
      new SecretGitHubCredentials({ secrets, secretId: 'missing' }).token(),
    );
    expect(String(unread)).toContain('secret missing are not usable: no secret missing');
  });

  it("authenticates the code host's requests with the installation token", async () => {
    server.route('POST', TOKENS_PATH, tokenEndpoint(issued, 60 * 60 * 1000, Date.now));
    server.route('POST', `/repos/acme/infra/statuses/${'a'.repeat(40)}`, {
      status: 201,
      body: { id: 1 },
    });
    secretValues.set('gh', appSecret());
    const credentials = new SecretGitHubCredentials({
      secrets,
      secretId: 'gh',
      retry: FAST_RETRY,
      scope: { repositories: ['infra'] },
    });
    const host = new GitHubCodeHost({
      octokit: createOctokit({ token: credentials, baseUrl: server.baseUrl }),
      owner: 'acme',
      repo: 'infra',
      retry: FAST_RETRY,
    });

    await host.setCommitStatus('a'.repeat(40), {
      state: 'success',
      context: 'stepform/plan/dev',
      description: 'planned',
    });

    const status = server.requestsTo('POST', `/repos/acme/infra/statuses/${'a'.repeat(40)}`);
    expect(status[0]?.headers.authorization).toBe(`token ${issued[0]}`);
  });

  it('reports unusable credentials as a failed notification, not as the token', async () => {
    secretValues.set('gh', 'placeholder with spaces and "quotes"');
    const host = new GitHubCodeHost({
      octokit: createOctokit({
        token: new SecretGitHubCredentials({ secrets, secretId: 'gh' }),
        baseUrl: server.baseUrl,
      }),
      owner: 'acme',
      repo: 'infra',
      retry: FAST_RETRY,
    });
    const error = await rejection(
      host.setCommitStatus('a'.repeat(40), { state: 'success', context: 'c', description: 'd' }),
    );
    expect(error).toMatchObject({ name: 'NotificationFailed' });
    expect((error as Error).message).toContain('secret gh are not usable: secret: must be');
    expect((error as Error).message).not.toContain('placeholder');
    expect(server.requests).toHaveLength(0);
  });
});
