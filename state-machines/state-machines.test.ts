// Static checks of the four workflow definitions, the single source CDK deploys and the local
// engine runs: valid ASL, error names that exist, placeholders CDK can fill, and the safety
// properties the design promises (a lock taken is always released, notifications never fail a
// run, every task has a timeout and a retry, every path a state reads is set on every route
// into it). Fast: no Terraform, no engine run.
import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ERROR_CLASSES } from '../core/errors.ts';
import {
  MAX_APPROVAL_TIMEOUT_SECONDS,
  MAX_RUN_PROJECTS,
  RUN_INPUT,
  WORKFLOWS,
  type Workflow,
} from '../core/contracts/workflow-input.ts';
import { LONGEST_JOB_MS } from '../core/locks.ts';
import { APPROVAL_TASK_GRACE_SECONDS } from '../core/run.ts';
import { prepareStep } from '../core/steps.ts';
import { type DataFlowOptions, unsetReads } from './data-flow.ts';
import {
  type AslDefinition,
  type AslState,
  STATE_MACHINES_DIR,
  allStates,
  mapIteration,
  placeholders,
  substitute,
} from './workflows.ts';
import { adaptForLocalEngine, localFunctionName, localSubstitution } from '../local/engine/asl.ts';
import { taskOverrides } from '../local/engine/engine.ts';
import { type HandlerContext, localFunctions } from '../local/engine/handlers.ts';

// asl-validator 4 is CommonJS without type declarations: `module.exports = function validator`.
interface AslValidation {
  readonly isValid: boolean;
  readonly errors: readonly unknown[];
  errorsText(separator?: string): string;
}
type AslValidator = (
  definition: unknown,
  options?: { checkPaths: boolean; checkArn: boolean },
) => AslValidation;
const aslValidator = createRequire(import.meta.url)('asl-validator') as AslValidator;

/** What CDK passes as `definitionSubstitutions`: exactly these, in every deployment. */
const DOCUMENTED_PLACEHOLDERS = [
  'PrepareRunFunctionArn',
  'LockFunctionArn',
  'UnlockFunctionArn',
  'CollectJobResultFunctionArn',
  'NotifyFunctionArn',
  'RequestApprovalFunctionArn',
  'RecordFunctionArn',
  'RollbackFunctionArn',
  'ScheduleFunctionArn',
  'ChangeTtlFunctionArn',
  'JobQueueArn',
  'PlanJobDefinitionArn',
  'ApplyJobDefinitionArn',
];

/** Errors that Step Functions and its service integrations raise, as the files use them. */
const PLATFORM_ERRORS = new Set([
  'States.ALL',
  'States.Timeout',
  'States.TaskFailed',
  'States.Runtime',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Batch.AWSBatchException',
  'Batch.ServerException',
]);
const LAMBDA_TRANSIENT = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

/** A failed or timed-out Terraform job, or a lost approval, is never silently re-run. */
const NEVER_RETRIED = ['States.ALL', 'States.TaskFailed', 'States.Timeout'];

const BATCH_SYNC = 'arn:aws:states:::batch:submitJob.sync';
const LAMBDA_WAIT = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
const LOCK = '${LockFunctionArn}';
const UNLOCK = '${UnlockFunctionArn}';
const NOTIFY = '${NotifyFunctionArn}';
const LOCKING_WORKFLOWS: readonly Workflow[] = [
  'plan-apply',
  'ephemeral',
  'destroy',
  'ttl',
  'command',
];
/** The workflows that wait for a decision before their change. */
const APPROVING_WORKFLOWS: readonly Workflow[] = ['plan-apply', 'command', 'destroy'];

interface Catcher {
  ErrorEquals: string[];
  Next: string;
  ResultPath?: string | null;
}
interface Retrier {
  ErrorEquals: string[];
  MaxAttempts?: number;
}

const texts = new Map<Workflow, string>(
  WORKFLOWS.map((w) => [w, readFileSync(join(STATE_MACHINES_DIR, `${w}.asl.json`), 'utf8')]),
);
function text(workflow: Workflow): string {
  const found = texts.get(workflow);
  if (found === undefined) throw new Error(`no definition for ${workflow}`);
  return found;
}
/** A fresh parse each time: checks and mutations never leak into another test. */
function raw(workflow: Workflow): AslDefinition {
  return JSON.parse(text(workflow)) as AslDefinition;
}
function substituted(workflow: Workflow): AslDefinition {
  return JSON.parse(substitute(text(workflow), localSubstitution)) as AslDefinition;
}
/** Exactly what the local engine runs (loadLocalDefinition, synchronously). */
function local(workflow: Workflow): AslDefinition {
  return adaptForLocalEngine(substituted(workflow));
}

// ---- the checks, as functions, so that each can also be shown to catch a broken file ----

function catchers(state: AslState): Catcher[] {
  return state.Catch ?? [];
}
function retriers(state: AslState): Retrier[] {
  return state.Retry ?? [];
}
/** A state by name, inside a Map state too (names are unique across the nesting). */
function stateOf(definition: AslDefinition, name: string): AslState {
  const state = definition.States[name] ?? allStates(definition).find(([n]) => n === name)?.[1];
  if (!state) throw new Error(`no state ${name}`);
  return state;
}

