// "Every path a state reads is set on every route into it": a must-analysis of a JSONPath
// workflow definition. On Step Functions a Parameters, InputPath, Choice Variable or CausePath
// that points at nothing is States.Runtime, which no Catch on States.ALL takes, so such a read
// ends the execution on the spot (and a run that holds a lock leaves it to its expiry).
//
// For each state the analysis computes what is present on entry, on every route: the
// execution input's fields, each upstream state's ResultPath (a Pass state's Parameters field
// by field, a Task's result as an object of unknown shape), and each Catch's ResultPath (an
// error: Error and Cause). Routes are kept apart by the constants Pass states set (an outcome
// name, say), so that a Choice on such a constant lets only the matching routes through; at a
// join the routes that carry the same constants are intersected. Used by the graph tests.
import { type AslDefinition, type AslState, mapIteration } from './workflows.ts';

type Constant = string | number | boolean | null;

/** What one class of routes guarantees: paths present, opaque objects, constant values. */
interface Facts {
  /** Paths present (each with all its prefixes), `$` included. */
  readonly present: ReadonlySet<string>;
  /** Objects whose fields are unknown (a Task's result): any path below one counts as set. */
  readonly opaque: ReadonlySet<string>;
  /** Literal values set by Pass states, or learnt from the Choice rule a route went through. */
  readonly constants: ReadonlyMap<string, Constant>;
}

/** The routes into a state, by the constants they carry. */
type Flow = Map<string, Facts>;

export interface DataFlowOptions {
  /** The paths of the execution input that every start guarantees (its required fields). */
  readonly inputPaths: readonly string[];
  /** What a Task whose result replaces the whole state returns, by Resource. */
  readonly replacingResults: Readonly<Record<string, readonly string[]>>;
}

const ROOT = '$';

function isUnder(path: string, root: string): boolean {
  return root === ROOT || path === root || path.startsWith(`${root}.`);
}

/** `$.a.b` -> `$`, `$.a`, `$.a.b`. Only dot notation: a bracket is reported, never guessed. */
function prefixes(path: string): string[] {
  if (!/^\$(\.[A-Za-z0-9_-]+)*$/.test(path)) throw new Error(`unsupported JSONPath ${path}`);
  const parts = path.split('.');
  return parts.map((_, i) => parts.slice(0, i + 1).join('.'));
}

/** `path` (under `from`) moved under `to`. */
function reroot(path: string, from: string, to: string): string {
  if (from === ROOT) return to + path.slice(1);
  return to + path.slice(from.length);
}

function facts(
  present: Iterable<string>,
  opaque: Iterable<string> = [],
  constants: Iterable<[string, Constant]> = [],
): Facts {
  return { present: new Set(present), opaque: new Set(opaque), constants: new Map(constants) };
}

const OPAQUE_OBJECT = facts([ROOT], [ROOT]);
/** The context path of the item a Map state's iteration works on. */
const MAP_ITEM = '$$.Map.Item.Value';
/** A Catch's ResultPath receives the error output: Error and Cause. */
const ERROR_OUTPUT = facts([ROOT, '$.Error', '$.Cause']);

/** Is `path` present: set itself, or below an opaque object. */
function covers(known: Facts, path: string): boolean {
  if (known.present.has(path)) return true;
  return prefixes(path).some((p) => p !== path && p !== ROOT && known.opaque.has(p));
}

/** What is known of the value at `path`, as a value of its own (rooted at `$`). */
function valueAt(known: Facts, path: string): Facts {
  if (path === ROOT) return known;
  const opaqueAbove = prefixes(path).some((p) => p !== ROOT && known.opaque.has(p));
  if (opaqueAbove) return OPAQUE_OBJECT;
  const pick = <T>(entries: Iterable<T>, key: (e: T) => string) =>
    [...entries].filter((e) => isUnder(key(e), path));
  return facts(
    pick(known.present, (p) => p).map((p) => reroot(p, path, ROOT)),
    pick(known.opaque, (p) => p).map((p) => reroot(p, path, ROOT)),
    pick(known.constants, ([p]) => p).map(([p, v]) => [reroot(p, path, ROOT), v]),
  );
}

/** The state after writing `value` at `path`: what was there before is gone. */
function withValueAt(known: Facts, path: string, value: Facts): Facts {
  if (path === ROOT) return value;
  const keep = (p: string) => !isUnder(p, path);
  return facts(
    [
      ...[...known.present].filter(keep),
      ...prefixes(path),
      ...[...value.present].map((p) => reroot(p, ROOT, path)),
    ],
    [...[...known.opaque].filter(keep), ...[...value.opaque].map((p) => reroot(p, ROOT, path))],
    [
      ...[...known.constants].filter(([p]) => keep(p)),
      ...[...value.constants].map(([p, v]): [string, Constant] => [reroot(p, ROOT, path), v]),
    ],
  );
}

