// A stand-in for @actions/core that records every call, for run(deps) in the unit tests:
// inputs from a map, state saved and read like the runner's STATE_ variables.
import type { Core, SummaryWriter } from '../src/deps.ts';

export interface FakeCore extends Core {
  readonly outputs: Record<string, unknown>;
  readonly state: Record<string, string>;
  readonly failures: string[];
  readonly lines: string[];
  readonly warnings: string[];
  readonly summaries: string[];
}

export function fakeCore(
  inputs: Record<string, string>,
  state: Record<string, string> = {},
): FakeCore {
  const outputs: Record<string, unknown> = {};
  const failures: string[] = [];
  const lines: string[] = [];
  const warnings: string[] = [];
  const summaries: string[] = [];
  let pending = '';
  const summary: SummaryWriter = {
    addRaw(text) {
      pending += text;
      return summary;
    },
    write() {
      summaries.push(pending);
      pending = '';
      return Promise.resolve(summary);
    },
  };
  return {
    outputs,
    state,
    failures,
    lines,
    warnings,
    summaries,
    summary,
    getInput: (name) => (inputs[name] ?? '').trim(),
    setOutput: (name, value) => {
      outputs[name] = value;
    },
    saveState: (name, value) => {
      state[name] = String(value);
    },
    getState: (name) => state[name] ?? '',
    setFailed: (message) => {
      failures.push(message instanceof Error ? message.message : message);
    },
    info: (line) => {
      lines.push(line);
    },
    debug: (line) => {
      lines.push(`debug: ${line}`);
    },
    warning: (line) => {
      warnings.push(line instanceof Error ? line.message : line);
    },
    error: (line) => {
      warnings.push(line instanceof Error ? line.message : line);
    },
    startGroup: (name) => {
      lines.push(`group: ${name}`);
    },
    endGroup: () => {
      lines.push('endgroup');
    },
  };
}
