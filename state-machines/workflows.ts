// The one module that knows the workflows' ASL files: which workflows there are, where each
// file is, the `${Placeholder}`s a file leaves for its deployer to fill, and what each
// placeholder's name says it stands for. CDK (infra/) and the local engine (local/engine/)
// both load the files through here. The list of workflows itself is core's (the run input's
// zod enum needs it, and core/ may import nothing else), re-used here.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORKFLOWS, type Workflow } from '../core/contracts/workflow-input.ts';

export { WORKFLOWS, type Workflow };

/** The shape of an ASL file as the tests and the engines read it (JSONPath states). */
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

/** The states a Map state runs for each item (ItemProcessor, or Iterator before 2023). */
export function mapIteration(state: AslState): AslDefinition | undefined {
  if (state.Type !== 'Map') return undefined;
  return (state.ItemProcessor ?? state.Iterator) as AslDefinition | undefined;
}

/**
 * Every state of a definition, those inside Map states too (state names are unique across
 * the nesting, as the local engine's overrides by name require).
 */
export function allStates(definition: AslDefinition): [string, AslState][] {
  return Object.entries(definition.States).flatMap(([name, state]): [string, AslState][] => {
    const iteration = mapIteration(state);
    return [[name, state], ...(iteration ? allStates(iteration) : [])];
  });
}

/** The definition with `change` applied to each state, inside Map states too. */
export function mapStates(
  definition: AslDefinition,
  change: (state: AslState) => AslState,
): AslDefinition {
  const States = Object.fromEntries(
    Object.entries(definition.States).map(([name, state]) => {
      const iteration = mapIteration(state);
      const key = state.ItemProcessor ? 'ItemProcessor' : 'Iterator';
      const changed = change(state);
      return [name, iteration ? { ...changed, [key]: mapStates(iteration, change) } : changed];
    }),
  );
  return { ...definition, States };
}

/** This folder, which holds exactly one `<workflow>.asl.json` per workflow. */
export const STATE_MACHINES_DIR = dirname(fileURLToPath(import.meta.url));

/** The ASL file of a workflow. */
export function aslPath(workflow: Workflow): string {
  return join(STATE_MACHINES_DIR, `${workflow}.asl.json`);
}

/** The text of a workflow's ASL file, placeholders unfilled. */
export async function readAslText(workflow: Workflow): Promise<string> {
  return readFile(aslPath(workflow), 'utf8');
}

/** `${Name}`: letters and digits only, so JSONPath (`$.x`, `$$.Task.Token`) never matches. */
const PLACEHOLDER = /\$\{([A-Za-z0-9]+)\}/g;

/** Every `${Name}` placeholder in a definition's text, each once, sorted. */
export function placeholders(text: string): string[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1] ?? ''))].sort();
}

/** The placeholders of a workflow's file. */
export function placeholdersOf(workflow: Workflow): string[] {
  return placeholders(readFileSync(aslPath(workflow), 'utf8'));
}

/**
 * Replaces every placeholder with the value for its name (inserted literally); `values`
 * throws for a name it has no value for.
 */
export function substitute(text: string, values: (name: string) => string): string {
  return text.replace(PLACEHOLDER, (_match, name: string) => values(name));
}

/**
 * What a placeholder stands for, by the naming rule of the files: `${<Name>FunctionArn}` the
 * Lambda function `<Name>` (a Task state's function, core/task-steps.ts), `${<Name>JobDefinitionArn}`
 * the Batch job definition `<Name>`, `${JobQueueArn}` the Batch job queue.
 */
export type PlaceholderTarget =
  | { readonly kind: 'function'; readonly name: string }
  | { readonly kind: 'jobDefinition'; readonly name: string }
  | { readonly kind: 'jobQueue' };

const FUNCTION_ARN = 'FunctionArn';
const JOB_DEFINITION_ARN = 'JobDefinitionArn';
const JOB_QUEUE_ARN = 'JobQueueArn';
const NAME = /^[A-Z][A-Za-z0-9]*$/;

/** The placeholder that stands for a target. */
export function placeholderFor(target: PlaceholderTarget): string {
  switch (target.kind) {
    case 'function':
      return `${target.name}${FUNCTION_ARN}`;
    case 'jobDefinition':
      return `${target.name}${JOB_DEFINITION_ARN}`;
    case 'jobQueue':
      return JOB_QUEUE_ARN;
  }
}

/** What a placeholder stands for; undefined when its name follows none of the rules. */
export function placeholderTarget(placeholder: string): PlaceholderTarget | undefined {
  if (placeholder === JOB_QUEUE_ARN) return { kind: 'jobQueue' };
  for (const [suffix, kind] of [
    [FUNCTION_ARN, 'function'],
    [JOB_DEFINITION_ARN, 'jobDefinition'],
  ] as const) {
    const name = placeholder.endsWith(suffix) ? placeholder.slice(0, -suffix.length) : '';
    if (NAME.test(name)) return { kind, name };
  }
  return undefined;
}

/** The names of the targets of one kind that a workflow's file names, sorted. */
function targetsOf(workflow: Workflow, kind: 'function' | 'jobDefinition'): string[] {
  return placeholdersOf(workflow).flatMap((placeholder) => {
    const target = placeholderTarget(placeholder);
    return target?.kind === kind ? [target.name] : [];
  });
}

/** The Lambda functions a workflow's Task states call (`Lock` for `${LockFunctionArn}`). */
export function functionsOf(workflow: Workflow): string[] {
  return targetsOf(workflow, 'function');
}

/** The Batch job definitions a workflow's jobs use (`Plan` for `${PlanJobDefinitionArn}`). */
export function jobDefinitionsOf(workflow: Workflow): string[] {
  return targetsOf(workflow, 'jobDefinition');
}
