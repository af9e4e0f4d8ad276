/** Compares two dotted release versions ("1.12.6", "v1.5.0-beta1" reads as 1.5.0). */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) =>
    (v.replace(/^v/, '').split(/[-+]/)[0] ?? '').split('.').map((n) => Number.parseInt(n, 10) || 0);
  const [pa, pb] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  return 0;
}
