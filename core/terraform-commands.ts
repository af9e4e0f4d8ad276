// The `command` workflow: a short allowlist of Terraform subcommands that are safe to pass
// through the pipeline. Anything else, and any argument that could be read as an option or
// shell syntax, is refused before anything runs: by the run input's schema (so a bad command
// starts no run) and again by the executor. Pure.
import { CommandNotAllowed } from './errors.ts';

interface AllowedCommand {
  /** What the user types after `command`. */
  readonly words: readonly string[];
  /** What the executor runs: fixed flags chosen here, never by the caller. */
  readonly terraformArgs: readonly string[];
  readonly minArgs: number;
  readonly maxArgs: number;
  /** Whether it writes the state: then the run needs an approval (core/run.ts). */
  readonly changesState: boolean;
}

export const ALLOWED_COMMANDS: readonly AllowedCommand[] = [
  {
    words: ['state', 'list'],
    terraformArgs: ['state', 'list'],
    minArgs: 0,
    maxArgs: 4,
    changesState: false,
  },
  {
    words: ['state', 'show'],
    terraformArgs: ['state', 'show', '-no-color'],
    minArgs: 1,
    maxArgs: 1,
    changesState: false,
  },
  // Under the state lock, and never leaving a stray backup file in the job's work folder.
  {
    words: ['state', 'rm'],
    terraformArgs: ['state', 'rm', '-lock=true', '-lock-timeout=60s', '-backup=-'],
    minArgs: 1,
    maxArgs: 4,
    changesState: true,
  },
  // Always -json, so that sensitive outputs can be masked before anything is printed.
  {
    words: ['output'],
    terraformArgs: ['output', '-json'],
    minArgs: 0,
    maxArgs: 1,
    changesState: false,
  },
  {
    words: ['import'],
    terraformArgs: ['import', '-input=false', '-lock=true', '-lock-timeout=60s', '-no-color'],
    minArgs: 2,
    maxArgs: 2,
    changesState: true,
  },
  {
    words: ['force-unlock'],
    terraformArgs: ['force-unlock', '-force'],
    minArgs: 1,
    maxArgs: 1,
    changesState: false,
  },
  {
    words: ['providers'],
    terraformArgs: ['providers', '-no-color'],
    minArgs: 0,
    maxArgs: 0,
    changesState: false,
  },
];

/**
 * Resource addresses (`module.a.aws_s3_bucket.b["key"]`), output names, import ids (ARNs)
 * and lock ids. No whitespace, no shell metacharacters, and never a leading "-".
 */
const SAFE_ARGUMENT = /^[A-Za-z0-9_.:/@=+,[\]"][A-Za-z0-9_.:/@=+,[\]"-]{0,511}$/;

export interface ResolvedCommand {
  readonly name: string;
  readonly terraformArgs: readonly string[];
  readonly userArgs: readonly string[];
  /** `output`: the one output asked for, if any. */
  readonly outputName?: string;
  readonly changesState: boolean;
}

export function resolveCommand(args: readonly string[]): ResolvedCommand {
  const allowedList = ALLOWED_COMMANDS.map((c) => c.words.join(' ')).join(', ');
  const command = ALLOWED_COMMANDS.find((c) => c.words.every((word, i) => args[i] === word));
  if (!command) {
    throw new CommandNotAllowed(
      `"${args.slice(0, 2).join(' ')}" is not an allowed command; allowed: ${allowedList}`,
    );
  }
  const name = command.words.join(' ');
  const userArgs = args.slice(command.words.length);
  if (userArgs.length < command.minArgs || userArgs.length > command.maxArgs) {
    throw new CommandNotAllowed(
      `${name} takes ${command.minArgs === command.maxArgs ? command.minArgs : `${command.minArgs}-${command.maxArgs}`} argument(s), got ${userArgs.length}`,
    );
  }
  userArgs.forEach((arg, i) => {
    if (!SAFE_ARGUMENT.test(arg)) {
      throw new CommandNotAllowed(
        `argument ${i + 1} of ${name} is not allowed: only addresses and ids (letters, digits and _ . : / @ = + , [ ] " -), not starting with "-"`,
      );
    }
  });
  const { changesState } = command;
  if (name === 'output') {
    return {
      name,
      terraformArgs: command.terraformArgs,
      userArgs: [],
      changesState,
      ...(userArgs[0] ? { outputName: userArgs[0] } : {}),
    };
  }
  return { name, terraformArgs: [...command.terraformArgs, ...userArgs], userArgs, changesState };
}

/** Why `args` is not an allowed command, or undefined when it is one. */
export function commandProblem(args: readonly string[]): string | undefined {
  try {
    resolveCommand(args);
    return undefined;
  } catch (error) {
    if (error instanceof CommandNotAllowed) return error.message;
    throw error;
  }
}