/** A literal value (Pass Result, a Parameters constant). */
function literal(value: unknown): Facts {
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) {
    return facts([ROOT], [], [[ROOT, value as Constant]]);
  }
  let known = facts([ROOT]);
  if (typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
      known = withValueAt(known, `$.${key}`, literal(field));
    }
  }
  return known;
}

/** A JSONPath read inside an intrinsic function's arguments (quoted strings left out). */
function intrinsicPaths(expression: string): string[] {
  const unquoted = expression.replace(/'(?:[^'\\]|\\.)*'/g, "''");
  return [...unquoted.matchAll(/(?<![$\w])\$(?!\$)(?:\.[A-Za-z0-9_-]+)*/g)].map((m) => m[0]);
}

/** The JSONPaths into the state data that a `.$` value reads; `$$` (context) is not state data. */
function templateReads(value: string): string[] {
  if (value.startsWith('$$')) return [];
  if (value.startsWith('$')) return [value];
  if (value.startsWith('States.')) return intrinsicPaths(value);
  throw new Error(`unsupported dynamic value ${value}`);
}

/** A Parameters (or ResultSelector) template evaluated over `input`. */
function template(shape: unknown, input: Facts): Facts {
  let known = facts([ROOT]);
  for (const [key, value] of Object.entries(shape as Record<string, unknown>)) {
    if (key.endsWith('.$')) {
      const field = `$.${key.slice(0, -2)}`;
      const text = String(value);
      const source = text.startsWith('$') && !text.startsWith('$$') ? text : undefined;
      // A Map's item is an element of the array it iterates: of a shape the analysis can't know.
      const read = source
        ? valueAt(input, source)
        : text === MAP_ITEM
          ? OPAQUE_OBJECT
          : facts([ROOT]);
      known = withValueAt(known, field, read);
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      known = withValueAt(known, `$.${key}`, template(value, input));
    } else {
      known = withValueAt(known, `$.${key}`, literal(value));
    }
  }
  return known;
}

/** Every JSONPath into the state input that `state` reads, with where it reads it. */
export function stateReads(state: AslState): { path: string; where: string }[] {
  const reads: { path: string; where: string }[] = [];
  const walkTemplate = (shape: unknown, where: string) => {
    if (shape === null || typeof shape !== 'object' || Array.isArray(shape)) return;
    for (const [key, value] of Object.entries(shape as Record<string, unknown>)) {
      if (key.endsWith('.$')) {
        for (const path of templateReads(String(value)))
          reads.push({ path, where: `${where}.${key}` });
      } else {
        walkTemplate(value, `${where}.${key}`);
      }
    }
  };
  for (const key of [
    'InputPath',
    'TimeoutSecondsPath',
    'HeartbeatSecondsPath',
    'ItemsPath',
    'MaxConcurrencyPath',
  ]) {
    const path = state[key];
    if (typeof path === 'string' && path !== ROOT) reads.push({ path, where: key });
  }
  walkTemplate(state.Parameters, 'Parameters');
  walkTemplate(state.ItemSelector, 'ItemSelector');
  if (state.Type === 'Fail') {
    for (const key of ['CausePath', 'ErrorPath']) {
      const path = state[key];
      if (typeof path === 'string') reads.push({ path, where: key });
    }
  }
  const walkRule = (rule: Record<string, unknown>, where: string) => {
    for (const [op, nested] of Object.entries(rule)) {
      if (op === 'And' || op === 'Or') {
        (nested as Record<string, unknown>[]).forEach((r, i) =>
          walkRule(r, `${where}.${op}[${i}]`),
        );
      } else if (op === 'Not') {
        walkRule(nested as Record<string, unknown>, `${where}.Not`);
      } else if (op.endsWith('Path') && typeof nested === 'string') {
        reads.push({ path: nested, where: `${where}.${op}` });
      }
    }
    // IsPresent is the guard itself: its Variable may be missing.
    if (typeof rule.Variable === 'string' && !('IsPresent' in rule)) {
      reads.push({ path: rule.Variable, where: `${where}.Variable` });
    }
  };
  ((state.Choices ?? []) as Record<string, unknown>[]).forEach((rule, i) =>
    walkRule(rule, `Choices[${i}]`),
  );
  return reads;
}

const EQUALITY_OPERATORS = ['StringEquals', 'BooleanEquals', 'NumericEquals'] as const;

