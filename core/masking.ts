// Secrets never reach a log line, a result or stdout. Terraform already hides sensitive values
// in its human output; this catches the rest (error messages, JSON) by masking every known
// sensitive value wherever it appears.

export const MASK = '(sensitive value)';

/** Values shorter than this are not masked: "true" or "1" would blank out whole logs. */
const MIN_SECRET_LENGTH = 4;

/**
 * A line of a multi-line secret this long or longer is masked on its own: a log is masked a
 * line at a time, and Terraform prints such a value (a key, a certificate, a config file) over
 * lines, indented. Shorter lines ("-----", "}") say nothing and would blank out others.
 */
const MIN_SECRET_LINE_LENGTH = 8;

export class SecretMasker {
  #secrets: string[] = [];

  add(value: unknown): void {
    for (const leaf of leaves(value)) {
      if (leaf.length < MIN_SECRET_LENGTH) continue;
      // The JSON-escaped form too, for secrets holding quotes or newlines inside JSON text.
      const lines = leaf.includes('\n')
        ? leaf
            .split(/\r?\n/)
            .map((line) => line.trim())
            .filter((line) => line.length >= MIN_SECRET_LINE_LENGTH)
        : [];
      for (const form of [leaf, JSON.stringify(leaf).slice(1, -1), ...lines]) {
        if (!this.#secrets.includes(form)) this.#secrets.push(form);
      }
    }
    // Longest first, so a secret that contains another is masked whole.
    this.#secrets.sort((a, b) => b.length - a.length);
  }

  mask(text: string): string {
    let masked = text;
    for (const secret of this.#secrets) masked = masked.split(secret).join(MASK);
    // Terraform wraps its messages at spaces, so a secret with spaces may reach an error split
    // over lines (kept as lines, or JSON-escaped as \n): any run of white space between its
    // words matches too.
    for (const secret of this.#secrets) {
      const words = secret.split(/\s+/).filter((word) => word !== '');
      if (words.length < 2) continue;
      const wrapped = new RegExp(words.map(escapeRegExp).join('(?:\\s|\\\\[nrt])+'), 'g');
      masked = masked.replace(wrapped, MASK);
    }
    return masked;
  }

  get size(): number {
    return this.#secrets.length;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Every string and number inside a value, as strings. Booleans are left out: a secret
 * cannot hide in two possible values, and masking "true" would blank out whole logs.
 */
export function leaves(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  if (typeof value === 'string') return [value];
  if (typeof value === 'number') return [String(value)];
  if (Array.isArray(value)) return value.flatMap(leaves);
  if (typeof value === 'object') return Object.values(value).flatMap(leaves);
  return [];
}
