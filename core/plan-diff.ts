// What a plan changes, attribute by attribute, for the people who approve it: `planDiff` reads
// `show -json` of a saved plan into a model that holds no sensitive value (not even its
// length), and three renderers turn that model into terminal text, a PR comment and an HTML
// fragment. Pure: no I/O, and the same plan always renders the same.
import { z } from 'zod';
import { escapeHtml } from './approval.ts';
import { PLAN_CHANGE, PLAN_JSON, classifyActions, sensitiveValuesInPlan } from './plan-summary.ts';
import { InvalidInput } from './errors.ts';
import { parseInput } from './validation.ts';

// ---- the model ----

/** A value as it may be shown: a scalar's JSON text, or a placeholder that hides it. */
export type ShownValue =
  | { readonly kind: 'value'; readonly json: string }
  | { readonly kind: 'sensitive' }
  | { readonly kind: 'unknown' };

export type AttributeChange = 'add' | 'remove' | 'update';

/** The changed parts of an object, map or list present on at least one side. */
export interface NestedDiff {
  readonly kind: 'object' | 'list';
  readonly entries: readonly AttributeDiff[];
  /** Attributes, keys or elements left out because they do not change. */
  readonly unchanged: number;
}

/**
 * One changed attribute, map key (`key` a string) or list element (`key` its index). A
 * scalar, sensitive or unknown side is in `before`/`after`; a collection side is walked into
 * `nested`. A side that is absent or null has neither: `add` and `remove` say which.
 */
export interface AttributeDiff {
  readonly key: string | number;
  readonly change: AttributeChange;
  readonly forcesReplacement: boolean;
  readonly before?: ShownValue;
  readonly after?: ShownValue;
  readonly nested?: NestedDiff;
}

export type ResourceDiffAction =
  | 'create'
  | 'update'
  | 'delete'
  | 'replace'
  | 'read'
  | 'forget'
  /** Only for a resource that is moved or imported and otherwise unchanged. */
  | 'no-op';

export interface ResourceDiff {
  readonly address: string;
  /** `resource "type" "name"` or `data "type" "name"`, when the plan names them. */
  readonly declaration?: string;
  readonly action: ResourceDiffAction;
  /** A replace that creates the new object before destroying the old one. */
  readonly createBeforeDestroy: boolean;
  /** The attributes whose change forces the replacement, as `a.b["k"][0]` paths. */
  readonly replacePaths: readonly string[];
  /** The address it had before a `moved` block (or a refactoring) moved it. */
  readonly previousAddress?: string;
  readonly importing: boolean;
  /** The id it is imported with, when Terraform gives one. */
  readonly importId?: string;
  readonly attributes: NestedDiff;
}

export interface OutputDiff {
  readonly name: string;
  readonly action: 'create' | 'update' | 'delete';
  readonly changes: readonly AttributeDiff[];
}

export interface PlanDiff {
  /** Destroys and replaces first, then the rest; each group by address. */
  readonly resources: readonly ResourceDiff[];
  readonly outputs: readonly OutputDiff[];
}

/**
 * The model as it travels: the executor writes it next to the plan (PLAN_DIFF_FILE), and what
 * shows it (the CLI, the approval page) reads it back through this.
 */
const SHOWN_VALUE = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('value'), json: z.string() }),
  z.strictObject({ kind: z.literal('sensitive') }),
  z.strictObject({ kind: z.literal('unknown') }),
]);
const ATTRIBUTE_DIFF: z.ZodType<AttributeDiff> = z.lazy(() =>
  z.strictObject({
    key: z.union([z.string(), z.number().int().min(0)]),
    change: z.enum(['add', 'remove', 'update']),
    forcesReplacement: z.boolean(),
    before: SHOWN_VALUE.optional(),
    after: SHOWN_VALUE.optional(),
    nested: NESTED_DIFF.optional(),
  }),
);
const NESTED_DIFF: z.ZodType<NestedDiff> = z.lazy(() =>
  z.strictObject({
    kind: z.enum(['object', 'list']),
    entries: z.array(ATTRIBUTE_DIFF),
    unchanged: z.number().int().min(0),
  }),
);
export const PLAN_DIFF_MODEL: z.ZodType<PlanDiff> = z.strictObject({
  resources: z.array(
    z.strictObject({
      address: z.string(),
      declaration: z.string().optional(),
      action: z.enum(['create', 'update', 'delete', 'replace', 'read', 'forget', 'no-op']),
      createBeforeDestroy: z.boolean(),
      replacePaths: z.array(z.string()),
      previousAddress: z.string().optional(),
      importing: z.boolean(),
      importId: z.string().optional(),
      attributes: NESTED_DIFF,
    }),
  ),
  outputs: z.array(
    z.strictObject({
      name: z.string(),
      action: z.enum(['create', 'update', 'delete']),
      changes: z.array(ATTRIBUTE_DIFF),
    }),
  ),
});

/**
 * A plan-diff.json's text as a PlanDiff, wherever it was read from (`where` names it): one
 * that is not JSON or not the model is refused (InvalidInput), never shown half-read.
 */
