// Recognising AWS SDK errors. The SDK clients of this project come in several versions, each
// with its own copy of the exception classes, so errors are matched by `name` (the service's
// error code), never by `instanceof`.

/** The error's `name` when it is an object with a string name. */
export function awsErrorName(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('name' in error)) return undefined;
  const { name } = error;
  return typeof name === 'string' ? name : undefined;
}

/** True when `error` is an AWS error with one of these names (error codes). */
export function isAwsError(error: unknown, ...names: readonly string[]): boolean {
  const name = awsErrorName(error);
  return name !== undefined && names.includes(name);
}
