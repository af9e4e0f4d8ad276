// What the action touches outside itself, injected into run() so that tests can replace each
// part: @actions/core (inputs, outputs, state, logs, the job summary), the Step Functions
// client, the environment, the event payload file, the clock and the cancel signal.
import type * as actionsCore from '@actions/core';
import type { SFNClient } from '@aws-sdk/client-sfn';

/** The part of the job summary the action uses (core.summary). */
export interface SummaryWriter {
  addRaw(text: string, addEOL?: boolean): SummaryWriter;
  write(): Promise<unknown>;
}

/** The part of @actions/core the action uses. */
export type Core = Pick<
  typeof actionsCore,
  | 'getInput'
  | 'setOutput'
  | 'saveState'
  | 'getState'
  | 'setFailed'
  | 'info'
  | 'debug'
  | 'warning'
  | 'error'
  | 'startGroup'
  | 'endGroup'
> & { readonly summary: SummaryWriter };

export type Env = Readonly<Record<string, string | undefined>>;

export interface Deps {
  readonly core: Core;
  /** A Step Functions client for the region of the state machine. */
  readonly sfn: (region: string) => SFNClient;
  readonly env: Env;
  readonly readFile: (path: string) => Promise<string>;
  readonly sleep: (ms: number) => Promise<void>;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  /** Registers what to do when the runner cancels the step (SIGINT, then SIGTERM). */
  readonly onCancel: (handler: () => void) => void;
}
