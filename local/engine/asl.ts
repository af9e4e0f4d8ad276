// The workflows' ASL files, as CDK deploys them, made runnable locally: the same file with
// its ${Placeholders} substituted by local ARNs, and each Task state mapped to a handler.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Workflow } from '../../core/contracts/workflow-input.ts';
import { REPO_ROOT } from '../../toolchain/paths.ts';

export const STATE_MACHINES_DIR = join(REPO_ROOT, 'state-machines');

export interface AslState {
  Type: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  Next?: string;
  End?: boolean;
  Retry?: { ErrorEquals: string[] }[];
  Catch?: { ErrorEquals: string[]; Next: string }[];
  [key: string]: unknown;
}

export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
  [key: string]: unknown;
}

/** Every `${Name}` placeholder in a definition's text. */
export function placeholders(text: string): string[] {
  return [...new Set([...text.matchAll(/\$\{([A-Za-z0-9]+)\}/g)].map((m) => m[1] ?? ''))].sort();
}

/** Local stand-ins: Lambda ARNs named after the function, and a local Batch queue. */
export function localSubstitution(name: string): string {
  if (name.endsWith('FunctionArn')) {
    return `arn:aws:lambda:us-east-1:000000000000:function:stepform-local-${name.slice(0, -'FunctionArn'.length)}`;
  }
  if (name === 'JobQueueArn')
    return 'arn:aws:batch:us-east-1:000000000000:job-queue/stepform-local';
  if (name.endsWith('JobDefinitionArn')) {
    return `arn:aws:batch:us-east-1:000000000000:job-definition/stepform-local-${name.slice(0, -'JobDefinitionArn'.length)}:1`;
  }
  throw new Error(`no local value for placeholder \${${name}}`);
}

/** Replaces every placeholder; any left unresolved is an error. */
export function substitute(text: string, values: (name: string) => string): string {
  return text.replace(/\$\{([A-Za-z0-9]+)\}/g, (_match, name: string) => values(name));
}

export async function readDefinitionText(workflow: Workflow): Promise<string> {
  return readFile(join(STATE_MACHINES_DIR, `${workflow}.asl.json`), 'utf8');
}

export async function loadLocalDefinition(workflow: Workflow): Promise<AslDefinition> {
  const text = substitute(await readDefinitionText(workflow), localSubstitution);
  return adaptForLocalEngine(JSON.parse(text) as AslDefinition);
}

/**
 * The one difference between Step Functions and aws-local-stepfunctions 3.0.0 that the files
 * cannot express for both: Step Functions reads a Task's TimeoutSecondsPath from the state's
 * input, the local library from its input after Parameters. For the lambda:invoke form that
 * input sits under Payload, so the path is re-rooted there. Nothing else is changed.
 */
export function adaptForLocalEngine(definition: AslDefinition): AslDefinition {
  const states = Object.fromEntries(
    Object.entries(definition.States).map(([name, state]) => {
      const path = state.TimeoutSecondsPath;
      if (
        state.Type !== 'Task' ||
        typeof path !== 'string' ||
        state.Parameters?.Payload === undefined
      ) {
        return [name, state];
      }
      return [name, { ...state, TimeoutSecondsPath: path.replace(/^\$\./, '$.Payload.') }];
    }),
  );
  return { ...definition, States: states };
}

/** The local function name a Lambda ARN stands for (`Lock` for ...:function:stepform-local-Lock). */
export function localFunctionName(arn: string): string | undefined {
  return /:function:stepform-local-([A-Za-z0-9]+)$/.exec(arn)?.[1];
}