/** A definition and each Map state's iteration in it: the graphs the checks walk, each alone. */
function levels(definition: AslDefinition): AslDefinition[] {
  return [
    definition,
    ...Object.values(definition.States).flatMap((state) => {
      const iteration = mapIteration(state);
      return iteration ? levels(iteration) : [];
    }),
  ];
}

/** Every transition out of a state: Next, a Choice's branches and Default, and every Catch. */
function successors(state: AslState): string[] {
  const out: string[] = [];
  if (typeof state.Next === 'string') out.push(state.Next);
  if (typeof state.Default === 'string') out.push(state.Default);
  if (Array.isArray(state.Choices)) {
    for (const choice of state.Choices as { Next?: unknown }[]) {
      if (typeof choice.Next === 'string') out.push(choice.Next);
    }
  }
  for (const c of catchers(state)) out.push(c.Next);
  return out;
}

function isTerminal(state: AslState): boolean {
  return state.Type === 'Succeed' || state.Type === 'Fail' || state.End === true;
}

/** States reachable from `from` (included), never walking into or through `blocked` ones. */
function reachable(
  definition: AslDefinition,
  from: readonly string[],
  blocked: (name: string) => boolean = () => false,
): Map<string, string[]> {
  const paths = new Map<string, string[]>();
  const queue: string[][] = from.filter((n) => !blocked(n)).map((n) => [n]);
  while (queue.length > 0) {
    const path = queue.shift() ?? [];
    const name = path[path.length - 1] ?? '';
    if (paths.has(name)) continue;
    paths.set(name, path);
    const state = definition.States[name];
    if (!state) continue;
    for (const next of successors(state)) {
      if (!blocked(next) && !paths.has(next)) queue.push([...path, next]);
    }
  }
  return paths;
}

function unknownErrorNames(definition: AslDefinition): string[] {
  const known = (name: string) => PLATFORM_ERRORS.has(name) || Object.hasOwn(ERROR_CLASSES, name);
  const unknown: string[] = [];
  for (const [name, state] of allStates(definition)) {
    for (const r of retriers(state)) {
      for (const e of r.ErrorEquals) if (!known(e)) unknown.push(`${name}.Retry: ${e}`);
    }
    for (const c of catchers(state)) {
      for (const e of c.ErrorEquals) if (!known(e)) unknown.push(`${name}.Catch: ${e}`);
    }
    if (state.Type === 'Fail' && typeof state.Error === 'string' && !known(state.Error)) {
      unknown.push(`${name}.Error: ${state.Error}`);
    }
  }
  return unknown;
}

function missingTargets(definition: AslDefinition): string[] {
  const missing: string[] = [];
  if (!(definition.StartAt in definition.States)) missing.push(`StartAt -> ${definition.StartAt}`);
  for (const [name, state] of Object.entries(definition.States)) {
    for (const next of successors(state)) {
      if (!(next in definition.States)) missing.push(`${name} -> ${next}`);
    }
  }
  return missing;
}

function lockStates(definition: AslDefinition): string[] {
  return Object.keys(definition.States).filter((n) => stateOf(definition, n).Resource === LOCK);
}
function isUnlock(definition: AslDefinition, name: string): boolean {
  return definition.States[name]?.Resource === UNLOCK;
}

/**
 * "Locks never leak": every path from the lock's success to an end passes through an Unlock
 * state. Walks Next, Choice and Catch edges with the Unlock states removed; any end still
 * reachable is a leak, returned with the path that gets there.
 */
function lockLeaks(definition: AslDefinition): string[] {
  const leaks: string[] = [];
  for (const lock of lockStates(definition)) {
    const next = stateOf(definition, lock).Next;
    if (next === undefined) {
      leaks.push(`${lock} has no Next`);
      continue;
    }
    const walk = reachable(definition, [next], (n) => isUnlock(definition, n));
    for (const [name, path] of walk) {
      const state = definition.States[name];
      if (state && isTerminal(state)) leaks.push([lock, ...path].join(' -> '));
    }
  }
  return leaks;
}

/** An Unlock state, or a Choice (which only routes) that only such states enter. */
function onlyAfterUnlock(
  definition: AslDefinition,
  name: string,
  seen = new Set<string>(),
): boolean {
  if (isUnlock(definition, name)) return true;
  if (stateOf(definition, name).Type !== 'Choice' || seen.has(name)) return false;
  seen.add(name);
  const enteredFrom = Object.entries(definition.States)
    .filter(([, state]) => successors(state).includes(name))
    .map(([from]) => from);
  return enteredFrom.length > 0 && enteredFrom.every((n) => onlyAfterUnlock(definition, n, seen));
}

/**
 * After the lock is taken, a Fail or Succeed state is entered only from an Unlock state, or
 * through the Choice on the outcome that only Unlock states lead to: nothing runs in between.
 */
function endsEnteredWithoutUnlock(definition: AslDefinition): string[] {
  const wrong: string[] = [];
  for (const lock of lockStates(definition)) {
    const next = stateOf(definition, lock).Next;
    if (next === undefined) continue;
    const afterLock = reachable(definition, [next]);
    for (const name of afterLock.keys()) {
      const state = stateOf(definition, name);
      for (const target of successors(state)) {
        const end = definition.States[target];
        if (end && isTerminal(end) && !onlyAfterUnlock(definition, name))
          wrong.push(`${name} -> ${target}`);
      }
    }
  }
  return wrong;
}

