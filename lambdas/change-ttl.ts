// The ChangeTtl Task state on AWS (the ttl workflow): its core step (core/task-steps.ts) over
// the AWS adapters (DynamoDB records, EventBridge Scheduler).
import { taskHandler } from './runtime.ts';

export const handler = taskHandler('ChangeTtl');
