// The GitHubToken function: an executor job on Batch asks it for a token to clone its
// repository. The job roles may invoke it but never read the GitHub secret: a pull-request
// plan runs the branch's code with the plan job role, and must not get the App's key. The
// answer (the token) is never logged; an error carries no secret.
import { awsRuntime, instrument } from './runtime.ts';

export const handler = instrument('GitHubToken', async (event: unknown) =>
  awsRuntime().cloneToken(event),
);
