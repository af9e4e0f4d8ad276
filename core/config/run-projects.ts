// From stepform.yaml and a selection to what a run covers: each selected project resolved for
// the environment (workspace, var files), checked against the commit's files, in layers. The
// CLI and the action build a run's `projects` with it. Pure.
import { MAX_RUN_PROJECTS, type RunProject } from '../contracts/workflow-input.ts';
import { InvalidInput } from '../errors.ts';
import { layersOf } from './layers.ts';
import {
  type ProjectConfig,
  type StepformConfig,
  checkProjectAtCommit,
  environmentConfig,
  resolveProject,
} from './stepform-config.ts';

export interface RunProjects {
  /** In execution order: layer by layer, the file's order within a layer. */
  readonly projects: RunProject[];
  /** The one project's dir, or the folder every project is in ("." at most). */
  readonly projectDir: string;
  readonly maxParallel: number;
  /** The environment is `protected: true` (absent otherwise). */
  readonly protectedEnvironment?: true;
  /** stepform.yaml's after_apply dispatches (absent when it has none). */
  readonly afterApply?: StepformConfig['after_apply'];
  /** stepform.yaml's policies (absent when it has none). */
  readonly policies?: StepformConfig['policies'];
}

/** The deepest folder that holds every dir ("." when they share none). */
export function commonDir(dirs: readonly string[]): string {
  const [first, ...rest] = dirs.map((dir) => (dir === '.' ? [] : dir.split('/')));
  if (first === undefined) return '.';
  let length = first.length;
  for (const parts of rest) {
    let same = 0;
    while (same < Math.min(length, parts.length) && parts[same] === first[same]) same += 1;
    length = same;
  }
  return length === 0 ? '.' : first.slice(0, length).join('/');
}

/**
 * The run's projects for the environment: InvalidInput naming the key of stepform.yaml when a
 * selected project's dir or var file is missing at the commit (`files`: every file of it), or
 * naming `field` (what selected them) when they are more than one run covers.
 */
export function runProjectsFor(
  config: StepformConfig,
  environment: string,
  selected: readonly ProjectConfig[],
  files: ReadonlySet<string>,
  field = 'projects',
): RunProjects {
  if (selected.length > MAX_RUN_PROJECTS) {
    throw new InvalidInput(
      field,
      `selects ${selected.length} projects, and one run covers at most ${MAX_RUN_PROJECTS} (their ` +
        `workflow state must fit Step Functions' 256 KB): name at most ${MAX_RUN_PROJECTS}, and ` +
        `the others in another run`,
    );
  }
  const resolved = new Map(
    selected.map((project) => [project.name, resolveProject(config, project, environment)]),
  );
  for (const project of resolved.values()) checkProjectAtCommit(config, project, files);
  const projects = layersOf(config, selected)
    .flat()
    .map(({ name, layer }): RunProject => {
      const project = resolved.get(name);
      if (project === undefined) throw new Error(`layersOf returned ${name}, not selected`);
      return {
        name,
        dir: project.dir,
        layer,
        ...(project.workspace === undefined ? {} : { workspace: project.workspace }),
        varFiles: [...project.varFiles],
      };
    });
  return {
    projects,
    projectDir: commonDir(projects.map((p) => p.dir)),
    maxParallel: config.max_parallel,
    ...(environmentConfig(config, environment).protected ? { protectedEnvironment: true } : {}),
    ...(config.after_apply.length > 0 ? { afterApply: config.after_apply } : {}),
    ...(config.policies.length > 0 ? { policies: config.policies } : {}),
  };
}
