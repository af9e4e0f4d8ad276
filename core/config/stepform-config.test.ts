import { describe, expect, it } from '@jest/globals';
import { InvalidInput } from '../errors.ts';
import {
  DEFAULT_MAX_PARALLEL,
  DEFAULT_WHEN_MODIFIED,
  checkProjectAtCommit,
  driftEnvironments,
  environmentConfig,
  findCycle,
  parseConfig,
  resolveProject,
} from './stepform-config.ts';

/** DESIGN.md's example, whole. */
const DESIGN_EXAMPLE = `
version: 1
defaults:
  var_files: ["envs/\${env}.tfvars"]
  when_modified: ["**/*.tf", "**/*.tfvars", "**/*.tofu", ".terraform.lock.hcl"]
environments:
  dev: {}
  prod:
    approval: { required: true, approvers: [alice, bob], timeout: 2h }
    protected: true
  preview:
    ephemeral: { default_ttl: 4h, max_ttl: 2d }
projects:
  - name: network
    dir: infra/network
  - name: app
    dir: infra/app
    depends_on: [network]
    workspace: "\${env}"
    var_files: ["common.tfvars", "envs/\${env}.tfvars"]
policies:
  - name: guardrails
    path: policy/
    on_failure: block
    owners: [alice]
after_apply:
  - dispatch: { repository: acme/app, event_type: infra-applied }
`;

/** The InvalidInput a parse throws: its field and message. */
function refusal(text: string): { field: string; message: string } {
  try {
    parseConfig(text);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInput);
    const { field, message } = error as InvalidInput;
    return { field, message };
  }
  throw new Error('parsed');
}

const minimal = (projects: string) => `version: 1\nprojects:\n${projects}`;

