// The local adapters of the core's ports: the SQLite stores (each implements its port) and
// the artifacts folder.
import type { StorePorts, TaskCallbackPort } from '../../core/ports.ts';
import { readResult } from '../executor-process.ts';
import type { LocalStores } from './store/local-stores.ts';

export interface LocalPorts extends StorePorts {
  readonly callbacks: TaskCallbackPort;
}

export function localPorts(stores: LocalStores): LocalPorts {
  return {
    locks: stores.locks,
    records: stores.records,
    runs: stores.runs,
    approvals: stores.approvals,
    artifacts: { readResult },
    schedules: stores.schedules,
    // The local waiting task polls the store for its decision, so there is nothing to resume.
    callbacks: { succeed: async () => Promise.resolve(), fail: async () => Promise.resolve() },
  };
}
