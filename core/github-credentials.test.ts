import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { caught } from '../test/support/caught.ts';
import {
  CLONE_TOKEN,
  GITHUB_API_URL,
  gitHostOf,
  parseGitHubCredentials,
  repositoryOnHost,
} from './github-credentials.ts';
import { InvalidInput } from './errors.ts';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PKCS1 = String(privateKey.export({ type: 'pkcs1', format: 'pem' }));
const PKCS8 = String(privateKey.export({ type: 'pkcs8', format: 'pem' }));
const PAT = 'ghp_0123456789abcdefghijklmnopqrstuvwxyz';
/** The body of the PEM: a fragment that must never appear in an error message. */
const KEY_BODY = PKCS1.split('\n')[3] ?? '';

function failure(text: string): InvalidInput {
  const error = caught(() => parseGitHubCredentials(text, 'secret'));
  expect(error).toBeInstanceOf(InvalidInput);
  expect((error as Error).message).not.toContain(KEY_BODY);
  return error as InvalidInput;
}

describe('parseGitHubCredentials', () => {
  it('reads a plain personal access token, trimmed, for github.com', () => {
    expect(parseGitHubCredentials(`  ${PAT}\n`, 'secret')).toEqual({
      kind: 'token',
      token: PAT,
      apiUrl: GITHUB_API_URL,
    });
  });

  it('reads a token with the API URL of GitHub Enterprise', () => {
    const text = JSON.stringify({ token: PAT, apiUrl: 'https://git.acme.example/api/v3/' });
    expect(parseGitHubCredentials(text, 'secret')).toEqual({
      kind: 'token',
      token: PAT,
      apiUrl: 'https://git.acme.example/api/v3',
    });
  });

  it.each([
    ['PKCS#1 (what GitHub downloads)', PKCS1],
    ['PKCS#8', PKCS8],
  ])('reads a GitHub App with a %s key', (_kind, key) => {
    const text = JSON.stringify({ appId: 123456, installationId: '7890', privateKey: key });
    expect(parseGitHubCredentials(text, 'secret')).toEqual({
      kind: 'app',
      appId: '123456',
      installationId: '7890',
      privateKey: key.trim(),
      apiUrl: GITHUB_API_URL,
    });
  });

  it('takes a key pasted with literal \\n for line breaks, and a Client ID as the App', () => {
    const flat = PKCS1.trim().split('\n').join('\\n');
    const parsed = parseGitHubCredentials(
      JSON.stringify({ appId: 'Iv23liAbCdEf', installationId: 1, privateKey: flat }),
      'secret',
    );
    expect(parsed).toMatchObject({ kind: 'app', appId: 'Iv23liAbCdEf', privateKey: PKCS1.trim() });
  });

  it('names the bad field of an App and never quotes the key', () => {
    const app = { appId: '1', installationId: '2', privateKey: PKCS1 };
    const mangled = PKCS1.replace(KEY_BODY, KEY_BODY.slice(0, 10));
    expect(failure(JSON.stringify({ ...app, privateKey: mangled })).field).toBe(
      'secret.privateKey',
    );
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const ecPem = String(ec.export({ type: 'pkcs8', format: 'pem' }));
    expect(failure(JSON.stringify({ ...app, privateKey: ecPem })).field).toBe('secret.privateKey');
    expect(failure(JSON.stringify({ ...app, installationId: 'abc' })).field).toBe(
      'secret.installationId',
    );
    expect(failure(JSON.stringify({ ...app, appId: '' })).field).toBe('secret.appId');
    const noInstallation = { appId: app.appId, privateKey: app.privateKey };
    expect(failure(JSON.stringify(noInstallation)).field).toBe('secret.installationId');
    expect(failure(JSON.stringify({ ...app, apiUrl: 'http://github.example.com' })).field).toBe(
      'secret.apiUrl',
    );
    expect(failure(JSON.stringify({ ...app, extra: 1 })).message).toContain('extra');
  });

  it('refuses JSON that does not parse without quoting any of it', () => {
    const broken = `{"appId": "1", "installationId": "2", "privateKey": "${PKCS1.split('\n').join('\\n')}"`;
    const error = failure(broken);
    expect(error.field).toBe('secret');
    expect(error.message).toBe('secret: starts with "{" but is not valid JSON');
  });

  it('refuses a generated placeholder or an empty secret as a token', () => {
    expect(failure("x'Q#9v!^zR&2(mK~`p)4[L@b]7}w?Ye:").field).toBe('secret');
    expect(failure('   ').message).toBe('secret: is empty');
    expect(failure('{"user": "x"}').message).toContain('GitHub App');
  });
});

describe('hosts and repositories', () => {
  it('maps an API URL to the host git clones from', () => {
    expect(gitHostOf(GITHUB_API_URL)).toBe('github.com');
    expect(gitHostOf('https://api.acme.ghe.com')).toBe('acme.ghe.com');
    expect(gitHostOf('https://git.acme.example/api/v3')).toBe('git.acme.example');
  });

  it('reads owner and name of an https repository on that host only', () => {
    expect(repositoryOnHost('https://github.com/acme/infra.git', 'github.com')).toEqual({
      owner: 'acme',
      name: 'infra',
    });
    expect(repositoryOnHost('https://GitHub.com/acme/infra/', 'github.com')).toEqual({
      owner: 'acme',
      name: 'infra',
    });
    expect(repositoryOnHost('https://gitlab.com/acme/infra', 'github.com')).toBeUndefined();
    expect(repositoryOnHost('/srv/git/infra', 'github.com')).toBeUndefined();
    expect(repositoryOnHost('https://github.com/acme/infra/extra', 'github.com')).toBeUndefined();
  });

  it('parses the clone token answer, naming a bad field', () => {
    expect(CLONE_TOKEN.parse({ kind: 'app', gitHost: 'github.com', token: PAT }).token).toBe(PAT);
    expect(CLONE_TOKEN.safeParse({ kind: 'app', gitHost: 'github.com', token: 'x' }).success).toBe(
      false,
    );
  });
});