describe('parseConfig', () => {
  it('reads DESIGN.md’s example with every key', () => {
    const config = parseConfig(DESIGN_EXAMPLE);
    expect(config.projects.map((p) => [p.name, p.dir, p.depends_on])).toEqual([
      ['network', 'infra/network', []],
      ['app', 'infra/app', ['network']],
    ]);
    expect(config.environments?.prod).toEqual({
      approval: { required: true, approvers: ['alice', 'bob'], timeout: '2h' },
      protected: true,
    });
    expect(config.environments?.preview?.ephemeral).toEqual({ default_ttl: '4h', max_ttl: '2d' });
    expect(config.policies[0]).toEqual({
      name: 'guardrails',
      // A folder of the repository, written without its trailing slash.
      path: 'policy',
      on_failure: 'block',
      owners: ['alice'],
    });
    expect(config.after_apply).toEqual([
      { dispatch: { repository: 'acme/app', event_type: 'infra-applied' } },
    ]);
    expect(config.max_parallel).toBe(DEFAULT_MAX_PARALLEL);
  });

  it('fills the defaults of a minimal file', () => {
    const config = parseConfig(minimal('  - { name: app, dir: . }'));
    expect(config.defaults).toEqual({ var_files: [], when_modified: [...DEFAULT_WHEN_MODIFIED] });
    expect(config.environments).toBeUndefined();
    expect(config.projects[0]).toEqual({ name: 'app', dir: '.', depends_on: [] });
  });

  it.each([
    [
      'an unknown top-level key',
      `${minimal('  - { name: a, dir: a }')}\nprojets: []`,
      'stepform.yaml',
      /projets/,
    ],
    [
      'an unknown project key',
      minimal('  - { name: a, dir: a, folder: b }'),
      'stepform.yaml.projects.0',
      /folder/,
    ],
    ['a missing version', 'projects:\n  - { name: a, dir: a }', 'stepform.yaml.version', /1/],
    [
      'version 2',
      'version: 2\nprojects:\n  - { name: a, dir: a }',
      'stepform.yaml.version',
      /must be 1/,
    ],
    ['no project', 'version: 1\nprojects: []', 'stepform.yaml.projects', /at least one/],
    [
      'a dir outside the repository',
      minimal('  - { name: a, dir: ../elsewhere }'),
      'stepform.yaml.projects.0.dir',
      /inside the repository/,
    ],
    [
      'an absolute dir',
      minimal('  - { name: a, dir: /etc }'),
      'stepform.yaml.projects.0.dir',
      /inside the repository/,
    ],
    [
      'an unknown dependency',
      minimal('  - { name: a, dir: a, depends_on: [b] }'),
      'stepform.yaml.projects.0.depends_on.0',
      /names no project: "b"/,
    ],
    [
      'a project depending on itself',
      minimal('  - { name: a, dir: a, depends_on: [a] }'),
      'stepform.yaml.projects.0.depends_on.0',
      /depends on itself/,
    ],
    [
      'a name listed twice',
      minimal('  - { name: a, dir: a }\n  - { name: a, dir: b }'),
      'stepform.yaml.projects.1.name',
      /listed twice/,
    ],
    [
      'another placeholder',
      minimal('  - { name: a, dir: a, var_files: ["${region}.tfvars"] }'),
      'stepform.yaml.projects.0.var_files.0',
      /\$\{env\}/,
    ],
    [
      'a workspace with a space',
      minimal('  - { name: a, dir: a, workspace: "my ws" }'),
      'stepform.yaml.projects.0.workspace',
      /letters/,
    ],
    [
      'a bad environment name',
      `${minimal('  - { name: a, dir: a }')}\nenvironments:\n  Prod: {}`,
      'stepform.yaml.environments.Prod',
      /a-z/,
    ],
    [
      'a bad duration',
      `${minimal('  - { name: a, dir: a }')}\nenvironments:\n  pr:\n    ephemeral: { max_ttl: forever }`,
      'stepform.yaml.environments.pr.ephemeral.max_ttl',
      /duration/,
    ],
    [
      'a bad dispatch repository',
      `${minimal('  - { name: a, dir: a }')}\nafter_apply:\n  - dispatch: { repository: app, event_type: x }`,
      'stepform.yaml.after_apply.0.dispatch.repository',
      /owner\/name/,
    ],
    [
      'a policy folder outside the repository',
      `${minimal('  - { name: a, dir: a }')}\npolicies:\n  - { name: p, path: ../policy }`,
      'stepform.yaml.policies.0.path',
      /inside the repository/,
    ],
    [
      'a policy namespace that is no Rego package',
      `${minimal('  - { name: a, dir: a }')}\npolicies:\n  - { name: p, path: policy, namespaces: [1bad] }`,
      'stepform.yaml.policies.0.namespaces.0',
      /Rego package/,
    ],
    [
      'a drift schedule that is not recurring',
      `${minimal('  - { name: a, dir: a }')}\nenvironments: { dev: {} }\ndrift: { schedule: "at(2026-01-01T00:00:00)" }`,
      'stepform.yaml.drift.schedule',
      /not a recurring schedule/,
    ],
    [
      'a drift cron using L',
      `${minimal('  - { name: a, dir: a }')}\nenvironments: { dev: {} }\ndrift: { schedule: "cron(0 6 L * ? *)" }`,
      'stepform.yaml.drift.schedule',
      /L, W or #/,
    ],
    [
      'a drift environment the file does not declare',
      `${minimal('  - { name: a, dir: a }')}\nenvironments: { dev: {} }\ndrift: { schedule: rate(6 hours), environments: [dev, prod] }`,
      'stepform.yaml.drift.environments.1',
      /"prod" is not an environment/,
    ],
    [
      'a drift schedule with no environments to check',
      `${minimal('  - { name: a, dir: a }')}\ndrift: { schedule: rate(6 hours) }`,
      'stepform.yaml.drift.environments',
      /must list the environments/,
    ],
    [
      'an unknown drift key',
      `${minimal('  - { name: a, dir: a }')}\nenvironments: { dev: {} }\ndrift: { schedule: rate(6 hours), every: 6h }`,
      'stepform.yaml.drift',
      /every/,
    ],
    [
      'max_parallel 0',
      `${minimal('  - { name: a, dir: a }')}\nmax_parallel: 0`,
      'stepform.yaml.max_parallel',
      /1/,
    ],
  ])('refuses %s, naming the key', (_what, text, field, message) => {
    const error = refusal(text);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
  });

  it('reads a drift schedule, checking every declared environment unless it names some', () => {
    const base = `${minimal('  - { name: a, dir: a }')}\nenvironments: { dev: {}, prod: {} }`;

    const every = parseConfig(`${base}\ndrift: { schedule: "cron(0 6 * * ? *)" }`);
    const some = parseConfig(`${base}\ndrift: { schedule: rate(6 hours), environments: [prod] }`);
    const none = parseConfig(base);

    expect(every.drift).toEqual({ schedule: 'cron(0 6 * * ? *)' });
    expect(driftEnvironments(every)).toEqual(['dev', 'prod']);
    expect(driftEnvironments(some)).toEqual(['prod']);
    expect(none.drift).toBeUndefined();
  });

  it('refuses a dependency cycle, naming its projects in order', () => {
    const error = refusal(
      minimal(
        '  - { name: a, dir: a, depends_on: [c] }\n  - { name: b, dir: b, depends_on: [a] }\n  - { name: c, dir: c, depends_on: [b] }',
      ),
    );
    expect(error.field).toBe('stepform.yaml.projects.0.depends_on');
    expect(error.message).toMatch(/cycle: a → c → b → a/);
  });

  it('refuses YAML that is not valid, or repeats a key, with the line', () => {
    expect(refusal('version: 1\nprojects: [\n').field).toMatch(/^stepform\.yaml(:\d+)?$/);
    const repeated = refusal('version: 1\nversion: 1\nprojects:\n  - { name: a, dir: a }');
    expect(repeated.field).toBe('stepform.yaml:2');
    expect(repeated.message).toMatch(/not valid YAML/);
  });
});

