// The local adapters behind the Notify step (lambdas/core/notify.ts): status events into the
// outbox and events.jsonl, Slack through its webhook when SLACK_WEBHOOK_URL is set (printed
// otherwise), and the PR comment written as markdown into the run's folder.
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type NotifyReport, notifyStep } from '../../lambdas/core/notify.ts';
import type { ChatPort, StatusPort } from '../../lambdas/core/ports.ts';
import type { StepformHome } from './home.ts';
import { localPorts } from './local-ports.ts';
import type { Store } from './store.ts';

async function postWithRetries(url: string, body: unknown, attempts = 3): Promise<void> {
  let last = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      if (response.ok) return;
      last = `HTTP ${response.status}`;
      if (response.status !== 429 && response.status < 500) break;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(8000, 500 * 2 ** attempt)));
  }
  // The webhook URL is a secret: it is never part of the message.
  throw new Error(`Slack webhook failed after retries: ${last}`);
}

export class LocalNotifier {
  readonly #home: StepformHome;
  readonly #store: Store;
  readonly #status: StatusPort;
  readonly #chat: ChatPort;

  constructor(
    home: StepformHome,
    store: Store,
    slackWebhook: string | undefined,
    print: (line: string) => void,
  ) {
    this.#home = home;
    this.#store = store;
    this.#status = {
      publish: async (event) => {
        store.setRunPhase(event.runId, event.phase);
        store.appendOutbox(event.runId, event.phase, event, event.at);
        await appendFile(home.events, `${JSON.stringify(event)}\n`);
      },
    };
    this.#chat = slackWebhook
      ? { post: async (message) => postWithRetries(slackWebhook, message) }
      : {
          post: async (message) => {
            print(`[slack] ${message.text}`);
            return Promise.resolve();
          },
        };
  }

  async notify(input: unknown, now: Date): Promise<NotifyReport> {
    const ports = localPorts(this.#store);
    return notifyStep(
      input,
      {
        status: this.#status,
        artifacts: ports.artifacts,
        records: ports.records,
        chat: this.#chat,
        commentSink: async (runId, markdown) => {
          const dir = join(this.#home.runs, runId);
          await mkdir(dir, { recursive: true });
          await writeFile(join(dir, 'pr-comment.md'), markdown);
        },
      },
      now,
    );
  }
}