export function parsePlanDiff(text: string, where: string): PlanDiff {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InvalidInput(where, 'is not JSON');
  }
  return parseInput(PLAN_DIFF_MODEL, json, where);
}

// ---- reading the plan ----

const PATH_STEP = z.union([z.string(), z.number()]);

/** PLAN_JSON, with the fields of a resource change that only the diff needs. */
const PLAN_DIFF_JSON = PLAN_JSON.extend({
  resource_changes: z
    .array(
      z.looseObject({
        address: z.string(),
        previous_address: z.string().nullish(),
        mode: z.string().optional(),
        type: z.string().optional(),
        name: z.string().optional(),
        change: PLAN_CHANGE.extend({
          replace_paths: z.array(z.array(PATH_STEP)).optional(),
          importing: z.looseObject({ id: z.string().optional() }).nullish(),
        }),
      }),
    )
    .optional(),
});

type Path = readonly (string | number)[];

/** One side of a change at some path: its value and the markers that mirror its shape. */
interface Side {
  readonly present: boolean;
  readonly value: unknown;
  readonly sensitive: unknown;
  readonly unknown: unknown;
}

const MISSING: Side = { present: false, value: undefined, sensitive: false, unknown: false };

type Kind = 'missing' | 'unknown' | 'sensitive' | 'object' | 'list' | 'scalar';

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function kindOf(side: Side): Kind {
  if (!side.present) return 'missing';
  // An unknown value has no content to hide, and null stands in for it in `after`.
  if (side.unknown === true) return 'unknown';
  if (side.value === null || side.value === undefined) return 'missing';
  if (side.sensitive === true) return 'sensitive';
  if (Array.isArray(side.value)) return 'list';
  if (isObject(side.value)) return 'object';
  return 'scalar';
}

/** A marker's part for one key: `true` marks everything below it too. */
function markerAt(marker: unknown, key: string | number): unknown {
  if (marker === true) return true;
  if (Array.isArray(marker) && typeof key === 'number') return marker[key];
  if (isObject(marker) && typeof key === 'string') return marker[key];
  return false;
}

function child(side: Side, key: string | number): Side {
  const container = side.value;
  let present = false;
  let value: unknown = undefined;
  if (Array.isArray(container) && typeof key === 'number' && key < container.length) {
    present = true;
    value = container[key];
  } else if (isObject(container) && typeof key === 'string' && Object.hasOwn(container, key)) {
    present = true;
    value = container[key];
  }
  const unknown = side.present ? markerAt(side.unknown, key) : false;
  return {
    present: present || unknown === true,
    value,
    sensitive: markerAt(side.sensitive, key),
    unknown,
  };
}

function shown(side: Side, kind: Kind): ShownValue | undefined {
  if (kind === 'sensitive') return { kind: 'sensitive' };
  if (kind === 'unknown') return { kind: 'unknown' };
  if (kind === 'scalar') return { kind: 'value', json: JSON.stringify(side.value) };
  return undefined;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key]))
    );
  }
  return false;
}

/** Shorter sensitive values are only hidden where marked: "1" or "true" would hide too much. */
const MIN_UNMARKED_SECRET = 4;

/**
 * The marker, with every value that holds a sensitive value of the plan marked too. The plan's
 * own marks can miss a copy: a provider that echoes a sensitive input into a computed
 * attribute (terraform_data's `output`) returns it unmarked in the prior state.
 */
function markCopies(value: unknown, marker: unknown, secrets: readonly string[]): unknown {
  if (marker === true || secrets.length === 0) return marker;
  const leaks = (text: string) => secrets.some((secret) => text.includes(secret));
  if (Array.isArray(value)) {
    return value.map((item, i) => markCopies(item, markerAt(marker, i), secrets));
  }
  if (isObject(value)) {
    if (Object.keys(value).some(leaks)) return true;
    // Keys of the marker that the value lacks (unknown ones) keep their marks.
    return {
      ...(isObject(marker) ? marker : {}),
      ...Object.fromEntries(
        Object.entries(value).map(([key, item]) => [
          key,
          markCopies(item, markerAt(marker, key), secrets),
        ]),
      ),
    };
  }
  if (typeof value === 'string' || typeof value === 'number') {
    return leaks(String(value)) ? true : marker;
  }
  return marker;
}

/** Whether the attribute at a path is one whose change forces replacement. */
type ForcesAt = (path: Path) => boolean;

/**
 * The changes of one attribute: none when it does not change, two (a remove and an add) when
 * its type changes between a scalar and a collection.
 */