/** Every JSONPath into the state data that some state reads. */
function readPaths(definition: AslDefinition): Set<string> {
  const found = new Set<string>();
  const visit = (value: unknown, key?: string) => {
    if (typeof value === 'string') {
      if (key === undefined || key.endsWith('.$') || key.endsWith('Path') || key === 'Variable') {
        for (const m of value.matchAll(/(?<!\$)\$(\.[A-Za-z0-9_]+)+/g)) found.add(m[0]);
      }
    } else if (Array.isArray(value)) {
      for (const item of value) visit(item);
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (k === 'ResultPath' || k === 'Comment') continue;
        visit(v, k);
      }
    }
  };
  for (const [, state] of allStates(definition)) {
    const { Parameters, Choices, CausePath, ErrorPath, TimeoutSecondsPath, InputPath, OutputPath } =
      state;
    const { ItemsPath, MaxConcurrencyPath, ItemSelector } = state;
    visit({ Parameters, Choices, CausePath, ErrorPath, TimeoutSecondsPath, InputPath, OutputPath });
    visit({ ItemsPath, MaxConcurrencyPath, ItemSelector });
  }
  return found;
}

/** A best-effort Catch must write its error where nothing else reads, or it corrupts the run. */
function clobbers(resultPath: string | null | undefined, read: Set<string>): string[] {
  if (resultPath === null) return [];
  if (resultPath === undefined || resultPath === '$') return ['$ (the whole state)'];
  return [...read].filter(
    (p) => p === resultPath || p.startsWith(`${resultPath}.`) || resultPath.startsWith(`${p}.`),
  );
}

/** Notify tasks: retried, then a Catch on States.ALL that goes on exactly as success would. */
function notifyProblems(definition: AslDefinition): string[] {
  const problems: string[] = [];
  const read = readPaths(definition);
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Resource !== NOTIFY) continue;
    const all = catchers(state).find((c) => c.ErrorEquals.includes('States.ALL'));
    if (!all) problems.push(`${name}: no Catch on States.ALL`);
    else {
      if (all.Next !== state.Next)
        problems.push(`${name}: Catch goes to ${all.Next}, not to ${String(state.Next)}`);
      for (const p of clobbers(all.ResultPath, read))
        problems.push(`${name}: Catch ResultPath overwrites ${p}`);
    }
    if (state.ResultPath !== null) problems.push(`${name}: its output replaces state data`);
    if (!retriers(state).some((r) => r.ErrorEquals.includes('NotificationFailed')))
      problems.push(`${name}: NotificationFailed is not retried`);
  }
  return problems;
}

/** The paths of a value: `$.a`, `$.a.b`... (arrays count as a whole). */
function pathsOf(value: unknown, path = '$'): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [path];
  return [
    path,
    ...Object.entries(value).flatMap(([key, field]) => pathsOf(field, `${path}.${key}`)),
  ];
}

/** The execution input's required fields: an optional one counts only behind an IsPresent. */
const REQUIRED_INPUT_FIELDS = Object.entries(RUN_INPUT.shape)
  .filter(([, field]) => field._zod.optin !== 'optional' && field._zod.optin !== 'defaulted')
  .map(([key]) => key);

/** The smallest valid input: exactly the required fields. */
const MINIMAL_INPUT = {
  runId: 'run-1',
  workflow: 'plan',
  repository: '/repo',
  commit: 'a'.repeat(40),
  projectDir: 'stack',
  environment: 'dev',
};

/** What a run of each workflow needs beyond the required fields (its refinements). */
const WORKFLOW_FIELDS: Readonly<Record<Workflow, Record<string, unknown>>> = {
  plan: {},
  'plan-apply': {},
  ephemeral: { ttlSeconds: 3600 },
  destroy: {},
  ttl: { ttlSeconds: 3600 },
  command: { args: ['state', 'list'] },
  drift: {},
};

/**
 * PrepareRun's result replaces the state: what it returns for the smallest input of a
 * workflow is what it returns for any of that workflow (the run with its defaults filled in,
 * the jobs, whether it needs an approval).
 */
function dataFlow(workflow: Workflow): DataFlowOptions {
  return {
    inputPaths: REQUIRED_INPUT_FIELDS.map((key) => `$.${key}`),
    replacingResults: {
      '${PrepareRunFunctionArn}': pathsOf(
        prepareStep(
          { input: { ...MINIMAL_INPUT, workflow, ...WORKFLOW_FIELDS[workflow] } },
          { backend: { type: 'local', stateDir: '/state' }, artifactsRoot: '/artifacts' },
        ),
      ),
    },
  };
}
const DATA_FLOW = dataFlow('plan-apply');

// ---- the checks, on each file ----

describe('the state-machines folder', () => {
  it('knows the execution input the path proof starts from: the required fields, no more', () => {
    expect(Object.keys(MINIMAL_INPUT).sort()).toEqual([...REQUIRED_INPUT_FIELDS].sort());
    expect(RUN_INPUT.safeParse(MINIMAL_INPUT).success).toBe(true);
  });

  it('holds exactly one definition per workflow', () => {
    const files = readdirSync(STATE_MACHINES_DIR).filter((f) => f.endsWith('.json'));
    expect(files.sort()).toEqual(WORKFLOWS.map((w) => `${w}.asl.json`).sort());
  });

  it('uses exactly the documented placeholders across the files, so CDK can fill them', () => {
    const used = new Set(WORKFLOWS.flatMap((w) => placeholders(text(w))));
    expect([...used].sort()).toEqual([...DOCUMENTED_PLACEHOLDERS].sort());
  });
});

