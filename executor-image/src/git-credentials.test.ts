// The clone's credentials against real git over HTTPS: a private host (git http-backend behind
// a server that wants the token) is cloned with the token given to git through its
// environment only, and nothing of the token is left in the checkout.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SecretMasker } from '../../core/masking.ts';
import { CheckoutFailed } from '../../core/errors.ts';
import { rejection } from '../../test/support/caught.ts';
import {
  type GitHttpServer,
  bareRepository,
  startGitHttpServer,
} from '../../test/support/git-http-server.ts';
import { makeRepo, tempDir } from '../../test/support/repo.ts';
import { gitAuth, wantsCloneToken } from './git-credentials.ts';
import { checkoutCommit } from './workspace.ts';

const TOKEN = `ghs_${'s3cr3t'.repeat(6)}`;

/** Every file under `dir` whose bytes contain one of `needles`. */
async function filesContaining(dir: string, needles: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const bytes = await readFile(path);
    if (needles.some((needle) => bytes.includes(needle))) found.push(path);
  }
  return found;
}

describe('gitAuth', () => {
  const grant = { gitHost: '127.0.0.1', token: TOKEN };

  it('sends the token to the origin of an https repository on its host only', () => {
    const auth = gitAuth({}, 'https://127.0.0.1:8443/acme/infra.git', grant);
    const basic = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
    expect(auth).toEqual({
      env: {
        GIT_CONFIG_COUNT: '1',
        GIT_CONFIG_KEY_0: 'http.https://127.0.0.1:8443/.extraheader',
        GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
      },
      secrets: [TOKEN, basic],
    });
    expect(gitAuth({}, 'https://github.com/acme/infra', grant)).toBeUndefined();
    expect(gitAuth({}, 'http://127.0.0.1/acme/infra', grant)).toBeUndefined();
    expect(gitAuth({}, '/srv/repos/infra', grant)).toBeUndefined();
  });

  it('keeps configuration already given through GIT_CONFIG_COUNT', () => {
    const auth = gitAuth({ GIT_CONFIG_COUNT: '2' }, 'https://127.0.0.1/a/b', grant);
    expect(auth?.env).toMatchObject({
      GIT_CONFIG_COUNT: '3',
      GIT_CONFIG_KEY_2: expect.any(String),
    });
  });

  it('gives the masker every form git receives', () => {
    const auth = gitAuth({}, 'https://127.0.0.1/a/b', grant)!;
    const masker = new SecretMasker();
    masker.add(auth.secrets);
    const masked = masker.mask(JSON.stringify(auth.env));
    expect(masked).not.toContain(TOKEN);
    expect(masked).not.toContain(auth.secrets[1]);
  });

  it('asks for a token on Batch for an https repository only', () => {
    const env = { STEPFORM_GITHUB_TOKEN_FUNCTION: 'stepform-GitHubToken' };
    expect(wantsCloneToken(env, 'https://github.com/acme/infra')).toBe('stepform-GitHubToken');
    expect(wantsCloneToken(env, '/srv/repos/infra')).toBeUndefined();
    expect(wantsCloneToken({}, 'https://github.com/acme/infra')).toBeUndefined();
  });
});

describe('checkoutCommit of a private repository over HTTPS', () => {
  let server: GitHttpServer;
  let commit: string;
  let url: string;
  let env: Record<string, string | undefined>;

  beforeAll(async () => {
    const repo = await makeRepo();
    commit = await repo.commitFiles({ 'main.tf': '# private\n' }, 'private code');
    server = await startGitHttpServer(await bareRepository(repo.dir, 'acme/infra.git'), TOKEN);
    url = server.url('acme/infra.git');
    env = { ...process.env, GIT_SSL_CAINFO: server.caFile };
  });

  afterAll(async () => {
    await server.close();
  });

  it('clones with the token in the environment and leaves it in no file of the checkout', async () => {
    const work = await tempDir('private-clone');
    const auth = gitAuth(env, url, { gitHost: '127.0.0.1', token: TOKEN })!;
    const checkout = join(work, 'checkout');

    await checkoutCommit(url, commit, checkout, env, { cloneEnv: auth.env });

    expect(await readFile(join(checkout, 'main.tf'), 'utf8')).toBe('# private\n');
    const config = await readFile(join(checkout, '.git', 'config'), 'utf8');
    expect(config).toContain(url);
    expect(config).not.toContain('extraheader');
    expect(await filesContaining(work, auth.secrets)).toEqual([]);
    expect(server.authorizations).toContain(auth.env.GIT_CONFIG_VALUE_0?.slice(15));
  });

  it('fails with CheckoutFailed without the token, saying why there was none', async () => {
    const work = await tempDir('private-clone');
    const error = await rejection(
      checkoutCommit(url, commit, join(work, 'checkout'), env, {
        hint: 'no GitHub credentials: GitHubAuthFailed: the secret is not set',
      }),
    );
    expect(error).toBeInstanceOf(CheckoutFailed);
    // The server asked for credentials, and git had none to give.
    expect((error as Error).message).toContain('could not read Username');
    expect((error as Error).message).toMatch(
      /^cannot clone https:\/\/127\.0\.0\.1:\d+\/acme\/infra\.git: .*\(no GitHub credentials: GitHubAuthFailed: the secret is not set\)$/s,
    );
  });

  it('does not send the token to another origin', async () => {
    const work = await tempDir('private-clone');
    const elsewhere = gitAuth(env, 'https://127.0.0.1:1/acme/infra.git', {
      gitHost: '127.0.0.1',
      token: TOKEN,
    })!;
    const before = server.authorizations.length;
    await expect(
      checkoutCommit(url, commit, join(work, 'checkout'), env, { cloneEnv: elsewhere.env }),
    ).rejects.toBeInstanceOf(CheckoutFailed);
    expect(server.authorizations.slice(before).filter((value) => value !== undefined)).toEqual([]);
  });
});
