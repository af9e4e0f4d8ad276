// Wires the engine to one Stepform home: the store, the notifier, the signing key, and the
// settings every executor job gets (local backend per environment, artifacts folder).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  RUN_INPUT,
  type RunContext,
  type RunInput,
  type Workflow,
} from '../../core/contracts/workflow-input.ts';
import { parseInput } from '../../core/validation.ts';
import type { EngineOptions, RunOutcome } from './engine.ts';
import { type StepformHome, approvalSigningKey, stepformHome } from './home.ts';
import { LocalNotifier } from './notifier.ts';
import { type ReapedRun, type ReaperContext, reapInterruptedRuns } from './reaper.ts';
import { type LocalStores, openLocalStores } from './store/local-stores.ts';

export const DEFAULT_APPROVAL_PORT = 8787;

export interface LocalEngineOptions {
  /** The Stepform home (local/engine/home.ts). */
  readonly home: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly print?: (line: string) => void;
  readonly approvalBaseUrl?: string;
}

export class LocalEngine {
  readonly home: StepformHome;
  readonly stores: LocalStores;
  readonly signingKey: Buffer;
  readonly notifier: LocalNotifier;
  readonly approvalBaseUrl: string;
  /** STEPFORM_APPROVERS (comma-separated): who may decide by link; unset, anyone with one. */
  readonly approvers?: readonly string[];
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #print: (line: string) => void;

  constructor(options: LocalEngineOptions) {
    const env = options.env ?? process.env;
    this.#env = env;
    this.#print = options.print ?? (() => {});
    this.home = stepformHome(options.home);
    this.stores = openLocalStores(this.home.database);
    this.signingKey = approvalSigningKey(this.home, env);
    this.notifier = new LocalNotifier(
      this.home,
      this.stores,
      env.SLACK_WEBHOOK_URL,
      options.print ?? (() => {}),
    );
    this.approvalBaseUrl =
      options.approvalBaseUrl ??
      env.STEPFORM_APPROVAL_URL ??
      `http://127.0.0.1:${DEFAULT_APPROVAL_PORT}`;
    const approvers = env.STEPFORM_APPROVERS?.split(',')
      .map((name) => name.trim())
      .filter((name) => name !== '');
    if (approvers && approvers.length > 0) this.approvers = approvers;
  }

  /** A run id that sorts by time and never repeats. */
  static newRunId(now: Date = new Date()): string {
    const stamp = now
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    return `${stamp}-${randomBytes(3).toString('hex')}`;
  }

  /** A validated run with a new run id and the contract's defaults for what is not given. */
  static newRun(fields: Omit<RunInput, 'runId'>, now: Date = new Date()): RunContext {
    return parseInput(RUN_INPUT, { runId: LocalEngine.newRunId(now), ...fields }, 'run');
  }

  /** Makes runs of one project at one commit, each with its workflow and environment. */
  static runsOf(project: Omit<RunInput, 'runId' | 'workflow' | 'environment'>) {
    return (workflow: Workflow, environment: string, extra: Partial<RunInput> = {}) =>
      LocalEngine.newRun({ ...project, workflow, environment, ...extra });
  }

  /** Closes the runs whose process died and releases what they held (reaper.ts). */
  async reap(options: Pick<ReaperContext, 'stopTimings'> = {}): Promise<ReapedRun[]> {
    return reapInterruptedRuns({
      home: this.home,
      stores: this.stores,
      notifier: this.notifier,
      now: () => new Date(),
      print: this.#print,
      ...options,
    });
  }

  /** Runs a workflow to its end, after closing the runs whose process died. */
  async run(
    run: RunContext,
    extra: Partial<Omit<EngineOptions, 'stores' | 'settings' | 'notifier' | 'signingKey'>> = {},
  ): Promise<RunOutcome> {
    await this.reap(extra.stopTimings ? { stopTimings: extra.stopTimings } : {});
    // Loaded only to run: the verbs that read the store never load the interpreter.
    const { runWorkflow } = await import('./engine.ts');
    return runWorkflow(run, {
      stores: this.stores,
      settings: {
        backend: { type: 'local', stateDir: this.home.state },
        artifactsRoot: this.home.artifacts,
      },
      notifier: this.notifier,
      signingKey: this.signingKey,
      approvalBaseUrl: this.approvalBaseUrl,
      ...(this.approvers ? { approvers: this.approvers } : {}),
      executorEnv: { ...this.#env },
      workRoot: join(this.home.work, run.runId),
      now: () => new Date(),
      ...extra,
    });
  }

  close(): void {
    this.stores.close();
  }
}