describe('findCycle', () => {
  it('is undefined for a graph without one (a diamond)', () => {
    expect(
      findCycle([
        { name: 'a', depends_on: [] },
        { name: 'b', depends_on: ['a'] },
        { name: 'c', depends_on: ['a'] },
        { name: 'd', depends_on: ['b', 'c'] },
      ]),
    ).toBeUndefined();
  });
});

describe('resolveProject', () => {
  const config = parseConfig(DESIGN_EXAMPLE);
  const [network, app] = config.projects as [
    (typeof config.projects)[number],
    (typeof config.projects)[number],
  ];

  it('fills ${env} and makes var files relative to the repository root', () => {
    expect(resolveProject(config, app, 'prod')).toEqual({
      name: 'app',
      dir: 'infra/app',
      dependsOn: ['network'],
      workspace: 'prod',
      varFiles: ['infra/app/common.tfvars', 'infra/app/envs/prod.tfvars'],
      whenModified: [...DEFAULT_WHEN_MODIFIED],
    });
  });

  it('uses the defaults where the project says nothing (no workspace: the default one)', () => {
    expect(resolveProject(config, network, 'dev')).toEqual({
      name: 'network',
      dir: 'infra/network',
      dependsOn: [],
      varFiles: ['infra/network/envs/dev.tfvars'],
      whenModified: [...DEFAULT_WHEN_MODIFIED],
    });
  });

  it('lets ../ leave the dir, never the repository', () => {
    const shared = parseConfig(
      minimal('  - { name: a, dir: infra/a, var_files: ["../../shared/${env}.tfvars"] }'),
    );
    expect(resolveProject(shared, shared.projects[0]!, 'dev').varFiles).toEqual([
      'shared/dev.tfvars',
    ]);
    const escaping = parseConfig(minimal('  - { name: a, dir: a, var_files: ["../../x.tfvars"] }'));
    expect(() => resolveProject(escaping, escaping.projects[0]!, 'dev')).toThrow(
      'stepform.yaml.projects.0.var_files.0: ../../x.tfvars is outside the repository',
    );
  });
});

describe('checkProjectAtCommit', () => {
  const config = parseConfig(DESIGN_EXAMPLE);
  const files = new Set([
    'infra/network/main.tf',
    'infra/network/envs/dev.tfvars',
    'infra/app/main.tf',
    'infra/app/common.tfvars',
    'infra/app/envs/dev.tfvars',
  ]);

  it('passes when the dir and every var file are there', () => {
    for (const project of config.projects) {
      expect(() => {
        checkProjectAtCommit(config, resolveProject(config, project, 'dev'), files);
      }).not.toThrow();
    }
  });

  it('names the list a missing var file comes from: the project’s own, or the defaults’', () => {
    const [network, app] = config.projects;
    expect(() => {
      checkProjectAtCommit(config, resolveProject(config, app!, 'prod'), files);
    }).toThrow('stepform.yaml.projects.1.var_files.1: infra/app/envs/prod.tfvars does not exist');
    expect(() => {
      checkProjectAtCommit(config, resolveProject(config, network!, 'prod'), files);
    }).toThrow('stepform.yaml.defaults.var_files.0: infra/network/envs/prod.tfvars does not exist');
  });

  it('refuses a dir with no file at the commit', () => {
    const gone = new Set([...files].filter((f) => !f.startsWith('infra/network/')));
    expect(() => {
      checkProjectAtCommit(config, resolveProject(config, config.projects[0]!, 'dev'), gone);
    }).toThrow('stepform.yaml.projects.0.dir: infra/network is not a folder of the commit');
  });
});

describe('environmentConfig', () => {
  it('refuses an environment the file does not declare, naming the flag', () => {
    const config = parseConfig(DESIGN_EXAMPLE);
    expect(environmentConfig(config, 'prod').protected).toBe(true);
    expect(environmentConfig(config, 'dev')).toEqual({ protected: false });
    expect(() => environmentConfig(config, 'staging', '--env')).toThrow(
      '--env: "staging" is not an environment of stepform.yaml (dev, prod, preview)',
    );
  });

  it('lets any environment run when the file declares none', () => {
    const config = parseConfig(minimal('  - { name: a, dir: a }'));
    expect(environmentConfig(config, 'anything')).toEqual({ protected: false });
  });
});
