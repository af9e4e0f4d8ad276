// approve / reject RUN_ID: decides the run's pending approval. The waiting run, in another
// process, sees the decision in the store and goes on; a run that no longer waits (ended, or
// its process died) gets no decision recorded (RunNotWaiting, exit 1).
import { userInfo } from 'node:os';
import { InvalidInput, NotFound } from '../../core/errors.ts';
import { decideStep } from '../../core/steps.ts';
import { RUN_ID } from '../../core/contracts/job-input.ts';
import { parseInput } from '../../core/validation.ts';
import { localPorts } from '../engine/local-ports.ts';
import { openEngine, resolveRepository } from './context.ts';
import type { Io } from './io.ts';
import type { CliValues } from './main.ts';

export async function approveVerb(
  verb: 'approve' | 'reject',
  positionals: readonly string[],
  values: CliValues,
  io: Io,
): Promise<number> {
  if (positionals.length !== 1)
    throw new InvalidInput('RUN_ID', `${verb} takes exactly one run id`);
  const runId = parseInput(RUN_ID, positionals[0], 'RUN_ID');
  const by = values.by ?? `${io.env.USER ?? userInfo().username}@cli`;
  const repository = await resolveRepository(values.repo, io.cwd);
  const engine = await openEngine(repository, io);
  const { stores } = engine;
  try {
    const approval = stores.approvals.forRun(runId);
    if (!approval) throw new NotFound(`run ${runId} has no approval request`);
    const now = new Date();
    const decided = await decideStep(
      {
        approvalId: approval.id,
        action: verb,
        by,
        now,
        via: 'cli',
        ...(values.reason === undefined ? {} : { reason: values.reason }),
      },
      localPorts(stores),
    );
    renderDecision({ runId, approvalId: approval.id, status: decided.status, by, now }, values, io);
    return 0;
  } finally {
    // A run whose process died waits for nothing: its decision was refused (RunNotWaiting),
    // and it is closed now rather than at the next command.
    await engine.reap().finally(() => engine.close());
  }
}

/** `approve` / `reject`'s answer. */
export function renderDecision(
  decision: { runId: string; approvalId: string; status: string; by: string; now: Date },
  values: CliValues,
  io: Io,
): void {
  const { runId, approvalId, status, by, now } = decision;
  const result = { runId, approvalId, status, by, at: now.toISOString() };
  io.out(
    values.json === true ? `${JSON.stringify(result)}\n` : `run ${runId}: ${status} by ${by}\n`,
  );
}
