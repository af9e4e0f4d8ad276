// The `command` verb: a short allowlist of Terraform subcommands that are safe to pass
// through the pipeline. Anything else, and any argument that could be read as an option or
// shell syntax, is refused before anything runs.
import { CommandNotAllowed } from '../../core/errors.ts';

interface AllowedCommand {
  /** What the user types after `command`. */
  readonly words: readonly string[];
  /** What the executor runs: fixed flags chosen here, never by the caller. */
  readonly terraformArgs: readonly string[];
  readonly minArgs: number;
  readonly maxArgs: number;
}

export const ALLOWED_COMMANDS: readonly AllowedCommand[] = [
  { words: ['state', 'list'], terraformArgs: ['state', 'list'], minArgs: 0, maxArgs: 4 },
  {
    words: ['state', 'show'],
    terraformArgs: ['state', 'show', '-no-color'],
    minArgs: 1,
    maxArgs: 1,
  },
  // Always -json, so that sensitive outputs can be masked before anything is printed.
  { words: ['output'], terraformArgs: ['output', '-json'], minArgs: 0, maxArgs: 1 },
  {
    words: ['import'],
    terraformArgs: ['import', '-input=false', '-no-color'],
    minArgs: 2,
    maxArgs: 2,
  },
  { words: ['force-unlock'], terraformArgs: ['force-unlock', '-force'], minArgs: 1, maxArgs: 1 },
  { words: ['providers'], terraformArgs: ['providers', '-no-color'], minArgs: 0, maxArgs: 0 },
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
  if (name === 'output') {
    return {
      name,
      terraformArgs: command.terraformArgs,
      userArgs: [],
      ...(userArgs[0] ? { outputName: userArgs[0] } : {}),
    };
  }
  return { name, terraformArgs: [...command.terraformArgs, ...userArgs], userArgs };
}