function diffValue(
  key: string | number,
  path: Path,
  before: Side,
  after: Side,
  forces: ForcesAt,
): AttributeDiff[] {
  const beforeKind = kindOf(before);
  const afterKind = kindOf(after);
  if (beforeKind === 'missing' && afterKind === 'missing') return [];
  const change: AttributeChange =
    beforeKind === 'missing' ? 'add' : afterKind === 'missing' ? 'remove' : 'update';
  const head = { key, change, forcesReplacement: forces(path) };
  const isCollection = (kind: Kind) => kind === 'object' || kind === 'list';

  if (isCollection(beforeKind) && beforeKind === afterKind) {
    const nested = diffCollection(path, before, after, beforeKind === 'list', forces);
    return nested.entries.length === 0 ? [] : [{ ...head, nested }];
  }
  if (isCollection(beforeKind) || isCollection(afterKind)) {
    const other = isCollection(beforeKind) ? afterKind : beforeKind;
    if (other === 'scalar' || isCollection(other)) {
      // A change of type: the old value goes, the new one comes.
      return [
        ...diffValue(key, path, before, MISSING, forces),
        ...diffValue(key, path, MISSING, after, forces),
      ];
    }
    const nested = isCollection(beforeKind)
      ? diffCollection(path, before, MISSING, beforeKind === 'list', forces)
      : diffCollection(path, MISSING, after, afterKind === 'list', forces);
    const sides = isCollection(beforeKind)
      ? { after: shown(after, afterKind) }
      : { before: shown(before, beforeKind) };
    return [{ ...head, ...sides, nested }];
  }
  if (beforeKind === afterKind) {
    if (beforeKind === 'scalar' && before.value === after.value) return [];
    // Equal sensitive values are unchanged; saying so tells nothing about them.
    if (beforeKind === 'sensitive' && deepEqual(before.value, after.value)) return [];
  }
  const sides: { before?: ShownValue; after?: ShownValue } = {};
  const beforeShown = shown(before, beforeKind);
  const afterShown = shown(after, afterKind);
  if (beforeShown) sides.before = beforeShown;
  if (afterShown) sides.after = afterShown;
  return [{ ...head, ...sides }];
}

function diffCollection(
  path: Path,
  before: Side,
  after: Side,
  list: boolean,
  forces: ForcesAt,
): NestedDiff {
  return list ? diffList(path, before, after, forces) : diffObject(path, before, after, forces);
}

function keysOf(side: Side): string[] {
  const keys = isObject(side.value) ? Object.keys(side.value) : [];
  // Unknown attributes are left out of `after`; the marker still names them.
  if (side.present && isObject(side.unknown)) {
    keys.push(...Object.keys(side.unknown).filter((key) => markerAt(side.unknown, key) === true));
  }
  return keys;
}

function diffObject(path: Path, before: Side, after: Side, forces: ForcesAt): NestedDiff {
  const keys = [...new Set([...keysOf(before), ...keysOf(after)])].sort();
  const entries: AttributeDiff[] = [];
  let unchanged = 0;
  for (const key of keys) {
    const b = child(before, key);
    const a = child(after, key);
    const changes = diffValue(key, [...path, key], b, a, forces);
    if (changes.length > 0) entries.push(...changes);
    else if (kindOf(b) !== 'missing' || kindOf(a) !== 'missing') unchanged += 1;
  }
  return { kind: 'object', entries, unchanged };
}

/** Above this many element pairs a list is compared index by index instead of aligned. */
const MAX_ALIGNED_PAIRS = 10_000;

type ListStep = { keep: [number, number] } | { remove: number } | { add: number };

/** A longest-common-subsequence alignment of the elements that do not change. */
function alignLists(count: [number, number], same: (i: number, j: number) => boolean): ListStep[] {
  const [n, m] = count;
  if (n * m > MAX_ALIGNED_PAIRS) {
    const steps: ListStep[] = [];
    for (let k = 0; k < Math.max(n, m); k++) {
      if (k < n && k < m && same(k, k)) steps.push({ keep: [k, k] });
      else {
        if (k < n) steps.push({ remove: k });
        if (k < m) steps.push({ add: k });
      }
    }
    return steps;
  }
  const lengths = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  const row = (i: number) => lengths[i] ?? [];
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      row(i)[j] = same(i, j)
        ? (row(i + 1)[j + 1] ?? 0) + 1
        : Math.max(row(i + 1)[j] ?? 0, row(i)[j + 1] ?? 0);
    }
  }
  const steps: ListStep[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && same(i, j)) steps.push({ keep: [i++, j++] });
    else if (j < m && (i >= n || (row(i)[j + 1] ?? 0) >= (row(i + 1)[j] ?? 0))) {
      steps.push({ add: j++ });
    } else steps.push({ remove: i++ });
  }
  return steps;
}

function listLength(side: Side): number {
  const values = Array.isArray(side.value) ? side.value.length : 0;
  const unknowns = side.present && Array.isArray(side.unknown) ? side.unknown.length : 0;
  return Math.max(values, unknowns);
}

/**
 * Two elements in the same place shown as one changed element: objects or lists both (walked
 * into), or any element that becomes unknown.
 */
function pairable(before: Side, after: Side): boolean {
  const kind = kindOf(before);
  if (kindOf(after) === 'unknown') return kind !== 'missing';
  return (kind === 'object' || kind === 'list') && kind === kindOf(after);
}

