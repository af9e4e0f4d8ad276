// A run's workflow drawn from its ASL file as an inline SVG: each state a box coloured by how
// it ended in this run, from the events the engine recorded. The layout is deliberately
// simple: layers top-down by the longest path from StartAt, each box under those it comes
// from. A Map state is one box listing its iterations (one per project).
import { escapeHtml } from '../../core/approval.ts';
import { formatDuration } from '../../core/duration.ts';
import { type AslDefinition, type AslState, mapIteration } from '../../state-machines/workflows.ts';
import type { RunEventRow } from '../engine/store/sqlite-runs.ts';

/** A state's time as people read it: 340 ms, 4.2 s, 3m12s. */
export function elapsed(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return formatDuration(ms);
}

export type Outcome = 'succeeded' | 'failed' | 'running' | 'not-reached';

export const OUTCOME_TEXT: Readonly<Record<Outcome, string>> = {
  succeeded: '✓ succeeded',
  failed: '✗ failed',
  running: '… running',
  'not-reached': 'not reached',
};

/** How one state (or one Map iteration's state) went, from its events. */
export interface StateRecord {
  readonly outcome: Outcome;
  /** How many times it was entered (a loop enters a state more than once). */
  readonly entries: number;
  readonly retries: number;
  /** Summed over its entries; null when it never ended. */
  readonly durationMs: number | null;
  /** The last error recorded for it. */
  readonly detail: string | null;
}

/** One iteration of a Map state: the project it worked on and how far it got. */
export interface IterationRecord {
  readonly item: string;
  readonly lastState: string;
  readonly outcome: Outcome;
  readonly durationMs: number | null;
}

export interface RunStates {
  /** By event label: a top-level state's name, or `State [item]` inside a Map. */
  readonly states: ReadonlyMap<string, StateRecord>;
  /** By Map state name. */
  readonly iterations: ReadonlyMap<string, readonly IterationRecord[]>;
}

type RunEvent = Pick<RunEventRow, 'type' | 'state' | 'durationMs' | 'detail'>;

/** The label the engine gives a state inside a Map iteration (engine.ts stateLabel). */
const ITERATION_LABEL = /^(.+) \[(.+)\]$/;

/**
 * Each state's outcome from the run's events, in the order written: the last of exited or
 * failed decides (a retry that then succeeds ends succeeded); a state entered and not left is
 * running while the run runs, and failed once it ended without leaving it.
 */
export function runStates(
  events: readonly RunEvent[],
  definition: AslDefinition,
  runIsRunning: boolean,
): RunStates {
  interface Tally {
    entries: number;
    retries: number;
    durationMs: number | null;
    open: boolean;
    last: Outcome;
    detail: string | null;
  }
  const tallies = new Map<string, Tally>();
  for (const event of events) {
    if (event.state === null) continue;
    const t = tallies.get(event.state) ?? {
      entries: 0,
      retries: 0,
      durationMs: null,
      open: false,
      last: 'not-reached',
      detail: null,
    };
    tallies.set(event.state, t);
    const addDuration = () => {
      if (event.durationMs !== null) t.durationMs = (t.durationMs ?? 0) + event.durationMs;
    };
    switch (event.type) {
      case 'entered':
        t.entries += 1;
        t.open = true;
        break;
      case 'exited':
        t.open = false;
        t.last = 'succeeded';
        addDuration();
        break;
      case 'failed':
        t.open = false;
        t.last = 'failed';
        t.detail = event.detail;
        addDuration();
        break;
      case 'retried':
        t.retries += 1;
        t.open = true;
        break;
      default:
        break;
    }
  }
  const states = new Map<string, StateRecord>();
  for (const [label, t] of tallies) {
    const outcome: Outcome = t.open ? (runIsRunning ? 'running' : 'failed') : t.last;
    states.set(label, {
      outcome,
      entries: t.entries,
      retries: t.retries,
      durationMs: t.durationMs,
      detail: t.detail,
    });
  }
  return { states, iterations: iterationsOf(states, definition) };
}

/** Groups the states recorded inside Map iterations by their Map state and item. */
function iterationsOf(
  states: ReadonlyMap<string, StateRecord>,
  definition: AslDefinition,
): Map<string, IterationRecord[]> {
  const mapOf = new Map<string, string>();
  for (const [name, state] of Object.entries(definition.States)) {
    const inner = mapIteration(state);
    for (const innerName of Object.keys(inner?.States ?? {})) mapOf.set(innerName, name);
  }
  const byMap = new Map<string, Map<string, { label: string; record: StateRecord }[]>>();
  for (const [label, record] of states) {
    const match = ITERATION_LABEL.exec(label);
    const map = match ? mapOf.get(match[1] ?? '') : undefined;
    if (!match || map === undefined) continue;
    const items = byMap.get(map) ?? new Map<string, { label: string; record: StateRecord }[]>();
    byMap.set(map, items);
    const item = match[2] ?? '';
    items.set(item, [...(items.get(item) ?? []), { label: match[1] ?? '', record }]);
  }
  const result = new Map<string, IterationRecord[]>();
  for (const [map, items] of byMap) {
    result.set(
      map,
      [...items].map(([item, visited]) => {
        const outcomes = visited.map((v) => v.record.outcome);
        const outcome: Outcome = outcomes.includes('running')
          ? 'running'
          : outcomes.includes('failed')
            ? 'failed'
            : 'succeeded';
        const total = visited.reduce((sum, v) => sum + (v.record.durationMs ?? 0), 0);
        return { item, lastState: visited.at(-1)?.label ?? '', outcome, durationMs: total };
      }),
    );
  }
  return result;
}

