// The workflows' ASL files, as CDK deploys them, made runnable locally: the same file with
// its ${Placeholders} substituted by local ARNs, and each Task state mapped to a handler. Which
// files there are, and what a placeholder stands for, is state-machines/workflows.ts's.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import { cacheRoot } from '../../toolchain/paths.ts';
import stepformPackage from '../../package.json' with { type: 'json' };
import {
  type AslDefinition,
  type Workflow,
  mapStates,
  placeholderFor,
  placeholderTarget,
  readAslText,
  substitute,
} from '../../state-machines/workflows.ts';

/**
 * The local library's version, as package.json pins it (exactly): a validation holds for the
 * version that made it. Read from the manifest, which bundles carry too.
 */
const LIBRARY_VERSION = stepformPackage.dependencies['aws-local-stepfunctions'];

const LOCAL_FUNCTION_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:stepform-local-';

/** Local stand-ins: Lambda ARNs named after the function, and a local Batch queue. */
export function localSubstitution(name: string): string {
  const target = placeholderTarget(name);
  switch (target?.kind) {
    case 'function':
      return `${LOCAL_FUNCTION_ARN}${target.name}`;
    case 'jobQueue':
      return 'arn:aws:batch:us-east-1:000000000000:job-queue/stepform-local';
    case 'jobDefinition':
      return `arn:aws:batch:us-east-1:000000000000:job-definition/stepform-local-${target.name}:1`;
    case undefined:
      throw new Error(`no local value for placeholder \${${name}}`);
  }
}

/**
 * The definitions validated so far (their SHA-256 and the library's version), in this process:
 * each is validated (JSONPaths too) by its first run only.
 */
const validated = new Set<string>();

/**
 * The local library's state machine of a definition. Validating plan-apply takes 110–180 ms,
 * on every run until now; a definition is the same until Stepform or the library changes, so
 * the first run of it validates, and leaves a mark in the cache (`asl-validated/<key>`, keyed by
 * the definition's SHA-256 and the library's version) that every later run, in any process,
 * trusts. A cache that cannot be written costs the next run its validation, nothing more. The
 * files themselves are checked by the tests, on both interpreters.
 */
export async function localStateMachine(
  definition: AslDefinition,
  env: Readonly<Record<string, string | undefined>>,
): Promise<StateMachine> {
  const key = createHash('sha256')
    .update(`aws-local-stepfunctions@${LIBRARY_VERSION}\n${JSON.stringify(definition)}`)
    .digest('hex');
  const mark = join(cacheRoot(env), 'asl-validated', key);
  if (validated.has(key) || existsSync(mark)) {
    validated.add(key);
    return new StateMachine(definition as never, { validationOptions: { noValidate: true } });
  }
  const machine = new StateMachine(definition as never, {
    validationOptions: { checkPaths: true },
  });
  validated.add(key);
  await mkdir(dirname(mark), { recursive: true })
    .then(async () => writeFile(mark, ''))
    .catch(() => undefined);
  return machine;
}

export async function loadLocalDefinition(workflow: Workflow): Promise<AslDefinition> {
  const text = substitute(await readAslText(workflow), localSubstitution);
  return adaptForLocalEngine(JSON.parse(text) as AslDefinition);
}

/**
 * The most a Node timer waits (2^31 - 1 ms, about 24.8 days): the local library times a run
 * and a Task with setTimeout, which fires at once for anything longer.
 */
export const LOCAL_TIMEOUT_LIMIT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/**
 * The two differences between Step Functions and aws-local-stepfunctions 3.0.0 that the files
 * cannot express for both. Step Functions reads a Task's TimeoutSecondsPath from the state's
 * input, the local library from its input after Parameters: for the lambda:invoke form that
 * input sits under Payload, so the path is re-rooted there. And a run's TimeoutSeconds past
 * what a Node timer holds (a workflow allowing every job of many projects) would end the local
 * run at once: it is cut to LOCAL_TIMEOUT_LIMIT_SECONDS. Nothing else is changed.
 */
export function adaptForLocalEngine(definition: AslDefinition): AslDefinition {
  const adapted = mapStates(definition, (state) => {
    const path = state.TimeoutSecondsPath;
    if (
      state.Type !== 'Task' ||
      typeof path !== 'string' ||
      state.Parameters?.Payload === undefined
    )
      return state;
    return { ...state, TimeoutSecondsPath: path.replace(/^\$\./, '$.Payload.') };
  });
  const timeout = adapted.TimeoutSeconds;
  return typeof timeout === 'number' && timeout > LOCAL_TIMEOUT_LIMIT_SECONDS
    ? { ...adapted, TimeoutSeconds: LOCAL_TIMEOUT_LIMIT_SECONDS }
    : adapted;
}

/** The local function name a Lambda ARN stands for (`Lock` for ...:function:stepform-local-Lock). */
export function localFunctionName(arn: string): string | undefined {
  const name = arn.startsWith(LOCAL_FUNCTION_ARN) ? arn.slice(LOCAL_FUNCTION_ARN.length) : '';
  // Only a name the placeholder rule gives a function: not `Lock:live`, not empty.
  const target = placeholderTarget(placeholderFor({ kind: 'function', name }));
  return target?.kind === 'function' ? name : undefined;
}