function diffList(path: Path, before: Side, after: Side, forces: ForcesAt): NestedDiff {
  const b = Array.from({ length: listLength(before) }, (_, i) => child(before, i));
  const a = Array.from({ length: listLength(after) }, (_, j) => child(after, j));
  const at = <T>(items: readonly T[], index: number): T => items[index] as T;
  const none: ForcesAt = () => false;
  const same = (i: number, j: number) => diffValue(j, [], at(b, i), at(a, j), none).length === 0;
  const entries: AttributeDiff[] = [];
  let unchanged = 0;
  let removed: number[] = [];
  let added: number[] = [];
  // Between two unchanged elements, a removed and an added object or list in the same
  // position are one element changed: walked, rather than shown twice in full.
  const flush = () => {
    const updates: AttributeDiff[] = [];
    const removes: AttributeDiff[] = [];
    const adds: AttributeDiff[] = [];
    for (let k = 0; k < Math.max(removed.length, added.length); k++) {
      const i = removed[k];
      const j = added[k];
      if (i !== undefined && j !== undefined && pairable(at(b, i), at(a, j))) {
        updates.push(...diffValue(j, [...path, j], at(b, i), at(a, j), forces));
        continue;
      }
      if (i !== undefined) removes.push(...diffValue(i, [...path, i], at(b, i), MISSING, forces));
      if (j !== undefined) adds.push(...diffValue(j, [...path, j], MISSING, at(a, j), forces));
    }
    entries.push(...updates, ...removes, ...adds);
    removed = [];
    added = [];
  };
  for (const step of alignLists([b.length, a.length], same)) {
    if ('keep' in step) {
      flush();
      unchanged += 1;
    } else if ('remove' in step) removed.push(step.remove);
    else added.push(step.add);
  }
  flush();
  return { kind: 'list', entries, unchanged };
}

/** `a.b["key with space"][0]`, as Terraform writes a path. */
export function formatPath(path: Path): string {
  return path
    .map((step, index) => {
      if (typeof step === 'number') return `[${step}]`;
      if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(step)) return index === 0 ? step : `.${step}`;
      return `[${JSON.stringify(step)}]`;
    })
    .join('');
}

const ACTION_RANK: Record<ResourceDiffAction, number> = {
  delete: 0,
  replace: 0,
  create: 1,
  update: 1,
  read: 1,
  forget: 1,
  'no-op': 1,
};

/**
 * The attribute-level diff of a plan (`show -json` of a saved plan). Throws InvalidInput
 * naming the first field that is not what Terraform writes.
 */
export function planDiff(planJson: unknown): PlanDiff {
  const plan = parseInput(PLAN_DIFF_JSON, planJson, 'plan');
  const secrets = [...new Set(sensitiveValuesInPlan(plan))].filter(
    (secret) => secret.length >= MIN_UNMARKED_SECRET,
  );
  const leaks = (text: string) => secrets.some((secret) => text.includes(secret));
  const resources: ResourceDiff[] = [];
  for (const rc of plan.resource_changes ?? []) {
    const { change } = rc;
    const classified = classifyActions(change.actions);
    const importing = change.importing !== undefined && change.importing !== null;
    const previousAddress =
      rc.previous_address && rc.previous_address !== rc.address ? rc.previous_address : undefined;
    if (classified === 'no-op' && !importing && previousAddress === undefined) continue;
    const replacePaths = change.replace_paths ?? [];
    const forces: ForcesAt = (path) =>
      replacePaths.some((p) => p.length === path.length && p.every((s, k) => s === path[k]));
    const before: Side = {
      present: change.before !== undefined && change.before !== null,
      value: change.before,
      sensitive: markCopies(change.before, change.before_sensitive, secrets),
      unknown: false,
    };
    const after: Side = {
      present:
        (change.after !== undefined && change.after !== null) || change.after_unknown === true,
      value: change.after,
      sensitive: markCopies(change.after, change.after_sensitive, secrets),
      unknown: change.after_unknown,
    };
    const attributes =
      classified === 'forget'
        ? { kind: 'object' as const, entries: [], unchanged: 0 }
        : diffObject([], before, after, forces);
    const resource: ResourceDiff = {
      address: rc.address,
      action: classified,
      createBeforeDestroy: classified === 'replace' && change.actions[0] === 'create',
      replacePaths: replacePaths.map(formatPath),
      importing,
      attributes,
    };
    const declared =
      rc.type !== undefined && rc.name !== undefined
        ? `${rc.mode === 'data' ? 'data' : 'resource'} ${JSON.stringify(rc.type)} ${JSON.stringify(rc.name)}`
        : undefined;
    resources.push({
      ...resource,
      ...(declared !== undefined ? { declaration: declared } : {}),
      ...(previousAddress !== undefined ? { previousAddress } : {}),
      ...(change.importing?.id !== undefined && !leaks(change.importing.id)
        ? { importId: change.importing.id }
        : {}),
    });
  }
  resources.sort(
    (x, y) =>
      ACTION_RANK[x.action] - ACTION_RANK[y.action] ||
      (x.address < y.address ? -1 : x.address > y.address ? 1 : 0),
  );

  const outputs: OutputDiff[] = [];
  for (const [name, change] of Object.entries(plan.output_changes ?? {}).sort(([x], [y]) =>
    x < y ? -1 : x > y ? 1 : 0,
  )) {
    const action = classifyActions(change.actions);
    if (action !== 'create' && action !== 'update' && action !== 'delete') continue;
    const before: Side = {
      present: true,
      value: change.before,
      sensitive: markCopies(change.before, change.before_sensitive, secrets),
      unknown: false,
    };
    const after: Side = {
      present: true,
      value: change.after,
      sensitive: markCopies(change.after, change.after_sensitive, secrets),
      unknown: change.after_unknown,
    };
    let changes = diffValue(name, [], before, after, () => false);
    if (changes.length === 0) {
      // Terraform saw a change the values do not show (a sensitivity change, say).
      const placeholder = (side: Side) => shown(side, kindOf(side));
      const sides = { before: placeholder(before), after: placeholder(after) };
      changes = [
        {
          key: name,
          change: 'update',
          forcesReplacement: false,
          ...(sides.before ? { before: sides.before } : {}),
          ...(sides.after ? { after: sides.after } : {}),
        },
      ];
    }
    outputs.push({ name, action, changes });
  }
  return { resources, outputs };
}

