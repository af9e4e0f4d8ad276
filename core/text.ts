// Cutting text to a limit, marked with "…", for every medium with one (PR comments, commit
// statuses, status events, Step Functions task errors). Never inside a surrogate pair.

const ELLIPSIS = '…';
const HIGH_SURROGATE_AT_END = /[\uD800-\uDBFF]$/;
const LOW_SURROGATE_AT_START = /^[\uDC00-\uDFFF]/;

/** At most `limit` UTF-16 units (what JavaScript and GitHub count), ending in "…" when cut. */
export function cutText(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const kept = text.slice(0, Math.max(0, limit - ELLIPSIS.length));
  return `${HIGH_SURROGATE_AT_END.test(kept) ? kept.slice(0, -1) : kept}${ELLIPSIS}`;
}

/**
 * The end of `text` in at most `limit` UTF-16 units, starting with "…" when cut; `cut` says
 * the text was already cut before it came here, so it is marked even when it fits.
 */
export function cutTextHead(text: string, limit: number, cut = text.length > limit): string {
  if (!cut) return text;
  const kept = text.slice(text.length - Math.max(0, limit - ELLIPSIS.length));
  return `${ELLIPSIS}${LOW_SURROGATE_AT_START.test(kept) ? kept.slice(1) : kept}`;
}

/** At most `limit` code points (what Step Functions counts), ending in "…" when cut. */
export function cutCodePoints(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const points = Array.from(text);
  if (points.length <= limit) return text;
  return `${points.slice(0, limit - 1).join('')}${ELLIPSIS}`;
}
