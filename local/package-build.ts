// What `npm run build:package` bakes into the bundle (toolchain/build-package.ts defines
// STEPFORM_BUILD): its version and commit. Undefined when a clone runs the sources.

export interface PackageBuild {
  readonly version: string;
  /** The commit the package was built from, 40 hex digits. */
  readonly commit: string;
}

declare const STEPFORM_BUILD: PackageBuild | undefined;

export const PACKAGE_BUILD: PackageBuild | undefined =
  typeof STEPFORM_BUILD === 'undefined' ? undefined : STEPFORM_BUILD;

/**
 * The Node versions the package runs on, as [major, minor, patch] minimums per release line
 * (any later major is fine). 22.18.0 and 24.2.0 are the first with `import.meta.main`, which
 * starts the executor; node:sqlite has no flag from 22.13.0 and its `timeout` (the store's
 * busy wait) from 22.16.0. Node 23 lacks `import.meta.main`.
 */
export const NODE_MINIMUMS: readonly (readonly [number, number, number])[] = [
  [22, 18, 0],
  [24, 2, 0],
];

/** NODE_MINIMUMS as package.json's `engines.node`. */
export const NODE_ENGINES = NODE_MINIMUMS.map(([major, minor, patch], index) =>
  index < NODE_MINIMUMS.length - 1 ? `^${major}.${minor}.${patch}` : `>=${major}.${minor}.${patch}`,
).join(' || ');
