// Whether a verb addresses a deployed stack: read before any verb's module is loaded (main.ts),
// so it imports nothing of the stack's (the AWS SDK).
import type { Io } from '../io.ts';
import type { CliValues } from '../main.ts';

/** Verbs that act on this machine unless --stack names a stack: they ignore STEPFORM_STACK. */
export const LOCAL_ONLY_VERBS: ReadonlySet<string> = new Set([
  'serve',
  'doctor',
  'setup',
  'projects',
]);

/** The outputs file a verb addresses: --stack, else STEPFORM_STACK; undefined: local. */
export function stackFile(values: CliValues, env: Io['env']): string | undefined {
  return values.stack ?? (env.STEPFORM_STACK === '' ? undefined : env.STEPFORM_STACK);
}
