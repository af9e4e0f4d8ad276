import { describe, expect, it } from '@jest/globals';
import { MAX_RUN_PROJECTS } from '../contracts/workflow-input.ts';
import { InvalidInput } from '../errors.ts';
import { runProjectsFor } from './run-projects.ts';
import { parseConfig } from './stepform-config.ts';

/** stepform.yaml with `count` projects p1…pN (every second one after the one before it). */
function repository(count: number) {
  const names = Array.from({ length: count }, (_, i) => `p${i + 1}`);
  const config = parseConfig(
    [
      'version: 1',
      'environments:',
      '  dev: {}',
      'projects:',
      ...names.flatMap((name, i) => [
        `  - name: ${name}`,
        `    dir: infra/${name}`,
        ...(i % 2 === 1 ? [`    depends_on: [p${i}]`] : []),
      ]),
    ].join('\n'),
  );
  const files = new Set(names.map((name) => `infra/${name}/main.tf`));
  return { config, files };
}

describe('runProjectsFor', () => {
  it(`covers up to ${MAX_RUN_PROJECTS} projects, in layers, in the folder they share`, () => {
    const { config, files } = repository(MAX_RUN_PROJECTS);
    const run = runProjectsFor(config, 'dev', config.projects, files);
    expect(run.projects).toHaveLength(MAX_RUN_PROJECTS);
    expect(run.projectDir).toBe('infra');
    expect(run.projects.filter((p) => p.layer === 1).map((p) => p.name)).toContain('p2');
  });

  it('refuses more than one run covers, naming what selected them and the limit', () => {
    const { config, files } = repository(MAX_RUN_PROJECTS + 2);
    const refuse = (field?: string) => () =>
      runProjectsFor(config, 'dev', config.projects, files, field);
    expect(refuse('--all')).toThrow(InvalidInput);
    expect(refuse('--all')).toThrow(
      `--all: selects ${MAX_RUN_PROJECTS + 2} projects, and one run covers at most ${MAX_RUN_PROJECTS}`,
    );
    expect(refuse()).toThrow(/^projects: selects 27 projects/);
  });
});
