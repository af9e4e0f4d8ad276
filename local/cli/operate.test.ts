// unlock's choice of locks and envs' lock per project, on lock views as `locks` builds them.
import { describe, expect, it } from '@jest/globals';
import { LockHeld, NotFound } from '../../core/errors.ts';
import { type LockView, environmentView, locksToClear } from './operate.ts';

function view(project: string, state: LockView['state'], environment = 'dev'): LockView {
  return {
    environment,
    project,
    dir: `infra/${project}`,
    owner: `run-${project}`,
    acquiredAt: '2026-12-01T00:00:00.000Z',
    expiresAt: '2026-12-01T05:00:00.000Z',
    holder: null,
    state,
  };
}

const LOCKS = [
  view('app', 'held'),
  view('dns', 'stale'),
  view('network', 'stale'),
  view('app', 'stale', 'prod'),
];
const projectsOf = (locks: readonly LockView[]) =>
  locks.map((l) => `${l.environment}/${l.project}`);

describe('locksToClear', () => {
  it('without --project: every stale lock of ENV, never a live one nor another environment’s', () => {
    expect(projectsOf(locksToClear(LOCKS, 'dev', [], {}))).toEqual(['dev/dns', 'dev/network']);
  });

  it('without --project, with --force: every lock of ENV', () => {
    expect(projectsOf(locksToClear(LOCKS, 'dev', [], { force: true }))).toEqual([
      'dev/app',
      'dev/dns',
      'dev/network',
    ]);
  });

  it('without --project: LockHeld when every lock of ENV is live, NotFound when there is none', () => {
    expect(() => locksToClear([view('app', 'held')], 'dev', [], {})).toThrow(LockHeld);
    expect(() => locksToClear(LOCKS, 'qa', [], {})).toThrow(new NotFound('qa is not locked'));
  });

  it('with --project: that project’s lock only; a live one only with --force', () => {
    expect(projectsOf(locksToClear(LOCKS, 'dev', ['network'], {}))).toEqual(['dev/network']);
    expect(() => locksToClear(LOCKS, 'dev', ['app'], {})).toThrow(
      /holds app in dev; stop it \(stepform cancel run-app\) or pass --force/,
    );
    expect(projectsOf(locksToClear(LOCKS, 'dev', ['app'], { force: true }))).toEqual(['dev/app']);
    expect(() => locksToClear(LOCKS, 'dev', ['web'], {})).toThrow(
      new NotFound('project web is not locked in dev'),
    );
  });
});

describe('environmentView', () => {
  const record = (projectDir: string) => ({
    environment: 'dev',
    projectDir,
    status: 'active',
    ttlExpiresAt: null,
    lastRunId: 'run-0',
    updatedAt: '2026-12-01T00:00:00.000Z',
  });

  it('shows the lock of the record’s own project (matched by its folder), not another’s', () => {
    expect(environmentView(record('infra/dns'), undefined, null, LOCKS).lock).toEqual({
      project: 'dns',
      owner: 'run-dns',
      state: 'stale',
    });
    expect(environmentView(record('infra/web'), undefined, null, LOCKS).lock).toBeNull();
  });

  it('shows an environment-wide lock an older version left on every project', () => {
    const old = { ...view('*', 'held'), dir: null };
    expect(environmentView(record('infra/web'), undefined, null, [old]).lock).toMatchObject({
      project: '*',
    });
  });
});
