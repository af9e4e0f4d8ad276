import { describe, expect, it } from '@jest/globals';
import { layersOf, selectProjects } from './layers.ts';
import { parseConfig } from './stepform-config.ts';

const CONFIG = parseConfig(`
version: 1
projects:
  - { name: app, dir: infra/app, depends_on: [network, dns] }
  - { name: network, dir: infra/network, depends_on: [base] }
  - { name: dns, dir: infra/dns }
  - { name: base, dir: infra/base }
  - { name: docs, dir: docs }
`);

const names = (layers: ReturnType<typeof layersOf>) => layers.map((l) => l.map((p) => p.name));

describe('layersOf', () => {
  it('runs every project after the projects it depends on, in the file’s order within a layer', () => {
    const layers = layersOf(CONFIG, CONFIG.projects);
    expect(names(layers)).toEqual([['dns', 'base', 'docs'], ['network'], ['app']]);
    expect(layers[2]).toEqual([{ name: 'app', layer: 2 }]);
  });

  it('follows dependencies through projects the run does not cover', () => {
    const selected = selectProjects(CONFIG, { kind: 'projects', names: ['app', 'base'] });
    expect(names(layersOf(CONFIG, selected))).toEqual([['base'], ['app']]);
  });

  it('puts independent projects in one layer', () => {
    const selected = selectProjects(CONFIG, { kind: 'projects', names: ['docs', 'app'] });
    expect(names(layersOf(CONFIG, selected))).toEqual([['app', 'docs']]);
  });
});

describe('selectProjects', () => {
  it('selects all, by name, by dir, or what a change affects', () => {
    expect(selectProjects(CONFIG, { kind: 'all' })).toHaveLength(5);
    expect(selectProjects(CONFIG, { kind: 'dir', dir: 'infra/dns' }).map((p) => p.name)).toEqual([
      'dns',
    ]);
    const affected = [
      { name: 'dns', dir: 'infra/dns', affected: true, reasons: [] },
      { name: 'docs', dir: 'docs', affected: false, reasons: [] },
    ];
    expect(selectProjects(CONFIG, { kind: 'changed', affected }).map((p) => p.name)).toEqual([
      'dns',
    ]);
  });

  it('refuses a name or dir the file does not have, naming the flag', () => {
    expect(() => selectProjects(CONFIG, { kind: 'projects', names: ['api'] })).toThrow(
      '--project: "api" is not a project of stepform.yaml (app, network, dns, base, docs)',
    );
    expect(() => selectProjects(CONFIG, { kind: 'dir', dir: 'infra', field: 'project' })).toThrow(
      'project: infra is the dir of no project in stepform.yaml',
    );
  });
});
