// The local adapters behind the Notify step (core/notify.ts): status events into the
// outbox and events.jsonl, Slack (Block Kit) through its webhook when SLACK_WEBHOOK_URL is set
// (its text printed otherwise), and the PR comment written as markdown into the run's folder.
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RunFolderCodeHost } from './run-folder-code-host.ts';
import { type NotifyPorts, type NotifyReport, notifyStep } from '../../core/notify.ts';
import type { ChatPort, StatusPort } from '../../core/ports.ts';
import { slackMessage } from '../../core/slack-message.ts';
import { errorLabel } from '../../core/error-hints.ts';
import { SlackWebhookChatPort } from '../../adapters/slack/webhook.ts';
import type { StepformHome } from './home.ts';
import { readPlanDiff, readResult } from '../executor-process.ts';
import type { LocalStores } from './store/local-stores.ts';
import type { EngineOptions } from './engine.ts';
import type { RunContext } from '../../core/contracts/workflow-input.ts';
import type { Phase } from '../../core/contracts/status-event.ts';
import { describeError } from '../../core/errors.ts';

/** Where the local engine keeps the drift issues it would have opened on GitHub. */
export function driftIssuesDir(home: StepformHome): string {
  return join(home.root, 'issues');
}

export class LocalNotifier {
  readonly #home: StepformHome;
  readonly #stores: LocalStores;
  readonly #status: StatusPort;
  readonly #chat: ChatPort;
  /** No webhook: the message is printed to the terminal, which shows the run's error itself. */
  readonly #echo: boolean;

  constructor(
    home: StepformHome,
    stores: LocalStores,
    slackWebhook: string | undefined,
    print: (line: string) => void,
  ) {
    this.#home = home;
    this.#stores = stores;
    this.#echo = !slackWebhook;
    // The outbox keeps the event; the run shows its phase; events.jsonl is for other tools.
    this.#status = {
      publish: async (event) => {
        stores.runs.setPhase(event.runId, event.phase);
        await stores.outbox.publish(event);
        await appendFile(home.events, `${JSON.stringify(event)}\n`, { mode: 0o600 });
      },
    };
    // The webhook URL is a secret: it goes through a SecretPort, as Secrets Manager does on AWS.
    this.#chat = slackWebhook
      ? new SlackWebhookChatPort({
          secrets: { get: async () => Promise.resolve(slackWebhook) },
          secretName: 'SLACK_WEBHOOK_URL',
        })
      : {
          post: async (message) => {
            print(`[slack] ${message.text}`);
            return Promise.resolve();
          },
        };
  }

  /** The Notify step's ports over the local adapters. */
  ports(): NotifyPorts {
    return {
      status: this.#status,
      artifacts: { readResult, readPlanDiff },
      runs: this.#stores.runs,
      // Who decided the run's approval, for the notices after it (a cancel too).
      approvals: this.#stores.approvals,
      chat: this.#chat,
      // Printed, the message names the error only: the run's end shows it whole, once.
      chatMessage: (run, phase, detail) =>
        slackMessage({
          run,
          phase,
          ...detail,
          ...(this.#echo && detail.error
            ? {
                error: {
                  Error: errorLabel({
                    name: detail.error.Error,
                    message: detail.error.Cause ?? '',
                  }),
                },
              }
            : {}),
        }),
      // Locally a dispatch is recorded in the run's folder, never sent to GitHub.
      dispatcher: {
        dispatchRepositoryEvent: async (repository, eventType, payload) =>
          new RunFolderCodeHost(
            join(this.#home.runs, String(payload.runId)),
          ).dispatchRepositoryEvent(repository, eventType, payload),
      },
      // A drift issue outlives its run (later runs update and close it): kept in the home.
      issues: new RunFolderCodeHost(this.#home.runs, { issuesDir: driftIssuesDir(this.#home) }),
      commentSink: async (runId, markdown) => {
        const dir = join(this.#home.runs, runId);
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await writeFile(join(dir, 'pr-comment.md'), markdown, { mode: 0o600 });
      },
    };
  }

  async notify(input: unknown, now: Date): Promise<NotifyReport> {
    return notifyStep(input, this.ports(), now);
  }
}

/**
 * Tells everyone how a run ended that its state machine could not tell about (cancelled,
 * interrupted): status event, chat, PR comment. Best effort, like every Notify.
 */
export async function notifyEnded(
  run: RunContext,
  phase: Extract<Phase, 'cancelled' | 'failed'>,
  error: { name: string; message: string } | undefined,
  options: Pick<EngineOptions, 'notifier' | 'now' | 'onProgress'>,
): Promise<void> {
  await options.notifier
    .notify(
      { run, phase, ...(error ? { error: { Error: error.name, Cause: error.message } } : {}) },
      options.now(),
    )
    .catch((failure: unknown) => {
      options.onProgress?.({
        runId: run.runId,
        type: 'failed',
        state: 'Notify',
        error: describeError(failure).message,
      });
    });
}
