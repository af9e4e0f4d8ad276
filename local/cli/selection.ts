// Which projects a run verb covers: --dir, --project (repeatable, or comma-separated), --all,
// or by default what changed since --base. Without stepform.yaml at the commit, a run is the
// one folder --dir names (as before the file existed).
import { type Selection, selectProjects } from '../../core/config/layers.ts';
import { type RunProjects, runProjectsFor } from '../../core/config/run-projects.ts';
import {
  CONFIG_FILE,
  type EnvironmentConfig,
  environmentConfig,
  resolveProject,
} from '../../core/config/stepform-config.ts';
import { InvalidInput } from '../../core/errors.ts';
import { checkProjectDirAtCommit, resolveProjectDir } from './context.ts';
import type { CliValues } from './main.ts';
import {
  affectedAtCommit,
  configAtCommit,
  filesAtCommit,
  resolveBase,
} from '../../adapters/git/repository-at-commit.ts';

/** What a run covers, or why it covers nothing (no project affected by the change). */
export type RunSelection =
  | (Partial<RunProjects> & {
      readonly projectDir: string;
      /** The environment's settings in stepform.yaml, when there is one. */
      readonly environmentConfig?: EnvironmentConfig;
      readonly nothing?: undefined;
    })
  | { readonly nothing: string; readonly base: string };

/** --project's names: repeated flags, each possibly `a,b`. */
export function projectNames(values: Pick<CliValues, 'project'>): string[] {
  return (values.project ?? []).flatMap((value) =>
    value
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== ''),
  );
}

export async function selectRun(
  values: CliValues,
  repository: string,
  commit: string,
  environment: string,
  cwd: string,
): Promise<RunSelection> {
  const names = projectNames(values);
  const given = [
    ...(values.dir === undefined ? [] : ['--dir']),
    ...(names.length === 0 ? [] : ['--project']),
    ...(values.all === true ? ['--all'] : []),
  ];
  if (given.length > 1) {
    throw new InvalidInput(given[1] ?? '--project', `give one of ${given.join(', ')}, not both`);
  }
  if (values.base !== undefined && given.length > 0) {
    throw new InvalidInput('--base', `selects projects by what changed; not with ${given[0]}`);
  }
  const config = await configAtCommit(repository, commit);
  if (config === undefined) {
    if (names.length > 0 || values.all === true || values.base !== undefined) {
      throw new InvalidInput(
        given[0] ?? '--base',
        `needs ${CONFIG_FILE} at commit ${commit.slice(0, 12)}; without it a run is one folder: --dir`,
      );
    }
    const projectDir = await resolveProjectDir(repository, values.dir, cwd);
    await checkProjectDirAtCommit(repository, commit, projectDir);
    return { projectDir };
  }
  const settings = environmentConfig(config, environment, '--env');
  const files = await filesAtCommit(repository, commit);
  let selection: Selection;
  let base: string | undefined;
  // What selected them, for an error that names it.
  let field: string;
  if (values.all === true) {
    selection = { kind: 'all' };
    field = '--all';
  } else if (names.length > 0) {
    selection = { kind: 'projects', names };
    field = '--project';
  } else if (values.dir !== undefined) {
    selection = { kind: 'dir', dir: await resolveProjectDir(repository, values.dir, cwd) };
    field = '--dir';
  } else {
    field = '--base';
    base = await resolveBase(repository, commit, values.base);
    const resolved = config.projects.map((project) => resolveProject(config, project, environment));
    selection = {
      kind: 'changed',
      affected: await affectedAtCommit(repository, resolved, base, commit, files),
    };
  }
  const selected = selectProjects(config, selection);
  if (selected.length === 0) {
    return {
      nothing: `no project of ${CONFIG_FILE} is affected by the changes since ${(base ?? '').slice(0, 12)} (name them with --project, or --all)`,
      base: base ?? '',
    };
  }
  return {
    ...runProjectsFor(config, environment, selected, new Set(files), field),
    environmentConfig: settings,
  };
}