describe.each(WORKFLOWS)('%s.asl.json', (workflow) => {
  it('passes asl-validator, as CDK gets it (raw), substituted, and as the local engine runs it', () => {
    for (const definition of [raw(workflow), substituted(workflow), local(workflow)]) {
      const result = aslValidator(definition);
      expect(result.errorsText()).toBe('');
      expect(result.isValid).toBe(true);
    }
  });

  it('is JSONPath, nesting states only in inline Map states of one level, which the checks see', () => {
    const definition = raw(workflow);
    expect(definition.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
    for (const [name, state] of allStates(definition)) {
      expect({ name, type: state.Type }).not.toEqual({ name, type: 'Parallel' });
      expect(state.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
      const iteration = mapIteration(state);
      if (state.Type !== 'Map') continue;
      expect(iteration?.ProcessorConfig).toEqual({ Mode: 'INLINE' });
      expect(Object.values(iteration?.States ?? {}).map((s) => s.Type)).not.toContain('Map');
    }
    // Every name once: the local engine's Task handlers and fault injection go by name.
    const names = allStates(definition).map(([name]) => name);
    expect(names.length).toBe(new Set(names).size);
  });

  it('names only errors of the errors module or of the platform in Retry, Catch and Fail', () => {
    expect(unknownErrorNames(raw(workflow))).toEqual([]);
  });

  it('resolves every placeholder, leaving no ${...} behind', () => {
    const names = placeholders(text(workflow));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      expect(DOCUMENTED_PLACEHOLDERS).toContain(name);
      expect(() => localSubstitution(name)).not.toThrow();
    }
    const resolved = substitute(text(workflow), localSubstitution);
    expect(resolved).not.toContain('${');
    expect(() => JSON.parse(resolved) as unknown).not.toThrow();
  });

  it('gives every Task a local handler, so the local engine can run the whole file', () => {
    const definition = local(workflow);
    const batch = () => Promise.resolve({});
    const overrides = taskOverrides(definition, localFunctions({} as HandlerContext), batch);
    const tasks = allStates(definition).filter(([, s]) => s.Type === 'Task');
    expect(Object.keys(overrides).sort()).toEqual(tasks.map(([n]) => n).sort());
    for (const [, state] of tasks) {
      const resource = state.Resource ?? '';
      if (resource === BATCH_SYNC || resource === LAMBDA_WAIT) continue;
      expect(localFunctionName(resource)).toBeDefined();
    }
  });

  it('gives every Task an explicit timeout (the local engine would default to 60 s)', () => {
    for (const [name, state] of allStates(raw(workflow))) {
      if (state.Type !== 'Task') continue;
      const hasTimeout =
        typeof state.TimeoutSeconds === 'number' || typeof state.TimeoutSecondsPath === 'string';
      expect({ name, hasTimeout }).toEqual({ name, hasTimeout: true });
    }
  });

  it('gives no job longer than the lock outlasts it (LONGEST_JOB_MS)', () => {
    for (const [name, state] of allStates(raw(workflow))) {
      if (state.Resource !== BATCH_SYNC) continue;
      expect({ name, seconds: state.TimeoutSeconds }).toEqual({
        name,
        seconds: LONGEST_JOB_MS / 1000,
      });
    }
  });

  it('runs long enough for every job, the longest approval wait and an hour', () => {
    // Before: plan-apply stopped after 24 h while an approval may wait 7 days (issue 11, defect 7).
    const definition = raw(workflow);
    const states = allStates(definition).map(([, s]) => s);
    // A job inside a Map runs once per project, at worst one after another.
    const inMaps = levels(definition)
      .slice(1)
      .flatMap((level) => Object.values(level.States));
    const jobCount = (list: AslState[]) => list.filter((s) => s.Resource === BATCH_SYNC).length;
    const jobs =
      (jobCount(Object.values(definition.States)) + jobCount(inMaps) * MAX_RUN_PROJECTS) *
      (LONGEST_JOB_MS / 1000);
    const approval = states.some((s) => s.Resource === LAMBDA_WAIT)
      ? MAX_APPROVAL_TIMEOUT_SECONDS
      : 0;
    expect(definition.TimeoutSeconds).toBeGreaterThanOrEqual(jobs + approval + 3600);
  });

  it('retries every Lambda and Batch Task on transient service errors only', () => {
    for (const [name, state] of allStates(raw(workflow))) {
      if (state.Type !== 'Task') continue;
      const retried = retriers(state).flatMap((r) => r.ErrorEquals);
      expect({ name, retried: retried.length > 0 }).toEqual({ name, retried: true });
      const blind = retried.filter((e) => NEVER_RETRIED.includes(e));
      expect({ name, blind }).toEqual({ name, blind: [] });
      if (state.Resource === BATCH_SYNC) {
        expect({ name, batch: retried.every((e) => e.startsWith('Batch.')) }).toEqual({
          name,
          batch: true,
        });
        expect(retried).toContain('Batch.AWSBatchException');
      } else {
        expect({ name, retried }).toEqual({
          name,
          retried: expect.arrayContaining(LAMBDA_TRANSIENT),
        });
      }
    }
  });

  it('reaches every state from StartAt, every transition exists, and every state can end', () => {
    for (const definition of levels(raw(workflow))) {
      expect(missingTargets(definition)).toEqual([]);
      const fromStart = reachable(definition, [definition.StartAt]);
      expect([...fromStart.keys()].sort()).toEqual(Object.keys(definition.States).sort());
      for (const name of Object.keys(definition.States)) {
        const ends = [...reachable(definition, [name]).keys()].filter((n) =>
          isTerminal(stateOf(definition, n)),
        );
        expect({ name, canEnd: ends.length > 0 }).toEqual({ name, canEnd: true });
      }
    }
  });

  it('reads only paths set on every route into the reading state (else States.Runtime)', () => {
    expect(unsetReads(raw(workflow), dataFlow(workflow))).toEqual([]);
  });

  it('notifies best effort: retried, then caught on States.ALL, going on to the same Next', () => {
    const definition = raw(workflow);
    expect(Object.values(definition.States).some((s) => s.Resource === NOTIFY)).toBe(true);
    expect(notifyProblems(definition)).toEqual([]);
  });

  it('waits for approvals only through a task token, with a timeout that ends the run cleanly', () => {
    const definition = raw(workflow);
    for (const [name, state] of Object.entries(definition.States)) {
      if (state.Resource !== LAMBDA_WAIT) continue;
      // plan-apply also waits for a policy override (checked below), before its approval.
      expect(name).toMatch(
        workflow === 'plan-apply' ? /^Request(Approval|PolicyOverride)$/ : /^RequestApproval$/,
      );
    }
    const approval = definition.States.RequestApproval;
    if (!APPROVING_WORKFLOWS.includes(workflow)) {
      expect(approval).toBeUndefined();
      return;
    }
    expect(approval?.Resource).toBe(LAMBDA_WAIT);
    const parameters = approval?.Parameters as { FunctionName: string; Payload: object };
    expect(parameters.FunctionName).toBe('${RequestApprovalFunctionArn}');
    expect(parameters.Payload).toMatchObject({ 'taskToken.$': '$$.Task.Token' });
    // The task waits the approval's timeout and a grace (PrepareRun computes it), so the
    // approval, which expires counted from when the Lambda stored it, expires first.
    expect(approval?.TimeoutSecondsPath).toBe('$.approvalTaskTimeoutSeconds');
    const prepared = prepareStep(
      {
        input: {
          ...MINIMAL_INPUT,
          workflow,
          ...WORKFLOW_FIELDS[workflow],
          approvalTimeoutSeconds: 3600,
        },
      },
      { backend: { type: 'local', stateDir: '/state' }, artifactsRoot: '/artifacts' },
    );
    expect(prepared.approvalTaskTimeoutSeconds).toBe(3600 + APPROVAL_TASK_GRACE_SECONDS);
    expect(APPROVAL_TASK_GRACE_SECONDS).toBeGreaterThanOrEqual(30);
    const onTimeout = catchers(stateOf(definition, 'RequestApproval')).find((c) =>
      c.ErrorEquals.includes('States.Timeout'),
    );
    expect(onTimeout?.Next).toBe('OutcomeExpired');
    expect(stateOf(definition, 'Expired')).toMatchObject({
      Type: 'Fail',
      Error: 'ApprovalExpired',
    });
  });

  if (workflow === 'plan-apply') {
    it('waits for a policy override like an approval; refused or timed out, the run ends PolicyBlocked', () => {
      const definition = raw(workflow);
      const override = stateOf(definition, 'RequestPolicyOverride');
      const approval = stateOf(definition, 'RequestApproval');
      expect(override.Resource).toBe(LAMBDA_WAIT);
      expect(override.TimeoutSecondsPath).toBe('$.approvalTaskTimeoutSeconds');
      expect(override.Retry).toEqual(approval.Retry);
      expect((override.Parameters as { Payload: object }).Payload).toEqual({
        ...(approval.Parameters as { Payload: object }).Payload,
        'policyOverride.$': '$.plans.policyOverride',
      });
      // The override goes into the run, so every later Notify and Record tells of it.
      expect(override.ResultPath).toBe('$.run.policyOverride');
      const next = (error: string) =>
        catchers(override).find((c) => c.ErrorEquals.includes(error))?.Next;
      expect(next('ApprovalRejected')).toBe('OutcomePolicyFailed');
      expect(next('States.Timeout')).toBe('OutcomePolicyFailed');
      expect(next('ApprovalExpired')).toBe('OutcomePolicyFailed');
      expect(next('States.ALL')).toBe('OutcomeFailed');
      expect(stateOf(definition, 'CanOverridePolicy')).toMatchObject({
        Type: 'Choice',
        Choices: [
          { Variable: '$.plans.policyOverride', IsPresent: true, Next: 'RequestPolicyOverride' },
        ],
        Default: 'OutcomePolicyFailed',
      });
      // Overridden, the plans still go to their own approval.
      expect(override.Next).toBe('NotifyPolicyOverridden');
      expect(stateOf(definition, 'NotifyPolicyOverridden').Next).toBe('NotifyPlanned');
    });
  }

  if (LOCKING_WORKFLOWS.includes(workflow)) {
    it('takes the environment lock once, right after PrepareRun, and names Unlock states so', () => {
      const definition = raw(workflow);
      expect(lockStates(definition)).toEqual(['LockEnvironment']);
      expect(stateOf(definition, 'PrepareRun').Next).toBe('LockEnvironment');
      const unlocks = Object.keys(definition.States).filter((n) => isUnlock(definition, n));
      expect(unlocks.length).toBeGreaterThan(0);
      for (const name of unlocks) expect(name).toMatch(/^Unlock/);
      for (const name of Object.keys(definition.States)) {
        if (name.startsWith('Unlock')) expect(isUnlock(definition, name)).toBe(true);
      }
    });

    it('never leaks the lock: every path from LockEnvironment to an end passes an Unlock state', () => {
      expect(lockLeaks(raw(workflow))).toEqual([]);
    });

    it('enters its Fail and Succeed states, once locked, only from an Unlock state', () => {
      expect(endsEnteredWithoutUnlock(raw(workflow))).toEqual([]);
    });

    it('never releases a lock it did not take: no Unlock after LockEnvironment fails', () => {
      const definition = raw(workflow);
      const onFailure = catchers(stateOf(definition, 'LockEnvironment')).map((c) => c.Next);
      expect(onFailure.length).toBeGreaterThan(0);
      const walk = reachable(definition, onFailure);
      expect([...walk.keys()].filter((n) => isUnlock(definition, n))).toEqual([]);
      expect(stateOf(definition, 'LockFailed')).toMatchObject({ Type: 'Fail', Error: 'LockHeld' });
      const lockHeld = retriers(stateOf(definition, 'LockEnvironment')).find((r) =>
        r.ErrorEquals.includes('LockHeld'),
      );
      expect(lockHeld?.MaxAttempts).toBeGreaterThan(0);
    });

    it('releases the same lock it took, and a failed release never changes the outcome', () => {
      const definition = raw(workflow);
      const read = readPaths(definition);
      const lockParameters = stateOf(definition, 'LockEnvironment').Parameters;
      for (const [name, state] of Object.entries(definition.States)) {
        if (!isUnlock(definition, name)) continue;
        expect({ name, parameters: state.Parameters }).toEqual({
          name,
          parameters: lockParameters,
        });
        const all = catchers(state).find((c) => c.ErrorEquals.includes('States.ALL'));
        expect({ name, next: all?.Next }).toEqual({ name, next: state.Next });
        expect({ name, clobbers: clobbers(all?.ResultPath, read) }).toEqual({ name, clobbers: [] });
      }
    });
  } else {
    it('takes no lock (a plan changes nothing)', () => {
      const definition = raw(workflow);
      expect(lockStates(definition)).toEqual([]);
      expect(Object.keys(definition.States).filter((n) => isUnlock(definition, n))).toEqual([]);
    });
  }
});

describe('plan-apply when its apply fails', () => {
  /** ApplyLayer's iteration: one project's apply, and its rollback. */
  const applyIteration = () => {
    const iteration = mapIteration(stateOf(raw('plan-apply'), 'ApplyLayer'));
    if (!iteration) throw new Error('ApplyLayer has no iteration');
    return iteration;
  };

  it('rolls back only an apply that changed the state: NothingApplied fails the project, no rollback', () => {
    const iteration = applyIteration();
    const caught = catchers(stateOf(iteration, 'CollectApply'));
    // Catchers are tried in order: NothingApplied before the States.ALL that rolls back.
    expect(caught.map((c) => [c.ErrorEquals, c.Next])).toEqual([
      [['NothingApplied'], 'ProjectApplyFailed'],
      [['States.ALL'], 'DecideRollback'],
    ]);
    const afterRefusal = reachable(iteration, ['ProjectApplyFailed']);
    for (const rollbackState of ['DecideRollback', 'NotifyRollingBack', 'RunRollbackJob']) {
      expect(afterRefusal.has(rollbackState)).toBe(false);
    }
    expect(stateOf(iteration, 'ProjectApplyFailed').Parameters).toMatchObject({
      status: 'failed',
      'error.$': '$.error',
    });
  });

  it('ends a rollback whose job failed as rollback_failed with the rollback job’s error', () => {
    const definition = raw('plan-apply');
    const iteration = applyIteration();
    const caught = catchers(stateOf(iteration, 'CollectRollback'));
    expect(caught).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.rollbackError', Next: 'ProjectRollbackFailed' },
    ]);
    expect(stateOf(iteration, 'ProjectRollbackFailed').Parameters).toMatchObject({
      status: 'rollback_failed',
      'error.$': '$.rollbackError',
      rollback: { 'applyError.$': '$.error' },
    });
    // NextLayer hands the first unsettled project's error and rollback to the outcome.
    const next = stateOf(definition, 'ApplyNext').Choices as {
      StringEquals: string;
      Next: string;
    }[];
    expect(next.find((c) => c.StringEquals === 'rollback_failed')?.Next).toBe(
      'OutcomeRollbackFailed',
    );
    expect(stateOf(definition, 'OutcomeRollbackFailed').Parameters).toMatchObject({
      outcome: 'rollback_failed',
      phase: 'rollback_failed',
      'error.$': '$.applying.error',
      'rollback.$': '$.applying.rollback',
    });
    const end = stateOf(definition, 'EndForOutcome').Choices as {
      StringEquals: string;
      Next: string;
    }[];
    expect(end.find((c) => c.StringEquals === 'rollback_failed')?.Next).toBe('RollbackFailed');
    expect(stateOf(definition, 'RollbackFailed')).toEqual({
      Type: 'Fail',
      Error: 'RollbackFailed',
      CausePath: '$.outcome.error.Cause',
    });
  });

  it('starts no layer after one that did not apply everywhere: ApplyLayer is entered only from ApplyNext’s "applying"', () => {
    const definition = raw('plan-apply');
    const next = stateOf(definition, 'ApplyNext').Choices as {
      StringEquals: string;
      Next: string;
    }[];
    expect(next.filter((c) => c.Next === 'ApplyLayer').map((c) => c.StringEquals)).toEqual([
      'applying',
    ]);
    expect(stateOf(definition, 'ApplyNext').Default).toBe('OutcomeApplyFailed');
    expect(stateOf(definition, 'ApplyLayer').Next).toBe('NextLayer');
  });
});

