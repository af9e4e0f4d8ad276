// Keeps the logical IDs that resources had before StepformPipeline was composed of parts. A
// resource whose logical ID changes is replaced by CloudFormation: a new, empty table and
// state bucket, roles with new names that GitHub workflows no longer find; and one with a
// fixed name (the state machines, the schedule group) cannot be replaced at all. So each
// part's resources keep the ID they would have without the part's own level in their path.
import { createHash } from 'node:crypto';
import { Aspects, CfnElement, Stack } from 'aws-cdk-lib';
import type { Construct, IConstruct } from 'constructs';

const alphanumeric = (component: string) => component.replace(/[^A-Za-z0-9]/g, '');

/**
 * CDK's logical ID of a path below the stack (aws-cdk-lib core/lib/private/uniqueid.ts, which
 * it does not export): `Default` is left out, a path of one component is its own ID, and a
 * longer one is its readable part (repeats and `Resource` dropped) plus a hash of the path.
 */
export function logicalIdOfPath(components: readonly string[]): string {
  const path = components.filter((component) => component !== 'Default');
  const [only] = path;
  if (path.length === 1 && only !== undefined && alphanumeric(only).length <= 255) {
    return alphanumeric(only);
  }
  const hash = createHash('md5').update(path.join('/')).digest('hex').slice(0, 8).toUpperCase();
  const readable: string[] = [];
  for (const component of path) {
    if (!readable.at(-1)?.endsWith(component)) readable.push(component);
  }
  const human = readable
    .filter((component) => component !== 'Resource')
    .map(alphanumeric)
    .join('')
    .slice(0, 240);
  return human + hash;
}

/**
 * Gives every resource under `part` (now, and those added until synthesis, such as the
 * policies grants create later) the logical ID it would have if `part` were not in its path.
 */
export function keepLogicalIds(part: Construct): void {
  const stack = Stack.of(part);
  const kept = new WeakSet<CfnElement>();
  const keep = (node: IConstruct) => {
    if (!CfnElement.isCfnElement(node) || kept.has(node)) return;
    kept.add(node);
    const scopes = node.node.scopes;
    const path = scopes
      .slice(scopes.indexOf(stack) + 1)
      .filter((scope) => scope !== part)
      .map((scope) => scope.node.id);
    const generated = stack.getLogicalId(node);
    const before = logicalIdOfPath(path);
    if (before !== generated) stack.renameLogicalId(generated, before);
  };
  for (const node of part.node.findAll()) keep(node);
  Aspects.of(part).add({ visit: keep });
}
