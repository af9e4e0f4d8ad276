// The policy checks of a run as the CLI prints them, for every verb that shows them (a run's
// end, show, logs --stack), locally and for a stack alike.
import type { PolicyResult } from '../../core/policy.ts';
import { VERDICT_LABELS, setVerdict } from '../../core/policy-view.ts';

/**
 * Each policy set's result on each project, and its violations (at most 20 a set): what
 * stopped the run, or what it warns of.
 */
export function policyLines(policy: readonly PolicyResult[]): string[] {
  const shown = 20;
  return policy.flatMap((result) => {
    const verdict = VERDICT_LABELS[setVerdict(result)];
    const lines = result.violations.slice(0, shown).map((v) => {
      const where = v.resource === undefined ? '' : `${v.resource}: `;
      return `    ${v.rule === 'deny' ? '✗ deny' : '! warn'}  ${where}${v.message}`;
    });
    const more = result.violations.length - shown;
    return [
      `  policy ${result.policy} on ${result.project}: ${verdict}`,
      ...lines,
      ...(more > 0 ? [`    … and ${more} more (in the plan job's result.json)`] : []),
    ];
  });
}
