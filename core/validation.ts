import type { z } from 'zod';
import { InvalidInput } from './errors.ts';

/**
 * Parses untrusted input once, at the boundary. On failure throws InvalidInput naming the
 * first bad field as a dotted path under `root` (for example `job.commit`).
 */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  root: string,
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = (issue?.path ?? []).map((part) => String(part));
  const field = [root, ...path].filter((part) => part !== '').join('.') || 'input';
  throw new InvalidInput(field, issue?.message ?? 'is invalid');
}
