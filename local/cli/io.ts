// Where the CLI writes, and what it reads of its process: swappable in tests.
import { createInterface } from 'node:readline/promises';

export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Whether a person can answer a question: stdin and stderr are terminals. */
  readonly interactive: boolean;
  /** Whether stdout is a terminal (colour is for terminals only). */
  readonly outIsTerminal?: boolean;
  /** Asks on stderr and reads one line of stdin (only when interactive). */
  readonly ask: (question: string) => Promise<string>;
}

export function processIo(): Io {
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    cwd: process.cwd(),
    env: process.env,
    interactive: process.stdin.isTTY && process.stderr.isTTY,
    outIsTerminal: process.stdout.isTTY,
    ask: async (question) => {
      const prompt = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await prompt.question(question);
      } finally {
        prompt.close();
      }
    },
  };
}
