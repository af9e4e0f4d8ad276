// Jest runs the TypeScript sources as ES modules (ts-jest, transpile only: `tsc` type-checks
// separately in `npm run check`). Tests that drive real OpenTofu take seconds each, hence the
// timeout; they run in parallel workers, one per core.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
  },
  testMatch: ['<rootDir>/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  // cdk.out holds staged copies of the sources (and a package.json) for the image asset.
  // dist/ is the built package (npm run build:package), with a package.json of its own.
  modulePathIgnorePatterns: ['<rootDir>/infra/cdk.out/', '<rootDir>/dist/'],
  testTimeout: 180_000,
  // Under --experimental-vm-modules a worker keeps every test file's module graph (the CDK
  // app, the AWS SDK) alive; after ~100 files a worker ran out of heap. A worker above this
  // after a file is replaced by a fresh one.
  workerIdleMemoryLimit: '1GB',
};
