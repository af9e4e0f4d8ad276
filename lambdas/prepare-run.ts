// PrepareRun on AWS: validates the run and builds its jobs. A plan-apply must be of a commit
// on the default branch (checked through GitHub, failing closed), and may skip approval only
// where the deployment allows it (ALLOW_AUTO_APPROVE).
import { taskHandler } from './runtime.ts';

export const handler = taskHandler('PrepareRun');
