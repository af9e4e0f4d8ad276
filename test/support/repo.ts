// Throwaway repositories for tests: the same helpers the demo uses.
export {
  HELLO_EXAMPLE,
  type ScratchRepo as TestRepo,
  makeRepo,
  tempDir,
} from '../../local/scratch-repo.ts';
export { REPO_ROOT } from '../../toolchain/paths.ts';
