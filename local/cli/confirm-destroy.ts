// `stepform destroy` asks before it destroys: it shows what the environment's state holds and
// wants the environment's name typed back on a terminal; without one it needs --yes.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stateKey } from '../../core/contracts/job-input.ts';
import type { RunContext } from '../../core/contracts/workflow-input.ts';
import { DestroyNotConfirmed, InvalidInput } from '../../core/errors.ts';
import { managedResourceAddresses } from '../../core/terraform-state.ts';
import type { Io } from './io.ts';

/** Resources shown before the question; the rest are counted. */
const SHOWN = 50;

/** The managed resources of a project's local state (its workspace's); undefined when it has none yet. */
export async function localStateResources(
  stateDir: string,
  project: {
    readonly environment: string;
    readonly projectDir: string;
    readonly workspace?: string;
  },
): Promise<string[] | undefined> {
  const path = join(stateDir, stateKey(project.environment, project.projectDir, project.workspace));
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return managedResourceAddresses(JSON.parse(text) as unknown);
}

export async function confirmDestroy(
  run: Pick<RunContext, 'environment' | 'projectDir' | 'projects'>,
  /** stateDir: the local state's folder; none for a stack (its state is in S3). */
  options: { yes: boolean; stateDir?: string },
  io: Io,
): Promise<void> {
  if (options.yes) return;
  if (!io.interactive) {
    throw new InvalidInput(
      '--yes',
      `destroy asks for confirmation on a terminal; to destroy ${run.environment} without one, pass --yes`,
    );
  }
  // Each project of the run, with what its state holds (the last layer is destroyed first).
  const projects: readonly { dir: string; workspace?: string }[] = run.projects ?? [
    { dir: run.projectDir },
  ];
  for (const project of projects) {
    const workspace = project.workspace === undefined ? '' : `, workspace ${project.workspace}`;
    const where = `${run.environment} (${project.dir}${workspace})`;
    const { stateDir } = options;
    const resources =
      stateDir === undefined
        ? undefined
        : await localStateResources(stateDir, {
            environment: run.environment,
            projectDir: project.dir,
            ...(project.workspace === undefined ? {} : { workspace: project.workspace }),
          });
    if (stateDir === undefined) {
      io.err(`destroy will remove every resource of ${where} in the deployed stack.\n`);
    } else if (resources === undefined || resources.length === 0) {
      io.err(`${where} has no resources in its state: the destroy will find nothing to remove.\n`);
    } else {
      const more = resources.length - SHOWN;
      io.err(
        [
          `destroy will remove ${resources.length} resource${resources.length === 1 ? '' : 's'} of ${where}:`,
          ...resources.slice(0, SHOWN).map((address) => `  - ${address}`),
          ...(more > 0 ? [`  … and ${more} more`] : []),
          '',
        ].join('\n'),
      );
    }
  }
  const answer = await io.ask(`Type the environment's name (${run.environment}) to destroy it: `);
  if (answer.trim() !== run.environment) {
    throw new DestroyNotConfirmed(`not confirmed: ${run.environment} was not destroyed`);
  }
}
