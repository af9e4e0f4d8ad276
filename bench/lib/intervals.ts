// Lock holds as time intervals: which of them overlap, and how many were held at once. Pure.
// Timestamps are ISO strings (what the store records); a hold that starts at the very
// millisecond another ends does not overlap it.

export interface Hold {
  readonly owner: string;
  readonly acquiredAt: string;
  readonly releasedAt: string;
}

const ms = (iso: string): number => {
  const value = Date.parse(iso);
  if (Number.isNaN(value)) throw new Error(`not a timestamp: ${iso}`);
  return value;
};

/** Every pair of holds whose intervals share some time. */
export function overlappingPairs(holds: readonly Hold[]): [Hold, Hold][] {
  const pairs: [Hold, Hold][] = [];
  for (let i = 0; i < holds.length; i += 1) {
    for (let j = i + 1; j < holds.length; j += 1) {
      const a = holds[i];
      const b = holds[j];
      if (!a || !b) continue;
      if (ms(a.acquiredAt) < ms(b.releasedAt) && ms(b.acquiredAt) < ms(a.releasedAt)) {
        pairs.push([a, b]);
      }
    }
  }
  return pairs;
}

/** The largest number of holds in force at one instant (a release counts before an acquire). */
export function maxConcurrent(holds: readonly Hold[]): number {
  const edges = holds.flatMap((hold) => [
    { at: ms(hold.acquiredAt), delta: 1 },
    { at: ms(hold.releasedAt), delta: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let current = 0;
  let peak = 0;
  for (const edge of edges) {
    current += edge.delta;
    peak = Math.max(peak, current);
  }
  return peak;
}
