// What a Terraform/OpenTofu state file (format version 4) holds, read without Terraform: the
// addresses of its resource instances, as `terraform state list` prints them. Pure.
import { z } from 'zod';
import { parseInput } from './validation.ts';

const INSTANCE = z.object({ index_key: z.union([z.string(), z.number()]).optional() });

const STATE = z.object({
  version: z.literal(4),
  resources: z
    .array(
      z.object({
        module: z.string().optional(),
        mode: z.enum(['managed', 'data']),
        type: z.string(),
        name: z.string(),
        instances: z.array(INSTANCE),
      }),
    )
    .default([]),
});

function indexSuffix(key: string | number | undefined): string {
  if (key === undefined) return '';
  return typeof key === 'number' ? `[${key}]` : `[${JSON.stringify(key)}]`;
}

/**
 * The managed resource instances of a state, `module.a.aws_s3_bucket.logs["x"]`, in the
 * state's order: what a destroy removes (data sources are only read).
 */
export function managedResourceAddresses(state: unknown): string[] {
  const { resources } = parseInput(STATE, state, 'state');
  return resources
    .filter((resource) => resource.mode === 'managed')
    .flatMap((resource) => {
      const base = `${resource.module ? `${resource.module}.` : ''}${resource.type}.${resource.name}`;
      return resource.instances.map((instance) => `${base}${indexSuffix(instance.index_key)}`);
    });
}
