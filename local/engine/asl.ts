// The workflows' ASL files, as CDK deploys them, made runnable locally: the same file with
// its ${Placeholders} substituted by local ARNs, and each Task state mapped to a handler. Which
// files there are, and what a placeholder stands for, is state-machines/workflows.ts's.
import {
  type AslDefinition,
  type Workflow,
  mapStates,
  placeholderFor,
  placeholderTarget,
  readAslText,
  substitute,
} from '../../state-machines/workflows.ts';

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

export async function loadLocalDefinition(workflow: Workflow): Promise<AslDefinition> {
  const text = substitute(await readAslText(workflow), localSubstitution);
  return adaptForLocalEngine(JSON.parse(text) as AslDefinition);
}

/**
 * The one difference between Step Functions and aws-local-stepfunctions 3.0.0 that the files
 * cannot express for both: Step Functions reads a Task's TimeoutSecondsPath from the state's
 * input, the local library from its input after Parameters. For the lambda:invoke form that
 * input sits under Payload, so the path is re-rooted there. Nothing else is changed.
 */
export function adaptForLocalEngine(definition: AslDefinition): AslDefinition {
  return mapStates(definition, (state) => {
    const path = state.TimeoutSecondsPath;
    if (
      state.Type !== 'Task' ||
      typeof path !== 'string' ||
      state.Parameters?.Payload === undefined
    )
      return state;
    return { ...state, TimeoutSecondsPath: path.replace(/^\$\./, '$.Payload.') };
  });
}

/** The local function name a Lambda ARN stands for (`Lock` for ...:function:stepform-local-Lock). */
export function localFunctionName(arn: string): string | undefined {
  const name = arn.startsWith(LOCAL_FUNCTION_ARN) ? arn.slice(LOCAL_FUNCTION_ARN.length) : '';
  // Only a name the placeholder rule gives a function: not `Lock:live`, not empty.
  const target = placeholderTarget(placeholderFor({ kind: 'function', name }));
  return target?.kind === 'function' ? name : undefined;
}
