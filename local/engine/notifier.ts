// The local notification adapters behind the Notify step: the status event into the outbox
// (and events.jsonl), Slack through its webhook when SLACK_WEBHOOK_URL is set (else printed),
// and the sticky PR comment written as markdown into the run's folder. Best effort: a
// channel that fails after its retries is reported, and never fails the run.
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { renderPrComment } from '../../lambdas/core/pr-comment.ts';
import { type CollectedResult, RUN_INPUT, type RunContext } from '../../lambdas/core/run.ts';
import { PHASES, type Phase, statusEvent } from '../../lambdas/core/status-event.ts';
import { parseInput } from '../../lambdas/core/validation.ts';
import { readResult } from '../executor-process.ts';
import type { StepformHome } from './home.ts';
import type { Store } from './store.ts';

export const NOTIFY_INPUT = z.looseObject({
  run: RUN_INPUT,
  phase: z.enum(PHASES),
  result: z.looseObject({ resultLocation: z.string() }).optional(),
  error: z.looseObject({ Error: z.string(), Cause: z.string().optional() }).optional(),
  rollback: z.looseObject({ commit: z.string(), message: z.string() }).optional(),
  schedule: z.looseObject({ fireAt: z.string() }).optional(),
  approval: z.unknown().optional(),
  links: z.strictObject({ approve: z.string(), reject: z.string() }).optional(),
});
export type NotifyInput = z.input<typeof NOTIFY_INPUT>;

export interface NotifyReport {
  delivered: string[];
  failed: string[];
}

/** Text of one status line, as Slack shows it and as the CLI prints it. */
export function statusLine(
  run: RunContext,
  phase: Phase,
  detail: {
    summary?: CollectedResult['summary'];
    error?: { Error: string; Cause?: string | undefined };
    rollback?: { message: string };
    schedule?: { fireAt: string };
  },
): string {
  const parts = [
    `${run.workflow} ${run.projectDir} in ${run.environment} @ ${run.commit.slice(0, 12)}: ${phase}`,
  ];
  if (detail.summary)
    parts.push(`+${detail.summary.add} ~${detail.summary.change} -${detail.summary.destroy}`);
  if (detail.rollback) parts.push(detail.rollback.message);
  else if (detail.error) parts.push(`${detail.error.Error}: ${detail.error.Cause ?? ''}`.trim());
  if (detail.schedule) parts.push(`destroy scheduled at ${detail.schedule.fireAt}`);
  return parts.join(' — ');
}

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
  throw new Error(`Slack webhook failed after retries: ${last}`);
}

export class LocalNotifier {
  readonly #home: StepformHome;
  readonly #store: Store;
  readonly #slackWebhook: string | undefined;
  readonly #print: (line: string) => void;

  constructor(
    home: StepformHome,
    store: Store,
    slackWebhook: string | undefined,
    print: (line: string) => void,
  ) {
    this.#home = home;
    this.#store = store;
    this.#slackWebhook = slackWebhook;
    this.#print = print;
  }

  async notify(raw: unknown, now: Date): Promise<NotifyReport> {
    const input = parseInput(NOTIFY_INPUT, raw, 'notify');
    const { run, phase } = input;
    const report: NotifyReport = { delivered: [], failed: [] };
    const result = input.result ? await readResult(input.result.resultLocation) : undefined;
    const summary = result?.summary;
    const detail = {
      ...(summary ? { summary } : {}),
      ...(input.error ? { error: input.error } : {}),
      ...(input.rollback ? { rollback: input.rollback } : {}),
      ...(input.schedule ? { schedule: input.schedule } : {}),
    };
    const line = statusLine(run, phase, detail);
    this.#store.setRunPhase(run.runId, phase);
    if (result) {
      this.#store.addRunDetails(run.runId, {
        ...(summary
          ? { summary: { add: summary.add, change: summary.change, destroy: summary.destroy } }
          : {}),
        ...(result.outputs ? { outputs: result.outputs } : {}),
        ...(result.plan ? { planSha256: result.plan.sha256 } : {}),
      });
    }

    // The status event: always recorded, in order, for `stepform logs` and any consumer.
    const event = statusEvent(
      {
        runId: run.runId,
        workflow: run.workflow,
        environment: run.environment,
        project: run.projectDir,
        commit: run.commit,
        phase,
        ...(summary ? { summary } : {}),
        ...(input.error || input.rollback ? { message: line } : {}),
      },
      now,
    );
    this.#store.appendOutbox(run.runId, phase, event, event.at);
    await appendFile(this.#home.events, `${JSON.stringify(event)}\n`);
    report.delivered.push('status');

    try {
      const text = input.links
        ? `${line}\napprove: ${input.links.approve}\nreject: ${input.links.reject}`
        : line;
      if (this.#slackWebhook) {
        await postWithRetries(this.#slackWebhook, { text });
        report.delivered.push('slack');
      } else {
        this.#print(`[slack] ${text}`);
        report.delivered.push('slack (printed)');
      }
    } catch (error) {
      report.failed.push(`slack: ${(error as Error).message}`);
    }

    try {
      const runDir = join(this.#home.runs, run.runId);
      await mkdir(runDir, { recursive: true });
      const comment = renderPrComment({
        workflow: run.workflow,
        environment: run.environment,
        projectDir: run.projectDir,
        commit: run.commit,
        runId: run.runId,
        status: phase,
        ...(summary ? { summary } : {}),
        ...(input.result ? { artifactLocation: input.result.resultLocation } : {}),
        ...(input.rollback
          ? { error: input.rollback.message }
          : input.error
            ? { error: `${input.error.Error}: ${input.error.Cause ?? ''}` }
            : {}),
      });
      await writeFile(join(runDir, 'pr-comment.md'), comment);
      report.delivered.push('pr-comment (file)');
    } catch (error) {
      report.failed.push(`pr-comment: ${(error as Error).message}`);
    }
    return report;
  }
}