// ---- and the checks catch what they are meant to catch ----

describe('command', () => {
  it('runs its job only after the approval a state-changing command needs, or when it needs none', () => {
    const definition = raw('command');
    const into = Object.entries(definition.States)
      .filter(([, state]) => successors(state).includes('RunCommandJob'))
      .map(([name]) => name)
      .sort();
    expect(into).toEqual(['NeedsApproval', 'NotifyApproved']);
    expect(stateOf(definition, 'NeedsApproval')).toMatchObject({
      Choices: [{ Variable: '$.needsApproval', BooleanEquals: true, Next: 'RequestApproval' }],
      Default: 'RunCommandJob',
    });
    // The approval is of the run's own command, and the job is the command job.
    const payload = (stateOf(definition, 'RequestApproval').Parameters as { Payload: object })
      .Payload;
    expect(payload).toMatchObject({ command: { 'args.$': '$.jobs.command.args' } });
    expect(JSON.stringify(stateOf(definition, 'RunCommandJob').Parameters)).toContain(
      'States.JsonToString($.jobs.command)',
    );
    expect(stateOf(definition, 'RunCommandJob').Parameters).toMatchObject({
      JobDefinition: '${ApplyJobDefinitionArn}',
    });
  });

  it('never rolls back: a failed or lost job fails the run with its error', () => {
    const definition = raw('command');
    expect(Object.values(definition.States).map((s) => s.Resource)).not.toContain(
      '${RollbackFunctionArn}',
    );
    expect(catchers(stateOf(definition, 'CollectCommand')).map((c) => c.Next)).toEqual([
      'OutcomeFailed',
    ]);
  });
});