/** A Choice rule on a route's facts: true, false, or undefined (cannot tell). */
function evaluate(rule: Record<string, unknown>, known: Facts): boolean | undefined {
  if (Array.isArray(rule.And)) {
    const results = (rule.And as Record<string, unknown>[]).map((r) => evaluate(r, known));
    if (results.includes(false)) return false;
    return results.every((r) => r === true) ? true : undefined;
  }
  if (Array.isArray(rule.Or)) {
    const results = (rule.Or as Record<string, unknown>[]).map((r) => evaluate(r, known));
    if (results.includes(true)) return true;
    return results.every((r) => r === false) ? false : undefined;
  }
  if (rule.Not !== undefined) {
    const result = evaluate(rule.Not as Record<string, unknown>, known);
    return result === undefined ? undefined : !result;
  }
  const variable = String(rule.Variable);
  if (rule.IsPresent === true && known.present.has(variable)) return true;
  const operator = EQUALITY_OPERATORS.find((op) => op in rule);
  if (operator && known.constants.has(variable)) {
    return known.constants.get(variable) === rule[operator];
  }
  return undefined;
}

/** What a route learns by taking a rule's branch. */
function refine(rule: Record<string, unknown>, known: Facts): Facts {
  if (Array.isArray(rule.And)) {
    return (rule.And as Record<string, unknown>[]).reduce((k, r) => refine(r, k), known);
  }
  if (typeof rule.Variable !== 'string') return known;
  const variable = rule.Variable;
  if (rule.IsPresent === true) return withValueAt(known, variable, valueAt(known, variable));
  const operator = EQUALITY_OPERATORS.find((op) => op in rule);
  if (!operator) return known;
  if (known.opaque.has(variable) || !covers(known, variable)) return known;
  return withValueAt(known, variable, literal(rule[operator]));
}

function routeKey(known: Facts): string {
  return JSON.stringify([...known.constants].sort(([a], [b]) => a.localeCompare(b)));
}

function intersect(a: Facts, b: Facts): Facts {
  // A path one route has and the other holds inside an object of unknown shape is set on both.
  const underOpaque = (known: Facts, path: string) =>
    [...known.opaque].some((root) => isUnder(path, root));
  const covers = (known: Facts, path: string) =>
    known.present.has(path) || underOpaque(known, path);
  return facts(
    [...[...a.present].filter((p) => covers(b, p)), ...[...b.present].filter((p) => covers(a, p))],
    [
      ...[...a.opaque].filter((p) => underOpaque(b, p)),
      ...[...b.opaque].filter((p) => underOpaque(a, p)),
    ],
    a.constants,
  );
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((item) => b.has(item));
}

/** Adds `incoming` to `flow`; true when that changed what the state knows. */
function merge(flow: Flow, incoming: Flow): boolean {
  let changed = false;
  for (const [key, known] of incoming) {
    const before = flow.get(key);
    const after = before ? intersect(before, known) : known;
    if (
      !before ||
      !sameSet(after.present, before.present) ||
      !sameSet(after.opaque, before.opaque)
    ) {
      flow.set(key, after);
      changed = true;
    }
  }
  return changed;
}

interface Edge {
  readonly to: string;
  readonly label: string;
  readonly flow: Flow;
}

function mapFlow(flow: Flow, f: (known: Facts) => Facts | undefined): Flow {
  const out: Flow = new Map();
  for (const known of flow.values()) {
    const next = f(known);
    if (next) merge(out, new Map([[routeKey(next), next]]));
  }
  return out;
}

/** The state data after `state` succeeds, given its input. */
function output(name: string, state: AslState, input: Facts, options: DataFlowOptions): Facts {
  for (const unsupported of ['OutputPath', 'ResultSelector']) {
    if (unsupported in state) throw new Error(`${name}: ${unsupported} is not analysed`);
  }
  if (state.Type === 'Wait') return input;
  const effective = typeof state.InputPath === 'string' ? valueAt(input, state.InputPath) : input;
  let result: Facts;
  if (state.Type === 'Pass') {
    if (state.Parameters !== undefined) result = template(state.Parameters, effective);
    else if ('Result' in state) result = literal(state.Result);
    else result = effective;
  } else if (state.Type === 'Map') {
    // An array of the iterations' outputs; what each holds is checked where it is read.
    result = OPAQUE_OBJECT;
    if (state.ResultPath === undefined || state.ResultPath === ROOT) {
      throw new Error(`${name}: a Map's result replaces the state`);
    }
  } else if (state.Type === 'Task') {
    const known = options.replacingResults[state.Resource ?? ''];
    result = known ? facts(known) : OPAQUE_OBJECT;
    const resultPath = state.ResultPath;
    if ((resultPath === undefined || resultPath === ROOT) && !known) {
      throw new Error(`${name}: its result replaces the state, and what it returns is not known`);
    }
  } else {
    throw new Error(`${name}: ${state.Type} states are not analysed`);
  }
  if (state.ResultPath === null) return input;
  return withValueAt(input, typeof state.ResultPath === 'string' ? state.ResultPath : ROOT, result);
}

