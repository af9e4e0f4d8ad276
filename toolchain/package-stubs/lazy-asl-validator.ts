// What the package's bundle gives aws-local-stepfunctions for `asl-validator`
// (toolchain/build-package.ts, localEngineStubsPlugin). The library imports the validator at
// its top level, and loading it compiles its JSON schemas (about 12 ms) on every start of a
// verb that runs; but the local engine validates a definition once and then remembers that it
// did (local/engine/asl.ts), so most runs never call it. This stand-in loads the real validator,
// the library's own copy, on its first call.

/** asl-validator's export (`module.exports = function validator(definition, opts)`). */
type Validator = (
  definition: unknown,
  options?: Readonly<Record<string, unknown>>,
) => { isValid: boolean; errorsText: (separator?: string) => string };

let loaded: Validator | undefined;

export default function aslValidator(...args: Parameters<Validator>): ReturnType<Validator> {
  // A literal require, which esbuild bundles as a module evaluated on this first call only.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require('asl-validator') as Validator;
  return loaded(...args);
}