// ---- rendering: shared ----

export const SENSITIVE_TEXT = '(sensitive value)';
export const UNKNOWN_TEXT = '(known after apply)';

function showText(value: ShownValue): string {
  if (value.kind === 'sensitive') return SENSITIVE_TEXT;
  if (value.kind === 'unknown') return UNKNOWN_TEXT;
  return value.json;
}

/** How a line of a rendered diff is marked: Terraform's symbols, by kind. */
type Mark = AttributeChange | 'replace' | 'replace-cbd' | 'read' | 'forget' | 'none';

interface Line {
  readonly depth: number;
  readonly mark: Mark;
  readonly text: string;
  readonly forcesReplacement?: boolean;
}

const SYMBOLS: Record<Mark, string> = {
  add: '+',
  remove: '-',
  update: '~',
  replace: '-/+',
  'replace-cbd': '+/-',
  read: '<=',
  forget: '.',
  none: ' ',
};

function keyText(key: string | number): string {
  return typeof key === 'string' && !/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)
    ? JSON.stringify(key)
    : String(key);
}

/** The value part of a line; a list element that goes is shown without its `-> null`. */
function valueText(entry: AttributeDiff, inList: boolean): string {
  const { before, after } = entry;
  if (entry.change === 'add') return after ? showText(after) : 'null';
  if (entry.change === 'remove') {
    const old = before ? showText(before) : 'null';
    return inList ? old : `${old} -> null`;
  }
  if (before?.kind === 'sensitive' && after?.kind === 'sensitive') return SENSITIVE_TEXT;
  return `${before ? showText(before) : 'null'} -> ${after ? showText(after) : 'null'}`;
}

function nestedLines(nested: NestedDiff, depth: number): Line[] {
  const list = nested.kind === 'list';
  const width = Math.max(0, ...nested.entries.map((e) => keyText(e.key).length));
  const lines = nested.entries.flatMap((entry) =>
    entryLines(entry, depth, list ? undefined : keyText(entry.key).padEnd(width)),
  );
  if (nested.unchanged > 0) {
    const what = list ? 'element' : 'attribute';
    const plural = nested.unchanged === 1 ? '' : 's';
    lines.push({
      depth,
      mark: 'none',
      text: `# (${nested.unchanged} unchanged ${what}${plural} hidden)`,
    });
  }
  return lines;
}

/** An attribute (`name` given, aligned) or a list element (no name) as lines. */
function entryLines(entry: AttributeDiff, depth: number, name: string | undefined): Line[] {
  const label = name === undefined ? '' : `${name} = `;
  const comma = name === undefined ? ',' : '';
  const mark = entry.change;
  const forcesReplacement = entry.forcesReplacement;
  if (!entry.nested) {
    return [
      {
        depth,
        mark,
        text: `${label}${valueText(entry, name === undefined)}${comma}`,
        forcesReplacement,
      },
    ];
  }
  const [open, close] = entry.nested.kind === 'list' ? ['[', ']'] : ['{', '}'];
  const inner = nestedLines(entry.nested, depth + 1);
  const before = entry.before ? `${showText(entry.before)} -> ` : '';
  const after = entry.after
    ? ` -> ${showText(entry.after)}`
    : entry.change === 'remove' && name !== undefined
      ? ' -> null'
      : '';
  if (inner.length === 0) {
    return [{ depth, mark, text: `${label}${before}${open}${close}${after}${comma}` }];
  }
  return [
    { depth, mark, text: `${label}${before}${open}`, forcesReplacement },
    ...inner,
    { depth, mark: 'none', text: `${close}${after}${comma}` },
  ];
}

