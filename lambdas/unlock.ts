// The Unlock Task state on AWS: its core step (core/task-steps.ts) over the AWS adapters.
import { taskHandler } from './runtime.ts';

export const handler = taskHandler('Unlock');