describe('ttl', () => {
  it('ends a refused or failed change as failed, with ChangeTtl’s own error', () => {
    const definition = raw('ttl');
    expect(catchers(stateOf(definition, 'ChangeTtl')).map((c) => [c.ErrorEquals, c.Next])).toEqual([
      [['States.ALL'], 'OutcomeFailed'],
    ]);
    expect(stateOf(definition, 'Failed')).toMatchObject({
      Type: 'Fail',
      ErrorPath: '$.outcome.error.Error',
    });
    expect(stateOf(definition, 'OutcomeTtlChanged').Parameters).toMatchObject({
      phase: 'ttl_changed',
      'schedule.$': '$.ttl.schedule',
    });
  });
});

describe('the checks themselves', () => {
  it('fail on a misspelt error name', () => {
    const definition = raw('plan-apply');
    const lock = stateOf(definition, 'LockEnvironment');
    const retry = retriers(lock)[1];
    if (!retry) throw new Error('LockEnvironment has no second retrier');
    retry.ErrorEquals = ['LockHeId'];
    expect(unknownErrorNames(definition)).toEqual(['LockEnvironment.Retry: LockHeId']);
    const fail = stateOf(definition, 'Failed');
    fail.Error = 'JobFailure';
    expect(unknownErrorNames(definition)).toContain('Failed.Error: JobFailure');
  });

  it('find a path that skips the unlock, and an end entered from elsewhere', () => {
    const definition = raw('plan-apply');
    stateOf(definition, 'RecordOutcome').Next = 'Failed';
    expect(lockLeaks(definition)).toContainEqual(expect.stringMatching(/RecordOutcome -> Failed$/));
    expect(endsEnteredWithoutUnlock(definition)).toContain('RecordOutcome -> Failed');
  });

  it('find a leak through a Catch edge', () => {
    const definition = raw('destroy');
    const notify = stateOf(definition, 'NotifyOutcome');
    const all = catchers(notify)[0];
    if (!all) throw new Error('NotifyOutcome has no Catch');
    all.Next = 'Destroyed';
    expect(lockLeaks(definition)).toContainEqual(
      expect.stringMatching(/NotifyOutcome -> Destroyed$/),
    );
  });

  it('find a notification that can fail the run or overwrite the run data', () => {
    const definition = raw('ephemeral');
    const notify = stateOf(definition, 'NotifyOutcome');
    const overwriting: Catcher[] = [
      { ErrorEquals: ['States.ALL'], ResultPath: '$.run', Next: 'RecordOutcome' },
    ];
    notify.Catch = overwriting;
    expect(notifyProblems(definition)).toContain(
      'NotifyOutcome: Catch ResultPath overwrites $.run',
    );
    notify.Catch = [{ ErrorEquals: ['NotificationFailed'], Next: 'RecordOutcome' }];
    expect(notifyProblems(definition)).toEqual(['NotifyOutcome: no Catch on States.ALL']);
  });

  it('find a read that a Catch route does not set: the record error caught where $.error is read', () => {
    // The bug this proof was written for: RecordPlanned (plan) and RecordNoChanges (plan-apply)
    // caught into $.recordError and went on to NotifyFailed, which reads $.error.
    const definition = raw('plan');
    const recordFailed = stateOf(definition, 'OutcomeRecordFailed');
    recordFailed.Parameters = { ...recordFailed.Parameters, 'error.$': '$.error' };
    expect(unsetReads(definition, DATA_FLOW)).toEqual([
      'OutcomeRecordFailed reads $.error (Parameters.error.$), not set on the route from RecordFailureFailsRun (Choices[0])',
      // ...and so the Fail state, which reads the error the outcome carries.
      'Failed reads $.outcome.error.Cause (CausePath), not set on the route from EndForOutcome (Choices[1])',
    ]);
  });

  it('find a Catch without ResultPath, whose error replaces the whole state', () => {
    const definition = raw('plan-apply');
    const onFailure = catchers(stateOf(definition, 'NextLayer'))[0];
    if (!onFailure) throw new Error('NextLayer has no Catch');
    delete onFailure.ResultPath;
    expect(unsetReads(definition, DATA_FLOW)).toEqual(
      expect.arrayContaining([
        'OutcomeFailed reads $.run (Parameters.run.$), not set on the route from NextLayer (Catch[0])',
        'OutcomeFailed reads $.error (Parameters.error.$), not set on the route from NextLayer (Catch[0])',
      ]),
    );
  });

  it('find a read inside a Map iteration that its item selector does not set', () => {
    const definition = raw('plan');
    const failed = stateOf(definition, 'ProjectPlanFailed');
    failed.Parameters = { ...failed.Parameters, 'run.$': '$.run' };
    expect(unsetReads(definition, DATA_FLOW)).toEqual([
      'PlanProjects/ProjectPlanFailed reads $.run (Parameters.run.$), not set on the route from CollectPlan (Catch[0])',
    ]);
    const map = stateOf(definition, 'PlanProjects');
    map.ItemsPath = '$.items';
    expect(unsetReads(definition, DATA_FLOW)).toContain(
      'PlanProjects reads $.items (ItemsPath), not set on the route from NotifyStarted (Next)',
    );
  });

  it('find an outcome routed to a terminal that reads what that outcome does not set', () => {
    const definition = raw('plan-apply');
    const rules = stateOf(definition, 'EndForOutcome').Choices as {
      StringEquals: string;
      Next: string;
    }[];
    const applied = rules.find((rule) => rule.StringEquals === 'applied');
    if (!applied) throw new Error('EndForOutcome has no rule for applied');
    applied.Next = 'Failed';
    expect(unsetReads(definition, DATA_FLOW)).toEqual([
      expect.stringMatching(
        /^Failed reads \$\.outcome\.error\.Cause \(CausePath\), not set on the route from EndForOutcome \(Choices\[\d\]\)$/,
      ),
    ]);
  });

  it('find an outcome that no rule of the Choice ends (States.NoChoiceMatched)', () => {
    const definition = raw('destroy');
    const end = stateOf(definition, 'EndForOutcome');
    end.Choices = (end.Choices as { StringEquals: string }[]).filter(
      (rule) => rule.StringEquals !== 'destroy_failed',
    );
    expect(unsetReads(definition, DATA_FLOW)).toEqual([
      expect.stringMatching(
        /^EndForOutcome: no rule and no Default for the routes with .*"destroy_failed"/,
      ),
    ]);
  });

  it('find an optional input field read without a Choice that checks it is present', () => {
    const definition = raw('ephemeral');
    const schedule = stateOf(definition, 'ScheduleDestroy');
    schedule.Parameters = { ...schedule.Parameters, 'ttlSeconds.$': '$.run.ttlSeconds' };
    expect(unsetReads(definition, DATA_FLOW)).toEqual([
      'ScheduleDestroy reads $.run.ttlSeconds (Parameters.ttlSeconds.$), not set on the route from CreateNext (Choices[1])',
    ]);
    const [, created] = stateOf(definition, 'CreateNext').Choices as { Next: string }[];
    if (created === undefined) throw new Error('CreateNext has no second rule');
    created.Next = 'HasTtl';
    definition.States.HasTtl = {
      Type: 'Choice',
      Choices: [{ Variable: '$.run.ttlSeconds', IsPresent: true, Next: 'ScheduleDestroy' }],
      Default: 'Applied',
    };
    expect(unsetReads(definition, DATA_FLOW)).toEqual([]);
  });

  it('and asl-validator rejects a missing transition target', () => {
    const definition = raw('plan');
    stateOf(definition, 'PrepareRun').Next = 'Nowhere';
    expect(aslValidator(definition).isValid).toBe(false);
    expect(missingTargets(definition)).toEqual(['PrepareRun -> Nowhere']);
  });
});
