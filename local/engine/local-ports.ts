// The local adapters of the core's ports: the SQLite stores (each implements its port) and
// the artifacts folder.
import { RunNotWaiting } from '../../core/errors.ts';
import type { StorePorts, StoredApproval, TaskCallbackPort } from '../../core/ports.ts';
import { isRunHolderGone } from './processes.ts';
import { readPlanDiff, readResult } from '../executor-process.ts';
import type { LocalStores } from './store/local-stores.ts';

export interface LocalPorts extends StorePorts {
  readonly callbacks: TaskCallbackPort;
}

function ensureRunWaiting(stores: LocalStores, approval: StoredApproval): void {
  const held = stores.runs.held(approval.runId);
  if (!held) {
    const run = stores.runs.get(approval.runId);
    throw new RunNotWaiting(
      `run ${approval.runId} is not waiting for a decision: ${run ? `it ended ${run.status}` : 'no such run'}`,
    );
  }
  if (isRunHolderGone(held.run, held.holder)) {
    throw new RunNotWaiting(
      `run ${approval.runId} is not waiting for a decision: its process is gone (interrupted)`,
    );
  }
}

export function localPorts(stores: LocalStores): LocalPorts {
  return {
    locks: stores.locks,
    records: stores.records,
    runs: stores.runs,
    approvals: stores.approvals,
    artifacts: { readResult, readPlanDiff },
    schedules: stores.schedules,
    // The local waiting task polls the store for its decision, so there is nothing to resume;
    // whether it still waits is whether its run is running and its process alive.
    callbacks: {
      ensureWaiting: async (approval) => {
        ensureRunWaiting(stores, approval);
        return Promise.resolve();
      },
      succeed: async () => Promise.resolve(),
      fail: async () => Promise.resolve(),
    },
  };
}
