// Which verbs act on a deployed stack, and how: main.ts hands a verb here when --stack (or
// STEPFORM_STACK) names one. A workflow verb is "build its run input, start it on the stack,
// watch it" (run.ts, startAndWatch); the others read or change the stack's table and
// executions (verbs.ts).
import type { Workflow } from '../../../core/contracts/workflow-input.ts';
import type { Io } from '../io.ts';
import type { CliValues } from '../main.ts';
import type { CommandLineToken } from '../command.ts';
import { stackCommandVerb, stackRunVerb, stackTtlVerb } from './run.ts';
import { stackDriftVerb } from './drift.ts';
import { stackServeVerb } from './serve.ts';
import {
  stackCancelVerb,
  stackDecideVerb,
  stackEnvsVerb,
  stackLocksVerb,
  stackLogsVerb,
  stackRunsVerb,
  stackShowVerb,
  stackUnlockVerb,
} from './verbs.ts';

/** The workflow each run verb starts. */
const RUN_VERBS: Readonly<Record<string, Workflow>> = {
  plan: 'plan',
  apply: 'plan-apply',
  ephemeral: 'ephemeral',
  destroy: 'destroy',
};

/** The verb run against the stack; undefined when the verb has no stack form (yet). */
export function stackVerb(
  verb: string,
  positionals: readonly string[],
  tokens: readonly CommandLineToken[],
  values: CliValues,
  io: Io,
): Promise<number> | undefined {
  const workflow = RUN_VERBS[verb];
  if (workflow !== undefined) return stackRunVerb(workflow, values, io);
  switch (verb) {
    case 'ttl':
      return stackTtlVerb(positionals, values, io);
    case 'command':
      return stackCommandVerb(tokens, values, io);
    case 'drift':
      return stackDriftVerb(values, io);
    case 'runs':
      return stackRunsVerb(values, io);
    case 'logs':
      return stackLogsVerb(positionals, values, io);
    case 'show':
      return stackShowVerb(positionals, values, io);
    case 'envs':
      return stackEnvsVerb(values, io);
    case 'locks':
      return stackLocksVerb(values, io);
    case 'unlock':
      return stackUnlockVerb(positionals, values, io);
    case 'cancel':
      return stackCancelVerb(positionals, values, io);
    case 'approve':
    case 'reject':
      return stackDecideVerb(verb, positionals, values, io);
    case 'serve':
      return stackServeVerb(values, io);
    default:
      return undefined;
  }
}
