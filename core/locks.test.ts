import { describe, expect, it } from '@jest/globals';
import { caught } from '../test/support/caught.ts';
import { InvalidInput, LockHeld, LockNotOwned } from './errors.ts';
import {
  DEFAULT_LOCK_TTL_MS,
  LONGEST_JOB_MS,
  type LockRecord,
  WHOLE_ENVIRONMENT_PROJECT,
  assertCanRelease,
  assertNoWholeEnvironmentLock,
  decideLock,
  isLockExpired,
  lockProjectNames,
} from './locks.ts';

const NOW = new Date('2030-01-01T12:00:00.000Z');
const HOUR = 3_600_000;

const HELD: LockRecord = {
  environment: 'dev',
  project: 'app',
  owner: 'run-1',
  acquiredAt: '2030-01-01T11:00:00.000Z',
  expiresAt: '2030-01-01T13:00:00.000Z',
};

describe('DEFAULT_LOCK_TTL_MS', () => {
  it('outlasts the longest job by an hour (five hours)', () => {
    // Two hours before: a plan or apply job may run for four (issue 11, defect 7).
    expect(DEFAULT_LOCK_TTL_MS).toBe(18_000_000);
    expect(DEFAULT_LOCK_TTL_MS - LONGEST_JOB_MS).toBe(3_600_000);
  });
});

describe('assertNoWholeEnvironmentLock', () => {
  const whole: LockRecord = { ...HELD, project: WHOLE_ENVIRONMENT_PROJECT };

  it('lets a run by while there is none, it is its own, or it has expired', () => {
    expect(() => assertNoWholeEnvironmentLock(undefined, 'run-2', NOW)).not.toThrow();
    expect(() => assertNoWholeEnvironmentLock(whole, 'run-1', NOW)).not.toThrow();
    const later = new Date(Date.parse(whole.expiresAt));
    expect(() => assertNoWholeEnvironmentLock(whole, 'run-2', later)).not.toThrow();
  });

  it('holds off any other run while it lives, naming its holder', () => {
    const error = caught(() => assertNoWholeEnvironmentLock(whole, 'run-2', NOW));
    expect(error).toBeInstanceOf(LockHeld);
    expect((error as LockHeld).message).toContain('run-1');
  });
});

describe('decideLock', () => {
  it('takes a free environment', () => {
    // Act
    const lock = decideLock(undefined, {
      environment: 'dev',
      project: 'app',
      owner: 'run-2',
      now: NOW,
      ttlMs: HOUR,
    });

    // Assess
    expect(lock).toEqual({
      environment: 'dev',
      project: 'app',
      owner: 'run-2',
      acquiredAt: '2030-01-01T12:00:00.000Z',
      expiresAt: '2030-01-01T13:00:00.000Z',
    });
  });

  it('takes over an expired lock of another run', () => {
    // Prepare
    const later = new Date('2030-01-01T13:00:00.000Z');

    // Act
    const lock = decideLock(HELD, {
      environment: 'dev',
      project: 'app',
      owner: 'run-2',
      now: later,
      ttlMs: HOUR,
    });

    // Assess
    expect(lock).toEqual({
      environment: 'dev',
      project: 'app',
      owner: 'run-2',
      acquiredAt: '2030-01-01T13:00:00.000Z',
      expiresAt: '2030-01-01T14:00:00.000Z',
    });
  });

  it('renews the lock for its owner, keeping when it was acquired', () => {
    // Act
    const lock = decideLock(HELD, {
      environment: 'dev',
      project: 'app',
      owner: 'run-1',
      now: NOW,
      ttlMs: 2 * HOUR,
    });

    // Assess
    expect(lock).toEqual({
      environment: 'dev',
      project: 'app',
      owner: 'run-1',
      acquiredAt: '2030-01-01T11:00:00.000Z',
      expiresAt: '2030-01-01T14:00:00.000Z',
    });
  });

  it('refuses while another run holds the lock, naming it and the expiry', () => {
    // Act
    const error = caught(() =>
      decideLock(HELD, {
        environment: 'dev',
        project: 'app',
        owner: 'run-2',
        now: NOW,
        ttlMs: HOUR,
      }),
    );

    // Assess
    expect(error).toBeInstanceOf(LockHeld);
    expect((error as Error).message).toBe(
      'project app in environment dev is locked by run run-1 until 2030-01-01T13:00:00.000Z',
    );
  });

  it.each([
    [{ ttlMs: 0 }, 'ttlMs'],
    [{ ttlMs: -5 }, 'ttlMs'],
    [{ ttlMs: 1.5 }, 'ttlMs'],
    [{ owner: '' }, 'owner'],
    [{ environment: 'prod' }, 'environment'],
    [{ project: 'dns' }, 'project'],
    [{ project: '' }, 'project'],
    [{ now: new Date(Number.NaN) }, 'now'],
  ])('refuses a bad request %j', (change, field) => {
    // Prepare
    const request = {
      environment: 'dev',
      project: 'app',
      owner: 'run-2',
      now: NOW,
      ttlMs: HOUR,
      ...change,
    };

    // Act
    const error = caught(() => decideLock(HELD, request));

    // Assess
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as InvalidInput).field).toBe(field);
  });

  it('refuses a lock record with an unreadable expiry', () => {
    const error = caught(() =>
      decideLock(
        { ...HELD, expiresAt: 'soon' },
        { environment: 'dev', project: 'app', owner: 'run-2', now: NOW, ttlMs: HOUR },
      ),
    );
    expect((error as InvalidInput).field).toBe('lock.expiresAt');
  });
});

describe('isLockExpired', () => {
  it('is expired from the expiry on', () => {
    expect(isLockExpired(HELD, new Date('2030-01-01T12:59:59.999Z'))).toBe(false);
    expect(isLockExpired(HELD, new Date('2030-01-01T13:00:00.000Z'))).toBe(true);
  });
});

describe('assertCanRelease', () => {
  it('lets the owner release its lock', () => {
    expect(() => assertCanRelease(HELD, 'run-1')).not.toThrow();
  });

  it('is idempotent: releasing an absent lock is fine', () => {
    expect(() => assertCanRelease(undefined, 'run-1')).not.toThrow();
  });

  it('refuses to release the lock of another run', () => {
    // Act
    const error = caught(() => assertCanRelease(HELD, 'run-2'));

    // Assess
    expect(error).toBeInstanceOf(LockNotOwned);
    expect((error as Error).message).toBe(
      'run run-2 cannot release the lock on app in dev: run run-1 holds it',
    );
  });
});

describe('lockProjectNames', () => {
  it('sorts the names and keeps each once: the one order every run takes its locks in', () => {
    expect(lockProjectNames(['network', 'app', 'dns', 'app'])).toEqual(['app', 'dns', 'network']);
    expect(lockProjectNames(['infra/b', 'infra/A'])).toEqual(['infra/A', 'infra/b']);
  });

  it('refuses no project at all, or an empty name', () => {
    expect((caught(() => lockProjectNames([])) as InvalidInput).field).toBe('projects');
    expect((caught(() => lockProjectNames(['app', ''])) as InvalidInput).field).toBe('projects');
  });
});
