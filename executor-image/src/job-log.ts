import { closeSync, openSync, writeSync } from 'node:fs';
import type { SecretMasker } from '../../core/masking.ts';

/**
 * The job's log: every line goes to a file in the artifacts folder and to stdout (which
 * CloudWatch collects on Batch), masked on the way to both.
 */
export class JobLog {
  readonly path: string;
  readonly #fd: number;
  readonly #masker: SecretMasker;
  readonly #echo: (text: string) => void;

  constructor(
    path: string,
    masker: SecretMasker,
    echo: (text: string) => void = (t) => process.stdout.write(t),
  ) {
    this.path = path;
    this.#fd = openSync(path, 'a', 0o600);
    this.#masker = masker;
    this.#echo = echo;
  }

  /** A line of Terraform's own output, as it came. */
  write(line: string): void {
    const masked = `${this.#masker.mask(line)}\n`;
    writeSync(this.#fd, masked);
    this.#echo(masked);
  }

  /**
   * Lines that belong together (Terraform's diagnostics), masked as one text: Terraform wraps
   * a message at spaces, so a secret holding spaces may be split over two of these lines.
   */
  writeBlock(lines: readonly string[]): void {
    if (lines.length === 0) return;
    const masked = `${this.#masker.mask(lines.join('\n'))}\n`;
    writeSync(this.#fd, masked);
    this.#echo(masked);
  }

  /** A line of the executor's own. */
  info(message: string): void {
    this.write(`[stepform] ${message}`);
  }

  close(): void {
    closeSync(this.#fd);
  }
}
