// The policy checks of a stack's run, read from its plan jobs' result.json in the artifacts
// bucket, for the same lines the local CLI prints (policy-lines.ts).
import { RESULT_FILE } from '../../../core/contracts/job-result.ts';
import type { ArtifactPort } from '../../../core/ports.ts';
import type { PolicyResult } from '../../../core/policy.ts';
import { planResultNames } from '../../engine/policy-results.ts';
import { runArtifactsFolder } from '../../../core/run.ts';
import { BATCH_ARTIFACTS_ROOT } from '../../../core/contracts/job-input.ts';

/** The bucket's side of it: what S3ArtifactPort offers. */
export interface RunArtifacts extends Pick<ArtifactPort, 'readResult'> {
  listArtifacts(location: string): Promise<string[]>;
}

/** Every policy result of the run's plan jobs, in name order (none: no plan checked any). */
export async function stackPolicyResults(
  artifacts: RunArtifacts,
  runId: string,
): Promise<PolicyResult[]> {
  const folder = runArtifactsFolder(BATCH_ARTIFACTS_ROOT, runId);
  const names = planResultNames(await artifacts.listArtifacts(folder));
  const results = await Promise.all(
    names.map(async (name) =>
      artifacts.readResult(`${folder}/${name.slice(0, -RESULT_FILE.length - 1)}`),
    ),
  );
  return results.flatMap((result) => result?.policy ?? []);
}
