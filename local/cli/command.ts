// command --env ENV [--dir DIR | --project NAME] -- <args>: starts the command workflow, one allowlisted
// Terraform command under the environment's lock (one that changes the state waits for an
// approval, unless --auto-approve). Its masked output is printed after the run. The command
// is checked against the allowlist before a run exists: anything else is exit 2, no run.
import { InvalidInput } from '../../core/errors.ts';
import { commandProblem } from '../../core/terraform-commands.ts';
import {
  RUN_INPUT,
  type RunContext,
  type RunProject,
} from '../../core/contracts/workflow-input.ts';
import { parseInput } from '../../core/validation.ts';
import { LocalEngine } from '../engine/local-engine.ts';
import {
  checkProjectDirAtCommit,
  flagFor,
  openEngine,
  resolveCommit,
  resolveProjectDir,
  resolveRepository,
} from './context.ts';
import type { Io } from './io.ts';
import type { CliValues } from './main.ts';
import { approvalTimeoutSeconds, executeRun } from './run-verbs.ts';
import { projectNames, selectRun } from './selection.ts';

/** What parseArgs' tokens say about the words of a command line. */
export interface CommandLineToken {
  readonly kind: string;
  readonly index: number;
  readonly value?: string | boolean | undefined;
}

/**
 * The command's words: every positional after `--`. The `--` is required, so that what
 * follows it is never read as an option of stepform (`-- state list -lock=false` is an
 * argument the allowlist refuses), and nothing but the verb may stand before it.
 */
export function commandArgs(tokens: readonly CommandLineToken[]): string[] {
  const terminator = tokens.find((t) => t.kind === 'option-terminator');
  const positionals = tokens.filter((t) => t.kind === 'positional');
  if (terminator === undefined)
    throw new InvalidInput(
      '--',
      'give the command after --, as in: command --env dev -- state list',
    );
  const before = positionals.filter((t) => t.index < terminator.index);
  if (before.length > 1)
    throw new InvalidInput('--', `unexpected "${String(before[1]?.value)}" before --`);
  return positionals.filter((t) => t.index > terminator.index).map((t) => String(t.value));
}

/**
 * The project: --project (stepform.yaml's name), --dir, else the one project the environment
 * has a record of. The command needs its state: a project never applied there is refused.
 */
async function projectOf(
  repository: string,
  environment: string,
  values: CliValues,
  io: Io,
  named?: string,
): Promise<string> {
  const engine = await openEngine(repository, io);
  try {
    const known = engine.stores.records
      .listEnvironments()
      .filter((e) => e.environment === environment && e.status !== 'destroyed');
    if (named !== undefined || values.dir !== undefined) {
      const projectDir = named ?? (await resolveProjectDir(repository, values.dir, io.cwd));
      if (!known.some((e) => e.projectDir === projectDir)) {
        throw new InvalidInput(
          '--env',
          `${environment} has no state of ${projectDir}: apply it first (stepform apply)`,
        );
      }
      return projectDir;
    }
    const [only, ...others] = known;
    if (only === undefined)
      throw new InvalidInput('--env', `no environment named ${environment} has been applied`);
    if (others.length > 0) {
      throw new InvalidInput(
        '--dir',
        `${environment} has several projects (${known.map((e) => e.projectDir).join(', ')}): say which with --dir`,
      );
    }
    return only.projectDir;
  } finally {
    engine.close();
  }
}

/**
 * The command's project, and with stepform.yaml its settings there (workspace, var files: an
 * import reads the variables; whether the environment is protected).
 */
export async function commandProject(
  repository: string,
  commit: string,
  environment: string,
  values: CliValues,
  io: Io,
): Promise<{ projectDir: string; projects?: RunProject[]; protectedEnvironment?: true }> {
  const names = projectNames(values);
  if (names.length > 1)
    throw new InvalidInput('--project', 'a command runs in one project: name one');
  if (names.length === 1 && values.dir !== undefined)
    throw new InvalidInput('--project', 'give one of --dir, --project, not both');
  // --project: its dir from stepform.yaml (and the environment checked against it).
  const chosen =
    names.length === 1
      ? await selectRun({ project: names }, repository, commit, environment, io.cwd)
      : undefined;
  const namedDir = chosen?.nothing === undefined ? chosen?.projects?.[0]?.dir : undefined;
  const projectDir = await projectOf(repository, environment, values, io, namedDir);
  await checkProjectDirAtCommit(repository, commit, projectDir);
  const selection =
    chosen ?? (await selectRun({ dir: projectDir }, repository, commit, environment, repository));
  if (selection.nothing !== undefined || selection.projects === undefined) return { projectDir };
  if (selection.projects.length > 1) {
    throw new InvalidInput(
      '--project',
      `${projectDir} holds several projects of stepform.yaml (${selection.projects.map((p) => p.name).join(', ')}): name one`,
    );
  }
  return {
    projectDir,
    projects: selection.projects,
    ...(selection.environmentConfig?.protected === true ? { protectedEnvironment: true } : {}),
  };
}

/**
 * The command's words and environment, checked before anything is opened: a refused command
 * is refused whatever else is wrong.
 */
export function commandArguments(
  tokens: readonly CommandLineToken[],
  values: CliValues,
): { args: string[]; environment: string } {
  const args = commandArgs(tokens);
  const problem = commandProblem(args);
  if (problem !== undefined) throw new InvalidInput('-- args', problem);
  if (values.env === undefined)
    throw new InvalidInput('--env', 'is required: the environment whose state the command reads');
  return { args, environment: values.env };
}

/** The command run's input; a bad value names the flag (or `-- args`) that set it. */
export function commandRunInput(fields: {
  runId: string;
  repository: string;
  commit: string;
  projectDir: string;
  projects?: RunProject[];
  protectedEnvironment?: true;
  environment: string;
  args: readonly string[];
  values: CliValues;
}): RunContext {
  const { values, ...run } = fields;
  try {
    return parseInput(
      RUN_INPUT,
      {
        ...run,
        workflow: 'command',
        args: [...run.args],
        autoApprove: values['auto-approve'] === true,
        approvalTimeoutSeconds: approvalTimeoutSeconds(values),
      },
      'input',
    );
  } catch (error) {
    if (error instanceof InvalidInput) {
      const field = error.field === 'input.args' ? '-- args' : flagFor(error.field);
      throw new InvalidInput(field, error.message.slice(error.field.length + 2));
    }
    throw error;
  }
}

export async function commandVerb(
  tokens: readonly CommandLineToken[],
  values: CliValues,
  io: Io,
): Promise<number> {
  const { args, environment } = commandArguments(tokens, values);
  approvalTimeoutSeconds(values); // checked before anything is read
  const repository = await resolveRepository(values.repo, io.cwd);
  const commit = await resolveCommit(repository, values.commit);
  const project = await commandProject(repository, commit, environment, values, io);
  const run = commandRunInput({
    runId: LocalEngine.newRunId(),
    repository,
    commit,
    ...project,
    environment,
    args,
    values,
  });
  return executeRun(run, values, io);
}
