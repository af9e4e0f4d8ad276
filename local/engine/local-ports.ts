// The local adapters of the core's ports, over the SQLite store and the artifacts folder.
import type {
  ApprovalPort,
  ArtifactPort,
  LockPort,
  RecordPort,
  SchedulePort,
  StoredApproval,
  TaskCallbackPort,
} from '../../core/ports.ts';
import { readResult } from '../executor-process.ts';
import { type ApprovalRow, type Store, approvalRecord } from './store.ts';

export interface LocalPorts {
  readonly locks: LockPort;
  readonly records: RecordPort;
  readonly approvals: ApprovalPort;
  readonly artifacts: ArtifactPort;
  readonly schedules: SchedulePort;
  readonly callbacks: TaskCallbackPort;
}

function stored(row: ApprovalRow): StoredApproval {
  return { ...approvalRecord(row), taskToken: row.taskToken };
}

export function localPorts(store: Store): LocalPorts {
  return {
    locks: {
      acquire: async (environment, owner, now, ttlMs) =>
        Promise.resolve(store.acquireLock(environment, owner, now, ttlMs)),
      release: async (environment, owner, now) => {
        store.releaseLock(environment, owner, now);
        return Promise.resolve();
      },
    },
    records: {
      getLastGood: async (environment, projectDir) =>
        Promise.resolve(store.getLastGood(environment, projectDir)),
      setLastGood: async (environment, projectDir, good) => {
        store.setLastGood(environment, projectDir, good.commit, good.runId, good.at);
        return Promise.resolve();
      },
      setEnvironment: async (record) => {
        store.setEnvironment(record);
        return Promise.resolve();
      },
      addRunDetails: async (runId, details) => {
        store.addRunDetails(runId, details);
        return Promise.resolve();
      },
    },
    approvals: {
      create: async (approval) => {
        store.createApproval({ ...approval, decidedBy: null, decidedAt: null });
        return Promise.resolve();
      },
      get: async (id) => {
        const row = store.getApproval(id);
        return Promise.resolve(row ? stored(row) : undefined);
      },
      decide: async (id, status, by, at) =>
        Promise.resolve(store.decideApproval(id, status, by, at)),
    },
    artifacts: { readResult },
    schedules: {
      upsert: async (schedule) => {
        store.upsertSchedule({ ...schedule, status: 'pending' });
        return Promise.resolve();
      },
      remove: async (environment, projectDir) => {
        store.setScheduleStatus(environment, projectDir, 'deleted');
        return Promise.resolve();
      },
    },
    // The local waiting task polls the store for its decision, so there is nothing to resume.
    callbacks: { succeed: async () => Promise.resolve(), fail: async () => Promise.resolve() },
  };
}
