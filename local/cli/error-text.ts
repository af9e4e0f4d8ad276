// How the CLI shows an error: once, its lines kept as lines (Terraform's blocks whole), paths
// in the repository shown relative to it, and what to do next when core/error-hints.ts knows.
import { type DescribedError, errorHint } from '../../core/error-hints.ts';

/**
 * The lines of `error`: `PREFIXName: first line`, the rest indented under it, then `hint:`.
 * `repository`: its absolute path, dropped from the paths in the message.
 */
export function errorText(
  error: DescribedError,
  options: { prefix?: string; indent?: string; repository?: string } = {},
): string {
  const indent = options.indent ?? '';
  const message =
    options.repository === undefined
      ? error.message
      : error.message.replaceAll(`${options.repository.replace(/\/+$/, '')}/`, '');
  const [first = '', ...rest] = `${error.name}: ${message}`.trimEnd().split('\n');
  const hint = errorHint(error);
  return [
    `${indent}${options.prefix ?? ''}${first}`,
    ...rest.map((line) => (line.trim() === '' ? '' : `${indent}  ${line.trimEnd()}`)),
    ...(hint === undefined ? [] : [`${indent}hint: ${hint}`]),
    '',
  ].join('\n');
}

/** A `Name: message` string (the store's run error) as a described error. */
export function parseErrorString(text: string): DescribedError {
  const match = /^([A-Za-z][\w.]*): ([\s\S]*)$/.exec(text);
  return match
    ? { name: match[1] ?? 'Error', message: match[2] ?? '' }
    : { name: 'Error', message: text };
}