/** Every transition out of `name`, with what travels along it. */
function edges(name: string, state: AslState, flow: Flow, options: DataFlowOptions): Edge[] {
  const out: Edge[] = [];
  if (state.Type === 'Choice') {
    const rules = (state.Choices ?? []) as (Record<string, unknown> & { Next: string })[];
    rules.forEach((rule, i) => {
      const taken = mapFlow(flow, (known) => {
        if (rules.slice(0, i).some((earlier) => evaluate(earlier, known) === true))
          return undefined;
        return evaluate(rule, known) === false ? undefined : refine(rule, known);
      });
      out.push({ to: rule.Next, label: `Choices[${i}]`, flow: taken });
    });
    const unmatched = mapFlow(flow, (known) =>
      rules.some((rule) => evaluate(rule, known) === true) ? undefined : known,
    );
    out.push({
      to: typeof state.Default === 'string' ? state.Default : '',
      label: 'Default',
      flow: unmatched,
    });
    return out;
  }
  if (typeof state.Next === 'string') {
    out.push({
      to: state.Next,
      label: 'Next',
      flow: mapFlow(flow, (k) => output(name, state, k, options)),
    });
  }
  for (const [i, catcher] of (state.Catch ?? []).entries()) {
    const resultPath = (catcher as { ResultPath?: string | null }).ResultPath;
    out.push({
      to: catcher.Next,
      label: `Catch[${i}]`,
      flow: mapFlow(flow, (known) =>
        resultPath === null ? known : withValueAt(known, resultPath ?? ROOT, ERROR_OUTPUT),
      ),
    });
  }
  return out;
}

/**
 * The reads that some route into their state does not set, each with the route that misses
 * it, and the Choice states some route falls through without a rule or a Default for it
 * (States.NoChoiceMatched). Empty when every read is set on every route.
 */
export function unsetReads(definition: AslDefinition, options: DataFlowOptions): string[] {
  return analyse(definition, facts(['$', ...options.inputPaths.flatMap(prefixes)]), options);
}

/**
 * The analysis of one level: a definition from what it starts with. A Map state's iteration is
 * a level of its own, starting with what its ItemSelector builds on each route into the Map;
 * its problems are named `Map/State`.
 */
function analyse(definition: AslDefinition, start: Facts, options: DataFlowOptions): string[] {
  const entries = new Map<string, Flow>([
    [definition.StartAt, new Map([[routeKey(start), start]])],
  ]);
  const pending = [definition.StartAt];
  const stateOf = (name: string) => {
    const state = definition.States[name];
    if (!state) throw new Error(`no state ${name}`);
    return state;
  };
  while (pending.length > 0) {
    const name = pending.shift() ?? '';
    for (const edge of edges(
      name,
      stateOf(name),
      entries.get(name) ?? new Map<string, Facts>(),
      options,
    )) {
      if (edge.to === '' || edge.flow.size === 0) continue;
      const flow = entries.get(edge.to) ?? new Map<string, Facts>();
      entries.set(edge.to, flow);
      if (merge(flow, edge.flow) && !pending.includes(edge.to)) pending.push(edge.to);
    }
  }

  const problems: string[] = [];
  for (const [name, state] of Object.entries(definition.States)) {
    const flow = entries.get(name);
    if (!flow) continue;
    for (const edge of edges(name, state, flow, options)) {
      if (edge.to === '' && edge.flow.size > 0) {
        const routes = [...edge.flow.values()].map((k) => routeKey(k)).join(', ');
        problems.push(`${name}: no rule and no Default for the routes with ${routes}`);
        continue;
      }
      const target = definition.States[edge.to];
      if (!target) continue;
      for (const read of stateReads(target)) {
        const missing = [...edge.flow.values()].some((known) => !covers(known, read.path));
        if (missing) {
          problems.push(
            `${edge.to} reads ${read.path} (${read.where}), not set on the route from ${name} (${edge.label})`,
          );
        }
      }
    }
    const iteration = mapIteration(state);
    if (iteration) {
      const selector = state.ItemSelector ?? state.Parameters;
      // What every route into the Map gives each iteration (the item itself without a selector).
      const starts = [...flow.values()].map((known) =>
        selector === undefined ? OPAQUE_OBJECT : template(selector, known),
      );
      const first = starts[0];
      if (first) {
        const itemStart = starts.slice(1).reduce(intersect, first);
        problems.push(
          ...analyse(iteration, itemStart, options).map((problem) => `${name}/${problem}`),
        );
      }
    }
  }
  const start0 = stateOf(definition.StartAt);
  for (const read of stateReads(start0)) {
    if (!covers(start, read.path)) {
      problems.push(`${definition.StartAt} reads ${read.path} (${read.where}), not in the input`);
    }
  }
  return problems;
}