/** What happens to a resource, as Terraform says it: the address it starts with, and the rest. */
function headline(resource: ResourceDiff): { subject: string; predicate: string } {
  const { address } = resource;
  const of = (predicate: string) => ({ subject: address, predicate });
  switch (resource.action) {
    case 'create':
      return of('will be created');
    case 'update':
      return of('will be updated in-place');
    case 'delete':
      return of('will be destroyed');
    case 'replace':
      return of('must be replaced');
    case 'read':
      return of('will be read during apply');
    case 'forget':
      return of('will no longer be managed by Terraform (not destroyed)');
    case 'no-op':
      if (resource.importing || resource.previousAddress === undefined) {
        return of('will be imported');
      }
      return { subject: resource.previousAddress, predicate: `has moved to ${address}` };
  }
}

/** The headline as HTML, its address in `<code>`. */
function headlineHtml(resource: ResourceDiff): string {
  const { subject, predicate } = headline(resource);
  return `<code>${escapeHtml(subject)}</code> ${escapeHtml(predicate)}`;
}

/** What the headline leaves out: a move or an import that comes with the change. */
function resourceNotes(resource: ResourceDiff): string[] {
  const notes: string[] = [];
  const headlineSaysMoved = resource.action === 'no-op' && !resource.importing;
  if (resource.previousAddress && !headlineSaysMoved) {
    notes.push(`(moved from ${resource.previousAddress})`);
  }
  if (resource.importing && resource.action !== 'no-op') notes.push('(imported first)');
  if (resource.importing && resource.importId !== undefined) {
    notes.push(`(import id ${JSON.stringify(resource.importId)})`);
  }
  return notes;
}

function resourceMark(resource: ResourceDiff): Mark {
  switch (resource.action) {
    case 'create':
      return 'add';
    case 'delete':
      return 'remove';
    case 'replace':
      return resource.createBeforeDestroy ? 'replace-cbd' : 'replace';
    case 'no-op':
      return 'none';
    default:
      return resource.action;
  }
}

function resourceLines(resource: ResourceDiff): Line[] {
  const { subject, predicate } = headline(resource);
  const lines: Line[] = [{ depth: 0, mark: 'none', text: `# ${subject} ${predicate}` }];
  for (const note of resourceNotes(resource))
    lines.push({ depth: 0, mark: 'none', text: `# ${note}` });
  const declaration = resource.declaration ?? resource.address;
  const inner = nestedLines(resource.attributes, 1);
  const mark = resourceMark(resource);
  if (inner.length === 0) {
    lines.push({ depth: 0, mark, text: `${declaration} {}` });
    return lines;
  }
  lines.push({ depth: 0, mark, text: `${declaration} {` }, ...inner);
  lines.push({ depth: 0, mark: 'none', text: '}' });
  return lines;
}

function outputLines(outputs: readonly OutputDiff[]): Line[] {
  const width = Math.max(0, ...outputs.map((o) => keyText(o.name).length));
  return outputs.flatMap((o) =>
    o.changes.flatMap((entry) => entryLines(entry, 0, keyText(o.name).padEnd(width))),
  );
}

