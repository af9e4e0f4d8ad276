// Child process of bench/memory.ts: runs one workflow on the local engine (or, with
// "baseline", only loads the engine's modules) and prints its own peak resident memory.
// Terraform and the executor run in other processes, so they are not counted.
//
//   node bench/engine-child.ts '{"home":…,"run":{…RunContext}}'   or   … baseline
import { LocalEngine } from '../local/engine/local-engine.ts';
import type { RunContext } from '../core/contracts/workflow-input.ts';

interface ChildInput {
  readonly home: string;
  readonly run: RunContext;
}

async function main(arg: string | undefined): Promise<Record<string, unknown>> {
  if (arg === undefined) throw new Error('usage: engine-child.ts JSON | baseline');
  if (arg === 'baseline') return { status: 'baseline' };
  const input = JSON.parse(arg) as ChildInput;
  const engine = new LocalEngine({ home: input.home });
  try {
    const outcome = await engine.run(input.run);
    return {
      status: outcome.status,
      phase: outcome.run.phase,
      summary: outcome.run.details.summary,
    };
  } finally {
    engine.close();
  }
}

const report = await main(process.argv[2]);
const usage = process.memoryUsage();
process.stdout.write(
  `${JSON.stringify({
    ...report,
    // resourceUsage().maxRSS is in kibibytes: this process's own peak (getrusage RUSAGE_SELF).
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    heapUsedBytes: usage.heapUsed,
    rssAtEndBytes: usage.rss,
  })}\n`,
);
