// The approval and the destroy schedule the store tests start from (the contract suites and the
// local ones alike), each with the fields a test changes as overrides.
import type { DestroySchedule, StoredApproval } from '../../core/ports.ts';
import type { LocalSchedule } from '../../local/engine/store/sqlite-schedules.ts';

/** The task token of storedApproval(): it must never show in a link or a page. */
export const TASK_TOKEN = 'task-token-5f1c0ffee0ddba11-never-in-a-link';

/** A pending approval requested at 2030-01-01T00:00Z that expires an hour later. */
export function storedApproval(overrides: Partial<StoredApproval> = {}): StoredApproval {
  return {
    id: 'AAECAwQFBgcICQoLDA0ODw',
    runId: 'run-1',
    taskToken: TASK_TOKEN,
    environment: 'prod',
    projectDir: 'terraform/examples/hello',
    commit: 'a'.repeat(40),
    planSha256: 'b'.repeat(64),
    status: 'pending',
    requestedAt: '2030-01-01T00:00:00.000Z',
    expiresAt: '2030-01-01T01:00:00.000Z',
    ...overrides,
  };
}

/** A destroy of pr-7 at 2030-01-01T01:00Z (whole seconds: Scheduler's at() has no finer). */
export function destroySchedule(overrides: Partial<DestroySchedule> = {}): DestroySchedule {
  return {
    environment: 'pr-7',
    projectDir: 'infra/app',
    repository: 'https://github.com/acme/infra',
    commit: 'c'.repeat(40),
    fireAt: '2030-01-01T01:00:00.000Z',
    createdBy: 'run-eph-1',
    ...overrides,
  };
}

/** destroySchedule() as the local store keeps it, pending. */
export function localSchedule(overrides: Partial<LocalSchedule> = {}): LocalSchedule {
  return { ...destroySchedule(), status: 'pending', ...overrides };
}
