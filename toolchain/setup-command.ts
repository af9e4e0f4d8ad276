// The command that builds the toolchain, as the reader of a message can run it: the package's
// verb where a package bundle runs (toolchain/build-package.ts defines STEPFORM_BUILD in it),
// the clone's script where the sources run.
declare const STEPFORM_BUILD: unknown;

export const SETUP_COMMAND =
  typeof STEPFORM_BUILD === 'undefined' ? 'npm run setup' : 'stepform setup';
