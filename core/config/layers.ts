// Which projects a run covers, and in what order: the selection (named projects, all, one
// dir, or what a change affects) and its layers. A project's layer comes after the layers of
// every project it depends on, directly or through projects the run does not cover; the
// projects of one layer run in parallel. Pure.
import { InvalidInput } from '../errors.ts';
import type { AffectedProject } from './affected.ts';
import type { ProjectConfig, StepformConfig } from './stepform-config.ts';

export type Selection =
  | { readonly kind: 'all' }
  | { readonly kind: 'projects'; readonly names: readonly string[]; readonly field?: string }
  | { readonly kind: 'dir'; readonly dir: string; readonly field?: string }
  | { readonly kind: 'changed'; readonly affected: readonly AffectedProject[] };

/** The projects a selection covers, in the file's order; InvalidInput for a name or dir it lacks. */
export function selectProjects(config: StepformConfig, selection: Selection): ProjectConfig[] {
  switch (selection.kind) {
    case 'all':
      return [...config.projects];
    case 'projects': {
      const field = selection.field ?? '--project';
      const known = new Set(config.projects.map((p) => p.name));
      for (const name of selection.names) {
        if (!known.has(name)) {
          throw new InvalidInput(
            field,
            `"${name}" is not a project of stepform.yaml (${[...known].join(', ')})`,
          );
        }
      }
      return config.projects.filter((p) => selection.names.includes(p.name));
    }
    case 'dir': {
      const found = config.projects.filter((p) => p.dir === selection.dir);
      if (found.length === 0) {
        throw new InvalidInput(
          selection.field ?? '--dir',
          `${selection.dir} is the dir of no project in stepform.yaml`,
        );
      }
      return found;
    }
    case 'changed': {
      const affected = new Set(selection.affected.filter((a) => a.affected).map((a) => a.name));
      return config.projects.filter((p) => affected.has(p.name));
    }
  }
}

export interface LayeredProject {
  readonly name: string;
  /** 0 for projects that wait for none of the run's others. */
  readonly layer: number;
}

/**
 * The selected projects grouped in layers, in execution order (within a layer, the file's
 * order). Dependencies are followed through projects outside the selection, so that `app`
 * still waits for `base` when `app → network → base` and only app and base run.
 */
export function layersOf(
  config: StepformConfig,
  selected: readonly Pick<ProjectConfig, 'name'>[],
): LayeredProject[][] {
  const byName = new Map(config.projects.map((p) => [p.name, p]));
  const chosen = new Set(selected.map((p) => p.name));
  const layer = new Map<string, number>();
  // parseConfig refused cycles, so the recursion ends.
  const layerOf = (name: string): number => {
    const known = layer.get(name);
    if (known !== undefined) return known;
    let own = 0;
    for (const dependency of byName.get(name)?.depends_on ?? []) {
      const below = layerOf(dependency);
      own = Math.max(own, chosen.has(dependency) ? below + 1 : below);
    }
    layer.set(name, own);
    return own;
  };
  const layers: LayeredProject[][] = [];
  for (const project of config.projects) {
    if (!chosen.has(project.name)) continue;
    const at = layerOf(project.name);
    (layers[at] ??= []).push({ name: project.name, layer: at });
  }
  // A layer is empty when only unselected projects sat there: close the gaps.
  return layers
    .filter((group) => group.length > 0)
    .map((group, index) => group.map((project) => ({ ...project, layer: index })));
}
