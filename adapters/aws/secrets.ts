// The Secrets Manager adapter of the secret port, cached: a warm Lambda reads each secret once
// per TTL (five minutes by default), and concurrent reads of a secret that is not cached
// share one GetSecretValue call. A secret's value is never logged nor put in an error message.
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { NotFound } from '../../core/errors.ts';
import type { SecretPort } from '../../core/ports.ts';
import { awsErrorName, isAwsError } from './aws-errors.ts';

export const DEFAULT_SECRET_TTL_MS = 5 * 60 * 1000;

export interface SecretCacheOptions {
  /** How long a value is reused; 0 turns the cache off (concurrent reads still share a call). */
  readonly ttlMs?: number;
  /** The clock, in epoch milliseconds (tests move it). */
  readonly now?: () => number;
}

/** A secret could not be read; the message names the secret and the AWS error, never a value. */
export class SecretUnavailable extends Error {
  override readonly name = 'SecretUnavailable';
}

export class SecretsManagerSecretPort implements SecretPort {
  readonly #client: SecretsManagerClient;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { value: string; expiresAt: number }>();
  readonly #inFlight = new Map<string, Promise<string>>();

  constructor(client: SecretsManagerClient, options: SecretCacheOptions = {}) {
    const ttlMs = options.ttlMs ?? DEFAULT_SECRET_TTL_MS;
    if (!Number.isFinite(ttlMs) || ttlMs < 0) throw new RangeError('ttlMs must be 0 or more');
    this.#client = client;
    this.#ttlMs = ttlMs;
    this.#now = options.now ?? Date.now;
  }

  /** The secret's current value (SecretString, or SecretBinary as UTF-8). */
  async get(name: string): Promise<string> {
    const cached = this.#cache.get(name);
    if (cached !== undefined && this.#now() < cached.expiresAt) return cached.value;
    const pending = this.#inFlight.get(name);
    if (pending !== undefined) return pending;
    const fetching = this.#fetch(name).finally(() => this.#inFlight.delete(name));
    this.#inFlight.set(name, fetching);
    return fetching;
  }

  /** Forgets cached values (all, or one secret's), e.g. after a rotation. */
  clear(name?: string): void {
    if (name === undefined) this.#cache.clear();
    else this.#cache.delete(name);
  }

  async #fetch(name: string): Promise<string> {
    let value: string | undefined;
    try {
      const secret = await this.#client.send(new GetSecretValueCommand({ SecretId: name }));
      value =
        secret.SecretString ??
        (secret.SecretBinary === undefined
          ? undefined
          : Buffer.from(secret.SecretBinary).toString('utf8'));
    } catch (error) {
      if (isAwsError(error, 'ResourceNotFoundException')) {
        throw new NotFound(`no secret ${name} in Secrets Manager`);
      }
      // The AWS error's name only: its message and the request are left out of the error.
      throw new SecretUnavailable(
        `secret ${name} could not be read from Secrets Manager: ${awsErrorName(error) ?? 'Error'}`,
      );
    }
    if (value === undefined) throw new SecretUnavailable(`secret ${name} has no value`);
    if (this.#ttlMs > 0) this.#cache.set(name, { value, expiresAt: this.#now() + this.#ttlMs });
    return value;
  }
}
