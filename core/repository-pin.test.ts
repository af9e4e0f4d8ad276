import { describe, expect, it } from '@jest/globals';
import { assertPinnedRepository, githubRepositoryPin } from './repository-pin.ts';

const PIN = githubRepositoryPin('acme/infra', 'GITHUB_REPOSITORY');

function refusal(repository: string, pin = PIN): unknown {
  try {
    assertPinnedRepository(repository, pin);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('assertPinnedRepository', () => {
  it('accepts the pinned GitHub repository, with or without .git, in any case', () => {
    for (const url of [
      'https://github.com/acme/infra',
      'https://github.com/acme/infra.git',
      'https://github.com/Acme/Infra',
    ]) {
      expect([url, refusal(url)]).toEqual([url, undefined]);
    }
  });

  it('refuses any other repository, naming input.repository', () => {
    for (const url of [
      'https://github.com/acme/infra-fork',
      'https://github.com/evil/infra',
      'https://github.com/acme/infra/',
      'https://github.com/acme/infra.git.git',
      'https://gitlab.com/acme/infra',
      'https://github.com.evil.test/acme/infra',
      'https://github.com:8443/acme/infra',
      '/home/me/infra',
    ]) {
      expect([url, refusal(url)]).toEqual([
        url,
        expect.objectContaining({
          name: 'InvalidInput',
          field: 'input.repository',
          message: expect.stringContaining('https://github.com/acme/infra'),
        }),
      ]);
    }
  });

  it('refuses every run where no repository is configured, saying what to set', () => {
    const pin = githubRepositoryPin(undefined, 'github.repository');

    expect(refusal('https://github.com/acme/infra', pin)).toMatchObject({
      name: 'InvalidInput',
      field: 'input.repository',
      message: expect.stringContaining('set github.repository'),
    });
  });

  it('accepts any repository where the pin is any (the local engine)', () => {
    expect(refusal('/home/me/infra', { kind: 'any' })).toBeUndefined();
    expect(refusal('https://example.test/x/y', { kind: 'any' })).toBeUndefined();
  });

  it('refuses a configured repository that is not owner/name', () => {
    expect(() => githubRepositoryPin('https://github.com/acme/infra', 'GITHUB_REPOSITORY')).toThrow(
      expect.objectContaining({ name: 'InvalidInput', field: 'GITHUB_REPOSITORY' }),
    );
  });
});
