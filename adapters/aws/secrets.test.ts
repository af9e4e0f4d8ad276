import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { NotFound } from '../../core/errors.ts';
import { DEFAULT_SECRET_TTL_MS, SecretUnavailable, SecretsManagerSecretPort } from './secrets.ts';

const sm = mockClient(SecretsManagerClient);
const client = new SecretsManagerClient({ region: 'us-east-1' });
const VALUE = 'xoxb-super-secret-value';

beforeEach(() => {
  sm.reset();
});

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('SecretsManagerSecretPort', () => {
  it('gets the secret string with GetSecretValue', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: VALUE });
    expect(await new SecretsManagerSecretPort(client).get('stepform/slack')).toBe(VALUE);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(sm.commandCalls(GetSecretValueCommand)[0]!.args[0].input).toEqual({
      SecretId: 'stepform/slack',
    });
  });

  it('reads a binary secret as UTF-8', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: new TextEncoder().encode('bin') });
    expect(await new SecretsManagerSecretPort(client).get('b')).toBe('bin');
  });

  it('serves a cache hit without a second call, until the TTL (5 minutes) passes', async () => {
    const time = clock();
    sm.on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: 'v1' })
      .resolves({ SecretString: 'v2' });
    const secrets = new SecretsManagerSecretPort(client, { now: time.now });
    expect(await secrets.get('s')).toBe('v1');
    time.advance(DEFAULT_SECRET_TTL_MS - 1);
    expect(await secrets.get('s')).toBe('v1');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    time.advance(1);
    expect(await secrets.get('s')).toBe('v2');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('caches per secret name', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'a' }).resolves({ SecretString: 'A' });
    sm.on(GetSecretValueCommand, { SecretId: 'b' }).resolves({ SecretString: 'B' });
    const secrets = new SecretsManagerSecretPort(client);
    expect([await secrets.get('a'), await secrets.get('b'), await secrets.get('a')]).toEqual([
      'A',
      'B',
      'A',
    ]);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('makes one call for two concurrent gets (single flight)', async () => {
    let resolve: (value: { SecretString: string }) => void = () => {};
    sm.on(GetSecretValueCommand).callsFake(
      async () =>
        new Promise<{ SecretString: string }>((done) => {
          resolve = done;
        }),
    );
    const secrets = new SecretsManagerSecretPort(client);
    const both = Promise.all([secrets.get('s'), secrets.get('s')]);
    await new Promise((done) => setImmediate(done));
    resolve({ SecretString: VALUE });
    expect(await both).toEqual([VALUE, VALUE]);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('does not cache a failure, and never puts a value in an error', async () => {
    sm.on(GetSecretValueCommand)
      .rejectsOnce(Object.assign(new Error(`throttled ${VALUE}`), { name: 'ThrottlingException' }))
      .resolves({ SecretString: VALUE });
    const secrets = new SecretsManagerSecretPort(client);
    const error: unknown = await secrets.get('s').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretUnavailable);
    expect((error as Error).message).toBe(
      'secret s could not be read from Secrets Manager: ThrottlingException',
    );
    expect(JSON.stringify(error)).not.toContain(VALUE);
    expect(await secrets.get('s')).toBe(VALUE);
  });

  it('throws NotFound for a missing secret', async () => {
    sm.on(GetSecretValueCommand).rejects(
      new ResourceNotFoundException({ message: 'not found', $metadata: {} }),
    );
    await expect(new SecretsManagerSecretPort(client).get('nope')).rejects.toThrow(NotFound);
  });

  it('with ttlMs 0 reads every time', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: VALUE });
    const secrets = new SecretsManagerSecretPort(client, { ttlMs: 0 });
    await secrets.get('s');
    await secrets.get('s');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('clear() forgets cached values', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: VALUE });
    const secrets = new SecretsManagerSecretPort(client);
    await secrets.get('s');
    secrets.clear('s');
    await secrets.get('s');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });
});
