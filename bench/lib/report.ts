// What each benchmark hands back to bench/main.ts, and the markdown it is printed as.
import type { ScratchRepo } from '../../local/scratch-repo.ts';
import { rm } from 'node:fs/promises';

export interface Target {
  readonly name: string;
  readonly met: boolean;
  /** The measured figure the verdict rests on. */
  readonly detail: string;
}

export interface BenchOutcome {
  /** Markdown tables, printed in order. */
  readonly tables: readonly string[];
  /** Plain sentences under the tables: method, assumptions, caveats. */
  readonly notes: readonly string[];
  readonly targets: readonly Target[];
  /** Everything measured, for results.json. */
  readonly data: unknown;
}

export interface BenchContext {
  readonly quick: boolean;
  /** `full` repetitions, or `quick` ones under BENCH_QUICK=1. */
  reps(full: number, quick: number): number;
  log(line: string): void;
  /** Registers a temporary folder, removed when the whole run ends. */
  temp(dir: string): string;
  /** A throwaway git repository, removed when the whole run ends. */
  scratchRepo(): Promise<ScratchRepo>;
}

export interface Benchmark {
  readonly id: string;
  readonly title: string;
  run(ctx: BenchContext): Promise<BenchOutcome>;
}

export type Cell = string | number;

const escapeCell = (cell: Cell): string => String(cell).replaceAll('|', '\\|');

/** A markdown table; `right` lists the columns to align right (numbers). */
export function table(
  headers: readonly string[],
  rows: readonly (readonly Cell[])[],
  right: readonly number[] = [],
): string {
  const line = (cells: readonly Cell[]) => `| ${cells.map(escapeCell).join(' | ')} |`;
  const rule = headers.map((_, index) => (right.includes(index) ? '---:' : '---'));
  return [line(headers), line(rule), ...rows.map(line)].join('\n');
}

export const verdict = (met: boolean): string => (met ? 'met' : 'not met');

/** Removes registered temporary folders (best effort). */
export async function removeAll(dirs: readonly string[]): Promise<void> {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}