export type EdgeKind = 'next' | 'choice' | 'catch';

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: EdgeKind;
}

/** Where a state can go next: Next, each Choice and its Default, each Catch. */
export function edgesOf(definition: AslDefinition): GraphEdge[] {
  const edges: GraphEdge[] = [];
  const seen = new Set<string>();
  const add = (from: string, to: unknown, kind: EdgeKind) => {
    if (typeof to !== 'string' || seen.has(`${from}\n${to}`)) return;
    seen.add(`${from}\n${to}`);
    edges.push({ from, to, kind });
  };
  for (const [name, state] of Object.entries(definition.States)) {
    add(name, state.Next, 'next');
    const choices = Array.isArray(state.Choices) ? (state.Choices as { Next?: unknown }[]) : [];
    for (const choice of choices) add(name, choice.Next, 'choice');
    add(name, state.Default, 'choice');
    for (const c of state.Catch ?? []) add(name, c.Next, 'catch');
  }
  return edges;
}

export interface GraphNode {
  readonly name: string;
  readonly type: string;
  readonly layer: number;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface GraphLayout {
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
  readonly width: number;
  readonly height: number;
}

export const NODE_WIDTH = 210;
const NODE_HEIGHT = 42;
const LINE_HEIGHT = 15;
const GAP_X = 22;
const GAP_Y = 30;
const MARGIN = 16;
/** The most iterations a Map box lists; the rest are counted. */
export const MAX_LISTED = 6;

/**
 * Layers top-down: each state one below the lowest state that leads to it (the longest path
 * from StartAt), leaving out the edges that close a loop, found depth-first; states StartAt
 * cannot reach go last. Each layer is centred. `extraLines(name)` makes room in a box for
 * lines under its name (a Map's items).
 */
export function layoutGraph(
  definition: AslDefinition,
  extraLines: (name: string) => number = () => 0,
): GraphLayout {
  const edges = edgesOf(definition);
  const loops = new Set<GraphEdge>();
  const seen = new Map<string, 'open' | 'done'>();
  const finished: string[] = [];
  const visit = (name: string) => {
    seen.set(name, 'open');
    for (const edge of edges) {
      if (edge.from !== name) continue;
      const state = seen.get(edge.to);
      if (state === 'open') loops.add(edge);
      else if (state === undefined) visit(edge.to);
    }
    seen.set(name, 'done');
    finished.push(name);
  };
  visit(definition.StartAt);
  // Reversed, the order states finished in is a topological order of the loop-free graph.
  const order = finished.reverse();
  const layerOf = new Map<string, number>([[definition.StartAt, 0]]);
  for (const name of order) {
    const here = layerOf.get(name) ?? 0;
    for (const edge of edges) {
      if (edge.from === name && !loops.has(edge))
        layerOf.set(edge.to, Math.max(layerOf.get(edge.to) ?? 0, here + 1));
    }
  }
  const deepest = Math.max(...layerOf.values());
  const layers: string[][] = [];
  for (const name of [...order, ...Object.keys(definition.States)]) {
    const layer = layerOf.get(name) ?? deepest + 1;
    layerOf.set(name, layer);
    const row = (layers[layer] ??= []);
    if (!row.includes(name)) row.push(name);
  }
  // Each box under the boxes it comes from, roughly (their mean position, in the layer
  // above): fewer crossing edges than the order found, for one sort per layer.
  const position = new Map<string, number>();
  for (const [layer, row] of layers.entries()) {
    const mean = (name: string) => {
      const from = edges
        .filter((edge) => edge.to === name && (layerOf.get(edge.from) ?? layer) < layer)
        .map((edge) => position.get(edge.from) ?? 0);
      return from.length === 0
        ? Number.MAX_SAFE_INTEGER
        : from.reduce((a, b) => a + b) / from.length;
    };
    const order = new Map(row.map((name) => [name, mean(name)]));
    row.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
    row.forEach((name, i) => position.set(name, i - (row.length - 1) / 2));
  }
  const widest = Math.max(...layers.map((row) => row.length));
  const width = MARGIN * 2 + widest * NODE_WIDTH + (widest - 1) * GAP_X;
  const nodes: GraphNode[] = [];
  let y = MARGIN;
  for (const [layer, row] of layers.entries()) {
    const heights = row.map((name) => NODE_HEIGHT + extraLines(name) * LINE_HEIGHT);
    const rowWidth = row.length * NODE_WIDTH + (row.length - 1) * GAP_X;
    let x = (width - rowWidth) / 2;
    for (const [i, name] of row.entries()) {
      const state = definition.States[name] as AslState;
      nodes.push({
        name,
        type: state.Type,
        layer,
        x,
        y,
        width: NODE_WIDTH,
        height: heights[i] ?? 0,
      });
      x += NODE_WIDTH + GAP_X;
    }
    y += Math.max(...heights) + GAP_Y;
  }
  return { nodes, edges, width, height: y - GAP_Y + MARGIN };
}

/** Cuts text to fit a box, whole name in the box's <title>. */
function fit(text: string, chars: number): string {
  return text.length <= chars ? text : `${text.slice(0, chars - 1)}…`;
}

function summaryLine(record: StateRecord | undefined): string {
  if (record === undefined) return OUTCOME_TEXT['not-reached'];
  const parts = [OUTCOME_TEXT[record.outcome]];
  if (record.durationMs !== null) parts.push(elapsed(record.durationMs));
  if (record.entries > 1) parts.push(`×${record.entries}`);
  if (record.retries > 0) parts.push(`↻${record.retries}`);
  return parts.join(' · ');
}

/** The SVG of the workflow with this run's outcomes; every text escaped. */
export function renderGraphSvg(definition: AslDefinition, run: RunStates, title: string): string {
  const listed = (name: string) => {
    const count = run.iterations.get(name)?.length ?? 0;
    return Math.min(count, MAX_LISTED) + (count > MAX_LISTED ? 1 : 0);
  };
  const layout = layoutGraph(definition, listed);
  const at = new Map(layout.nodes.map((n) => [n.name, n]));
  const outcome = (name: string) => run.states.get(name)?.outcome ?? 'not-reached';
  const edges = layout.edges.flatMap((edge) => {
    const a = at.get(edge.from);
    const b = at.get(edge.to);
    if (!a || !b) return [];
    const taken = outcome(edge.from) !== 'not-reached' && outcome(edge.to) !== 'not-reached';
    let d: string;
    if (b.layer > a.layer) {
      const [x1, y1, x2, y2] = [a.x + a.width / 2, a.y + a.height, b.x + b.width / 2, b.y];
      const bend = (y2 - y1) / 2;
      d = `M${x1},${y1} C${x1},${y1 + bend} ${x2},${y2 - bend} ${x2},${y2}`;
    } else {
      // Back to an earlier layer (a loop) or across one: round the right-hand side.
      const [x1, y1, x2, y2] = [
        a.x + a.width,
        a.y + a.height / 2,
        b.x + b.width,
        b.y + b.height / 2,
      ];
      const out = Math.max(x1, x2) + 40;
      d = `M${x1},${y1} C${out},${y1} ${out},${y2} ${x2},${y2}`;
    }
    return [
      `<path class="edge edge-${edge.kind}${taken ? ' edge-taken' : ''}" d="${d}" marker-end="url(#arrow)"/>`,
    ];
  });
  const nodes = layout.nodes.map((node) => {
    const record = run.states.get(node.name);
    const o = outcome(node.name);
    const iterations = run.iterations.get(node.name) ?? [];
    const lines = iterations.slice(0, MAX_LISTED).map((it, i) => {
      const text = fit(
        `${it.item}: ${it.lastState}${it.durationMs ? ` ${elapsed(it.durationMs)}` : ''}`,
        24,
      );
      return `<text class="item item-${it.outcome}" x="${node.x + 10}" y="${node.y + 50 + i * LINE_HEIGHT}">${escapeHtml(`${OUTCOME_TEXT[it.outcome].slice(0, 1)} ${text}`)}</text>`;
    });
    if (iterations.length > MAX_LISTED) {
      lines.push(
        `<text class="item" x="${node.x + 10}" y="${node.y + 50 + MAX_LISTED * LINE_HEIGHT}">+${iterations.length - MAX_LISTED} more</text>`,
      );
    }
    const tooltip = [
      `${node.name} (${node.type}): ${summaryLine(record)}`,
      ...(record?.detail ? [record.detail] : []),
      ...iterations.map((it) => `${it.item}: ${it.lastState} (${OUTCOME_TEXT[it.outcome]})`),
    ].join('\n');
    return [
      `<g class="state state-${o}" data-state="${escapeHtml(node.name)}" data-outcome="${o}">`,
      `<title>${escapeHtml(tooltip)}</title>`,
      `<rect x="${node.x}" y="${node.y}" width="${node.width}" height="${node.height}" rx="6"/>`,
      `<text class="name" x="${node.x + 10}" y="${node.y + 17}">${escapeHtml(fit(node.name, 26))}</text>`,
      `<text class="info" x="${node.x + 10}" y="${node.y + 33}">${escapeHtml(fit(summaryLine(record), 26))}</text>`,
      ...lines,
      '</g>',
    ].join('');
  });
  return [
    `<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}" viewBox="0 0 ${layout.width} ${layout.height}" role="img" aria-labelledby="graph-title">`,
    `<title id="graph-title">${escapeHtml(title)}</title>`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>',
    ...edges,
    ...nodes,
    '</svg>',
  ].join('\n');
}