function counted(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Terraform's "Plan:" line. */
export function planLine(diff: PlanDiff): string {
  const count = (...actions: ResourceDiffAction[]) =>
    diff.resources.filter((r) => actions.includes(r.action)).length;
  const imports = diff.resources.filter((r) => r.importing).length;
  const parts = [
    ...(imports > 0 ? [`${imports} to import`] : []),
    `${count('create', 'replace')} to add`,
    `${count('update')} to change`,
    `${count('delete', 'replace')} to destroy`,
  ];
  return `Plan: ${parts.join(', ')}.`;
}

export const NO_CHANGES = 'No changes. Your infrastructure matches the configuration.';

/** A resource's (or the outputs') rendering, made only when it may be shown. */
interface Block {
  readonly render: () => string;
  readonly resource: boolean;
}

/**
 * The blocks that fit in `maxChars` with `fixed` characters already spent, cut at a block
 * boundary, and the note that says what was left out (reserved for up front). A block past
 * the budget is never rendered: a plan of thousands of resources costs what is shown.
 */
function withinBudget(
  blocks: readonly Block[],
  separator: string,
  fixed: number,
  maxChars: number | undefined,
  note: (resourcesLeft: number, outputsLeft: boolean) => string,
): { kept: string[]; note: string | undefined } {
  const rendered: string[] = [];
  let total = fixed;
  for (const block of blocks) {
    const text = block.render();
    rendered.push(text);
    total += text.length + separator.length;
    if (maxChars !== undefined && total > maxChars) break;
  }
  if (maxChars === undefined || total <= maxChars) return { kept: rendered, note: undefined };
  // Cut: what fits with the note's room taken first, a prefix of what was rendered.
  const resources = blocks.filter((b) => b.resource).length;
  const reserve = note(resources, true).length + separator.length;
  const kept: string[] = [];
  let used = fixed + reserve;
  for (const text of rendered) {
    if (used + text.length + separator.length > maxChars) break;
    kept.push(text);
    used += text.length + separator.length;
  }
  const left = blocks.slice(kept.length);
  return {
    kept,
    note: note(
      left.filter((b) => b.resource).length,
      left.some((b) => !b.resource),
    ),
  };
}

function leftOutNote(resourcesLeft: number, outputsLeft: boolean): string {
  const parts = [
    ...(resourcesLeft > 0 ? [counted(resourcesLeft, 'resource change')] : []),
    ...(outputsLeft ? ['the output changes'] : []),
  ];
  return `${parts.join(' and ')} not shown: over the size limit.`;
}

// ---- rendering: terminal text ----

const ANSI = { red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', cyan: '\x1b[36m' };
const RESET = '\x1b[0m';

function colored(mark: Mark, symbol: string, color: boolean): string {
  if (!color) return symbol;
  const paint = (code: string, text: string) => `${code}${text}${RESET}`;
  switch (mark) {
    case 'add':
      return paint(ANSI.green, symbol);
    case 'remove':
      return paint(ANSI.red, symbol);
    case 'update':
      return paint(ANSI.yellow, symbol);
    case 'read':
      return paint(ANSI.cyan, symbol);
    case 'replace':
      return `${paint(ANSI.red, '-')}/${paint(ANSI.green, '+')}`;
    case 'replace-cbd':
      return `${paint(ANSI.green, '+')}/${paint(ANSI.red, '-')}`;
    default:
      return symbol;
  }
}

function textLine(line: Line, color: boolean): string {
  const symbol = line.mark === 'none' ? '' : `${colored(line.mark, SYMBOLS[line.mark], color)} `;
  const indent = line.depth === 0 ? '' : ' '.repeat(4 * line.depth - 2);
  const pad = line.mark === 'none' && line.depth > 0 ? '  ' : '';
  const forces = line.forcesReplacement
    ? color
      ? ` ${ANSI.red}# forces replacement${RESET}`
      : ' # forces replacement'
    : '';
  return `${indent}${pad}${symbol}${line.text}${forces}`;
}

export interface TextOptions {
  readonly color: boolean;
  /** Cut at a resource boundary to stay within this many characters (colour codes count). */
  readonly maxChars?: number;
}

/** The diff as Terraform prints a plan: `+`, `-`, `~`, `-/+`, ANSI colour only when asked. */
export function renderPlanText(diff: PlanDiff, options: TextOptions): string {
  if (diff.resources.length === 0 && diff.outputs.length === 0) return `${NO_CHANGES}\n`;
  const render = (lines: readonly Line[]) =>
    lines.map((line) => textLine(line, options.color)).join('\n');
  const blocks: Block[] = diff.resources.map((r) => ({
    render: () => `${render(resourceLines(r))}\n`,
    resource: true,
  }));
  if (diff.outputs.length > 0) {
    blocks.push({
      render: () => `Changes to Outputs:\n${render(outputLines(diff.outputs))}\n`,
      resource: false,
    });
  }
  const plan = `${planLine(diff)}\n`;
  const { kept, note } = withinBudget(blocks, '\n', plan.length, options.maxChars, leftOutNote);
  return [...kept, ...(note ? [`${note}\n`] : []), plan].join('\n');
}

// ---- rendering: Markdown (PR comments) ----

/** A ```diff fence marks a line by its first character: `!` is GitHub's "changed". */
const DIFF_MARKERS: Record<Mark, string> = {
  add: '+',
  remove: '-',
  update: '!',
  replace: '!',
  'replace-cbd': '!',
  read: '!',
  forget: '-',
  none: ' ',
};

function markdownLine(line: Line): string {
  const forces = line.forcesReplacement ? ' # forces replacement' : '';
  return `${DIFF_MARKERS[line.mark]} ${' '.repeat(4 * line.depth)}${line.text}${forces}`;
}

/** A code fence longer than any run of backticks inside it, so values cannot close it. */
function fenced(language: string, body: string): string {
  const longest = Math.max(2, ...[...body.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${language}\n${body}\n${fence}`;
}

function details(summary: string, body: string): string {
  return `<details><summary>${summary}</summary>\n\n${body}\n\n</details>\n`;
}

export interface MarkdownOptions {
  /** Cut at a resource boundary to stay within this many characters. */
  readonly maxChars: number;
}

/** The diff for a PR comment: each resource a `<details>` block holding a ```diff fence. */
export function renderPlanMarkdown(diff: PlanDiff, options: MarkdownOptions): string {
  return planMarkdown(diff, options).text;
}

/** renderPlanMarkdown, and whether it had to leave anything out to fit. */
export function planMarkdown(
  diff: PlanDiff,
  options: MarkdownOptions,
): { text: string; cut: boolean } {
  if (diff.resources.length === 0 && diff.outputs.length === 0) {
    const text = `${NO_CHANGES}\n`;
    return { text: text.slice(0, options.maxChars), cut: text.length > options.maxChars };
  }
  const blocks: Block[] = diff.resources.map((r) => ({
    render: () => {
      // The headline is the summary; the notes and the block go in the fence.
      const body = resourceLines(r).slice(1).map(markdownLine).join('\n');
      return details(headlineHtml(r), fenced('diff', body));
    },
    resource: true,
  }));
  if (diff.outputs.length > 0) {
    blocks.push({
      render: () => {
        const body = outputLines(diff.outputs).map(markdownLine).join('\n');
        return details('Changes to outputs', fenced('diff', body));
      },
      resource: false,
    });
  }
  const plan = `**${planLine(diff)}**\n`;
  const { kept, note } = withinBudget(
    blocks,
    '\n',
    plan.length,
    options.maxChars,
    (r, o) => `_${leftOutNote(r, o)}_\n`,
  );
  const text = [plan, ...kept, ...(note ? [note] : [])].join('\n');
  // Only a budget too small for even the summary gets here cut mid-text.
  return text.length <= options.maxChars
    ? { text, cut: note !== undefined }
    : { text: text.slice(0, options.maxChars), cut: true };
}

// ---- rendering: HTML (the approval page) ----

interface Row {
  readonly mark: AttributeChange;
  readonly path: string;
  readonly before: string;
  readonly after: string;
  readonly forcesReplacement: boolean;
}

/** A table's rows: one per changed leaf; a block that forces a replace marks each of its rows. */
function rowsOf(entries: readonly AttributeDiff[], path: Path, forced = false): Row[] {
  return entries.flatMap((entry) => {
    const here = [...path, entry.key];
    const forces = forced || entry.forcesReplacement;
    const row = (before: string, after: string): Row => ({
      mark: entry.change,
      path: formatPath(here),
      before,
      after,
      forcesReplacement: forces,
    });
    if (!entry.nested) {
      const before = entry.before ? showText(entry.before) : '';
      const after = entry.after ? showText(entry.after) : '';
      return [row(before, after)];
    }
    const empty = entry.nested.kind === 'list' ? '[]' : '{}';
    const collection = entry.nested.kind === 'list' ? '[…]' : '{…}';
    if (entry.before || entry.after) {
      // A collection that becomes (or was) unknown or sensitive: one row, not every part.
      return [
        row(
          entry.before ? showText(entry.before) : collection,
          entry.after ? showText(entry.after) : collection,
        ),
      ];
    }
    if (entry.nested.entries.length === 0) {
      return [row(entry.change === 'add' ? '' : empty, entry.change === 'add' ? empty : '')];
    }
    return rowsOf(entry.nested.entries, here, forces);
  });
}

function htmlTable(rows: readonly Row[], caption?: string, what = 'Attribute'): string {
  const cell = (text: string) =>
    `<td>${text === '' ? '' : `<code>${escapeHtml(text)}</code>`}</td>`;
  const body = rows.map(
    (r) =>
      `<tr class="plan-${r.mark}"><td>${escapeHtml(SYMBOLS[r.mark])}</td>` +
      `<td><code>${escapeHtml(r.path)}</code>${r.forcesReplacement ? ' <strong>forces replacement</strong>' : ''}</td>` +
      `${cell(r.before)}${cell(r.after)}</tr>`,
  );
  return [
    '<table class="plan-diff">',
    ...(caption ? [`<caption>${escapeHtml(caption)}</caption>`] : []),
    `<thead><tr><th></th><th>${what}</th><th>Before</th><th>After</th></tr></thead>`,
    '<tbody>',
    ...body,
    '</tbody>',
    '</table>',
  ].join('\n');
}

function htmlResource(resource: ResourceDiff): string {
  const rows = rowsOf(resource.attributes.entries, []);
  const hidden = resource.attributes.unchanged;
  return [
    `<section class="plan-resource plan-${resource.action}">`,
    `<h3>${headlineHtml(resource)}</h3>`,
    ...resourceNotes(resource).map((note) => `<p>${escapeHtml(note)}</p>`),
    rows.length > 0 ? htmlTable(rows) : '<p>No attribute changes.</p>',
    ...(hidden > 0 ? [`<p>${counted(hidden, 'unchanged attribute')} not shown.</p>`] : []),
    '</section>',
  ].join('\n');
}

export interface HtmlOptions {
  /** Cut at a resource boundary to stay within this many characters. */
  readonly maxChars?: number;
}

/** The diff as an HTML fragment for the approval page: a table per resource, all escaped. */
export function renderPlanHtml(diff: PlanDiff, options: HtmlOptions = {}): string {
  if (diff.resources.length === 0 && diff.outputs.length === 0) {
    return `<p>${escapeHtml(NO_CHANGES)}</p>\n`;
  }
  const blocks: Block[] = diff.resources.map((r) => ({
    render: () => htmlResource(r),
    resource: true,
  }));
  if (diff.outputs.length > 0) {
    blocks.push({
      render: () => {
        const rows = diff.outputs.flatMap((o) => rowsOf(o.changes, []));
        return [
          '<section class="plan-outputs">',
          htmlTable(rows, 'Changes to outputs', 'Output'),
          '</section>',
        ].join('\n');
      },
      resource: false,
    });
  }
  const plan = `<p class="plan-line">${escapeHtml(planLine(diff))}</p>`;
  const { kept, note } = withinBudget(
    blocks,
    '\n',
    plan.length + 1,
    options.maxChars,
    (r, o) => `<p class="plan-left-out">${escapeHtml(leftOutNote(r, o))}</p>`,
  );
  return `${[plan, ...kept, ...(note ? [note] : [])].join('\n')}\n`;
}
