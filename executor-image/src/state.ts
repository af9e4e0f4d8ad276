// What the executor reads from Terraform state and outputs: the identity of a state
// (lineage and serial), which tells whether a saved plan is still current, and outputs with
// sensitive values masked. A local backend's state is read from its file, as `state pull`
// would print it, without starting the engine.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { type MaskedOutput, type StateIdentity } from '../../core/contracts/job-result.ts';
import { MASK, leaves } from '../../core/masking.ts';

const OUTPUT_VALUE = z.looseObject({
  value: z.unknown().optional(),
  sensitive: z.boolean().optional(),
});

/** A step of a path into a resource's attributes, as state files record sensitive ones. */
const PATH_STEP = z.looseObject({ type: z.string(), value: z.unknown() });

const STATE_JSON = z.looseObject({
  lineage: z.string(),
  serial: z.number().int(),
  outputs: z.record(z.string(), OUTPUT_VALUE).optional(),
  resources: z
    .array(
      z.looseObject({
        instances: z
          .array(
            z.looseObject({
              attributes: z.unknown().optional(),
              sensitive_attributes: z.array(z.unknown()).optional(),
            }),
          )
          .optional(),
      }),
    )
    .optional(),
});

/** The value at a recorded attribute path, or undefined when the path does not resolve. */
function valueAtPath(root: unknown, path: unknown): unknown {
  const steps = z.array(PATH_STEP).safeParse(path);
  if (!steps.success) return undefined;
  let value = root;
  for (const step of steps.data) {
    if (value === null || typeof value !== 'object') return undefined;
    // Index steps hold a typed value ({ value: 0, type: "number" }); attribute steps a name.
    const raw: unknown =
      step.value !== null && typeof step.value === 'object' && 'value' in step.value
        ? step.value.value
        : step.value;
    if (typeof raw !== 'string' && typeof raw !== 'number') return undefined;
    value = (value as Record<string | number, unknown>)[raw];
  }
  return value;
}

export interface PulledState {
  /** null when there is no state yet: an empty state has no lineage to compare. */
  readonly identity: StateIdentity | null;
  readonly sensitiveValues: string[];
  /** The root module's outputs, sensitive ones masked (their values are in sensitiveValues). */
  readonly outputs: Record<string, MaskedOutput>;
}

const NO_STATE: PulledState = { identity: null, sensitiveValues: [], outputs: {} };

function readStateJson(state: z.output<typeof STATE_JSON>): PulledState {
  const { outputs, sensitiveValues } = maskOutputs(state.outputs ?? {});
  // Attributes the state marks sensitive. Some derived attributes (terraform_data's `output`)
  // hold the same value unmarked, and masking the value catches those too.
  for (const resource of state.resources ?? []) {
    for (const instance of resource.instances ?? []) {
      for (const path of instance.sensitive_attributes ?? []) {
        sensitiveValues.push(...leaves(valueAtPath(instance.attributes, path)));
      }
    }
  }
  return { identity: { lineage: state.lineage, serial: state.serial }, sensitiveValues, outputs };
}

/** Reads the output of `terraform state pull` (empty when no state exists). */
export function parseStatePull(stdout: string): PulledState {
  if (stdout.trim() === '') return NO_STATE;
  return readStateJson(STATE_JSON.parse(JSON.parse(stdout)));
}

/**
 * The state file format that `state pull` prints, and that a local backend writes as is. An
 * encrypted OpenTofu state has a lineage and serial too, but its outputs and resources are
 * sealed in `encrypted_data`: only the engine reads that.
 */
const PLAIN_STATE_FILE = STATE_JSON.extend({ version: z.literal(4) }).refine(
  (state) => !('encrypted_data' in state),
);

/**
 * A local backend's state, read from its file. undefined when there is no file, or when it is
 * not a plain version-4 state (encrypted, or an older format Terraform would upgrade on
 * reading): the caller then asks the engine (`state pull`), so a file that is not where the
 * engine keeps it can never pass for an empty state.
 */
export async function readLocalState(path: string): Promise<PulledState | undefined> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return undefined; // no file, or not one that parses: the engine reads it, or says why not
  }
  const state = PLAIN_STATE_FILE.safeParse(json);
  return state.success ? readStateJson(state.data) : undefined;
}

export function describeState(identity: StateIdentity | null): string {
  return identity ? `lineage ${identity.lineage} serial ${identity.serial}` : 'no state (empty)';
}

export function sameState(a: StateIdentity | null, b: StateIdentity | null): boolean {
  if (a === null || b === null) return a === b;
  return a.lineage === b.lineage && a.serial === b.serial;
}

const OUTPUTS_JSON = z.record(z.string(), OUTPUT_VALUE);

function maskOutputs(raw: Readonly<Record<string, z.output<typeof OUTPUT_VALUE>>>): {
  outputs: Record<string, MaskedOutput>;
  sensitiveValues: string[];
} {
  const outputs: Record<string, MaskedOutput> = {};
  const sensitiveValues: string[] = [];
  for (const [name, output] of Object.entries(raw)) {
    const sensitive = output.sensitive === true;
    if (sensitive) sensitiveValues.push(...leaves(output.value));
    outputs[name] = { sensitive, value: sensitive ? MASK : output.value };
  }
  return { outputs, sensitiveValues };
}

/** Reads `terraform output -json`: sensitive values are replaced by MASK and returned apart. */
export function parseOutputs(stdout: string): {
  outputs: Record<string, MaskedOutput>;
  sensitiveValues: string[];
} {
  return maskOutputs(OUTPUTS_JSON.parse(JSON.parse(stdout.trim() === '' ? '{}' : stdout)));
}
