// projects [--env ENV] [--base REF] [--commit SHA]: every project of stepform.yaml at the
// commit, its layer, and whether the change since the base affects it, and why (the file, and
// the pattern or the local module that makes it so).
import type { AffectReason } from '../../core/config/affected.ts';
import { layersOf } from '../../core/config/layers.ts';
import {
  CONFIG_FILE,
  checkProjectAtCommit,
  environmentConfig,
  resolveProject,
} from '../../core/config/stepform-config.ts';
import { ENVIRONMENT_NAME } from '../../core/contracts/job-input.ts';
import { parseInput } from '../../core/validation.ts';
import { resolveCommit, resolveRepository } from './context.ts';
import type { Io } from './io.ts';
import type { CliValues } from './main.ts';
import {
  affectedAtCommit,
  configAtCommit,
  filesAtCommit,
  resolveBase,
} from '../../adapters/git/repository-at-commit.ts';

/** Without --env, paths keep their placeholder: they differ per environment. */
const ANY_ENVIRONMENT = '${env}';

function reasonText(reason: AffectReason): string {
  return reason.via === 'module'
    ? `${reason.file} (in module ${reason.module})`
    : `${reason.file} (${reason.pattern})`;
}

export async function projectsVerb(values: CliValues, io: Io): Promise<number> {
  const repository = await resolveRepository(values.repo, io.cwd);
  const commit = await resolveCommit(repository, values.commit);
  const environment =
    values.env === undefined ? undefined : parseInput(ENVIRONMENT_NAME, values.env, '--env');
  const config = await configAtCommit(repository, commit);
  if (config === undefined) {
    io.out(
      values.json === true
        ? `${JSON.stringify({ commit, config: null, projects: [] }, null, 2)}\n`
        : `no ${CONFIG_FILE} at ${commit.slice(0, 12)}: a run is one project, the folder --dir names\n`,
    );
    return 0;
  }
  if (environment !== undefined) environmentConfig(config, environment, '--env');
  const base = await resolveBase(repository, commit, values.base);
  const files = await filesAtCommit(repository, commit);
  const resolved = config.projects.map((project) =>
    resolveProject(config, project, environment ?? ANY_ENVIRONMENT),
  );
  if (environment !== undefined) {
    const present = new Set(files);
    for (const project of resolved) checkProjectAtCommit(config, project, present);
  }
  const affected = await affectedAtCommit(repository, resolved, base, commit, files);
  const layerOf = new Map(
    layersOf(config, config.projects)
      .flat()
      .map((p) => [p.name, p.layer]),
  );
  const projects = resolved
    .map((project, i) => ({
      name: project.name,
      dir: project.dir,
      layer: layerOf.get(project.name) ?? 0,
      dependsOn: project.dependsOn,
      workspace: project.workspace ?? null,
      varFiles: project.varFiles,
      affected: affected[i]?.affected ?? false,
      reasons: affected[i]?.reasons ?? [],
    }))
    .sort((a, b) => a.layer - b.layer);
  if (values.json === true) {
    io.out(
      `${JSON.stringify({ commit, base, environment: environment ?? null, projects }, null, 2)}\n`,
    );
    return 0;
  }
  io.out(
    `${projects.length} project(s) in ${CONFIG_FILE} at ${commit.slice(0, 12)}; changes since ${base.slice(0, 12)}${environment === undefined ? '' : `; environment ${environment}`}\n`,
  );
  const width = Math.max(...projects.map((p) => p.name.length));
  for (const project of projects) {
    const [first] = project.reasons;
    const why = first === undefined ? 'not affected' : `affected by ${reasonText(first)}`;
    const more =
      project.reasons.length > 1 ? ` and ${project.reasons.length - 1} more file(s)` : '';
    io.out(
      `  layer ${project.layer}  ${project.name.padEnd(width)}  ${project.dir}  ${why}${more}\n`,
    );
  }
  return 0;
}
