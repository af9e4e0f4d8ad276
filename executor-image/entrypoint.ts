// The executor image's ENTRYPOINT, in its WORKDIR (/app): the bundle the Dockerfile builds, with
// source maps for readable stack traces. executor-image/dockerfile.test.ts checks the Dockerfile
// says exactly this; the emulated-AWS harness starts each job with it.
export const IMAGE_ENTRYPOINT = ['node', '--enable-source-maps', 'lib/executor.js'] as const;
