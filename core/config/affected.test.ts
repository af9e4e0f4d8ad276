import { describe, expect, it } from '@jest/globals';
import { affectedProjects, localModuleSources, modulesCalledBy } from './affected.ts';
import { parseConfig, resolveProject } from './stepform-config.ts';

const NETWORK_TF = `
module "vpc" {
  source = "../../modules/vpc"
  cidr   = var.cidr
}
`;
const APP_TF = `
module "service" {
  source = "../../modules/service"
}
# module "old" { source = "../../modules/old" }
/* module "older" {
  source = "../../modules/older"
} */
module "registry" {
  source  = "terraform-aws-modules/vpc/aws" // not local
}
module "git" {
  source = "git::https://example.com/x.git//sub?ref=v1"
}
terraform {
  required_providers {
    null = { source = "hashicorp/null" }
  }
}
`;
const SERVICE_TF = 'module "labels" {\n  source = "../labels"\n}\n';

const TF_FILES = new Map([
  ['infra/network/main.tf', NETWORK_TF],
  ['infra/app/main.tf', APP_TF],
  ['modules/vpc/main.tf', 'resource "terraform_data" "vpc" {}\n'],
  ['modules/service/main.tf', SERVICE_TF],
  ['modules/labels/main.tf', 'output "tags" { value = {} }\n'],
  ['modules/old/main.tf', ''],
]);

const CONFIG = parseConfig(`
version: 1
projects:
  - { name: network, dir: infra/network }
  - { name: app, dir: infra/app, depends_on: [network] }
  - { name: docs, dir: docs, when_modified: ["**/*.md", "../README.md"] }
`);
const PROJECTS = CONFIG.projects.map((p) => resolveProject(CONFIG, p, 'dev'));

function affected(changed: string[]) {
  return Object.fromEntries(
    affectedProjects(PROJECTS, changed, TF_FILES).map((p) => [p.name, p.reasons]),
  );
}

describe('localModuleSources', () => {
  it('finds local sources only, ignoring comments, registry, git and provider sources', () => {
    expect(localModuleSources(APP_TF)).toEqual(['../../modules/service']);
    expect(localModuleSources('module "a" { source = "./child" }')).toEqual(['./child']);
    expect(localModuleSources('x = "a // b"\nmodule "m" { source = "../m" }')).toEqual(['../m']);
  });
});

describe('modulesCalledBy', () => {
  it('follows calls from module to module, relative to each caller', () => {
    expect(modulesCalledBy('infra/app', TF_FILES)).toEqual(['modules/labels', 'modules/service']);
    expect(modulesCalledBy('infra/network', TF_FILES)).toEqual(['modules/vpc']);
  });

  it('ends on a module that calls its caller back', () => {
    const loop = new Map([
      ['a/main.tf', 'module "b" { source = "../b" }'],
      ['b/main.tf', 'module "a" { source = "../a" }'],
    ]);
    expect(modulesCalledBy('a', loop)).toEqual(['b']);
  });

  it('never follows a source out of the repository', () => {
    const out = new Map([['main.tf', 'module "x" { source = "../outside" }']]);
    expect(modulesCalledBy('.', out)).toEqual([]);
  });
});

describe('affectedProjects', () => {
  it('affects the project whose files changed, with the pattern that matched', () => {
    expect(affected(['infra/app/main.tf'])).toEqual({
      network: [],
      app: [{ file: 'infra/app/main.tf', via: 'when_modified', pattern: '**/*.tf' }],
      docs: [],
    });
  });

  it('affects exactly the callers of a changed module, transitively', () => {
    expect(affected(['modules/labels/main.tf'])).toEqual({
      network: [],
      app: [{ file: 'modules/labels/main.tf', via: 'module', module: 'modules/labels' }],
      docs: [],
    });
    expect(affected(['modules/vpc/variables.tf']).network).toEqual([
      { file: 'modules/vpc/variables.tf', via: 'module', module: 'modules/vpc' },
    ]);
  });

  it('affects nothing for a module nobody calls any more, or a file no rule matches', () => {
    const result = affectedProjects(
      PROJECTS,
      ['modules/old/main.tf', 'infra/app/notes.txt'],
      TF_FILES,
    );
    expect(result.every((p) => !p.affected)).toBe(true);
  });

  it('matches globs relative to the dir, ../ included, and dot files', () => {
    expect(affected(['README.md']).docs).toEqual([
      { file: 'README.md', via: 'when_modified', pattern: '../README.md' },
    ]);
    expect(affected(['infra/app/.terraform.lock.hcl']).app).toEqual([
      {
        file: 'infra/app/.terraform.lock.hcl',
        via: 'when_modified',
        pattern: '.terraform.lock.hcl',
      },
    ]);
    // A sibling project's file is not this project's, though it matches **/*.tf from there.
    expect(affected(['infra/network/main.tf']).app).toEqual([]);
  });
});
