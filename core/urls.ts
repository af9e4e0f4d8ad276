import { InvalidInput } from './errors.ts';

/** An absolute http(s) URL, normalized; InvalidInput naming `field` otherwise. */
export function httpUrl(url: string, field: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidInput(field, 'must be an absolute http(s) URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new InvalidInput(field, 'must be an absolute http(s) URL');
  }
  return parsed.href;
}
