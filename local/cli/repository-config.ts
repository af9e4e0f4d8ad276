// Moved to adapters/git/repository-at-commit.ts (the GitHub Action reads a checkout with it too).
export * from '../../adapters/git/repository-at-commit.ts';
