// stepform projects on the golden monorepo (test/golden/monorepo), through the real CLI and
// real git: every project with its layer, and exactly the projects a change affects, with
// the file and the rule or module that says so; a bad stepform.yaml is exit 2 naming the key.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cliEnv, parseJson, startCli } from '../support/cli.ts';
import { type GoldenRepo, goldenRepo } from '../support/golden.ts';
import type { TestRepo } from '../support/repo.ts';

interface ProjectsJson {
  commit: string;
  base: string;
  environment: string | null;
  projects: {
    name: string;
    dir: string;
    layer: number;
    workspace: string | null;
    varFiles: string[];
    affected: boolean;
    reasons: { file: string; via: string; pattern?: string; module?: string }[];
  }[];
}

let repo: TestRepo;
let main: string;
const env = cliEnv();

async function projects(args: readonly string[] = []) {
  const result = await startCli(['projects', '--json', ...args], { cwd: repo.dir, env }).done;
  return {
    ...result,
    json: result.exitCode === 0 ? (parseJson(result) as ProjectsJson) : undefined,
  };
}

let golden: GoldenRepo;
const git = (args: readonly string[]) => golden.git(args);
const onBranch: GoldenRepo['onBranch'] = (name, files, check) =>
  golden.onBranch(name, files, check);

beforeAll(async () => {
  golden = await goldenRepo('monorepo');
  ({ repo, main } = golden);
});

afterAll(async () => {
  await golden.remove();
});

describe('stepform projects on the golden monorepo', () => {
  it('lists every project in layer order with its var files per environment', async () => {
    const { exitCode: code, json } = await projects(['--env', 'prod']);
    expect(code).toBe(0);
    expect(json?.commit).toBe(main);
    // On main itself the merge base is main: nothing changed.
    expect(json?.base).toBe(main);
    expect(json?.projects.map((p) => [p.name, p.layer, p.varFiles, p.affected])).toEqual([
      ['network', 0, ['infra/network/envs/prod.tfvars'], false],
      ['dns', 0, ['infra/dns/envs/prod.tfvars'], false],
      ['app', 1, ['infra/app/envs/prod.tfvars'], false],
    ]);
  });

  it('affects only app for a change to app', async () => {
    await onBranch(
      'app-only',
      { 'infra/app/envs/dev.tfvars': 'environment = "dev"\nreplicas = 2\n' },
      async () => {
        const { json } = await projects();
        expect(json?.base).toBe(main);
        expect(json?.projects.map((p) => [p.name, p.affected])).toEqual([
          ['network', false],
          ['dns', false],
          ['app', true],
        ]);
        expect(json?.projects[2]?.reasons).toEqual([
          { file: 'infra/app/envs/dev.tfvars', via: 'when_modified', pattern: '**/*.tfvars' },
        ]);
      },
    );
  });

  it('affects exactly the callers of the shared module when it changes', async () => {
    await onBranch(
      'labels',
      { 'modules/labels/extra.tf': 'output "owner" {\n  value = "platform"\n}\n' },
      async () => {
        const { json } = await projects();
        const callers = json?.projects.filter((p) => p.affected).map((p) => p.name);
        expect(callers).toEqual(['network', 'app']);
        for (const project of json?.projects ?? []) {
          expect(project.reasons).toEqual(
            project.name === 'dns'
              ? []
              : [{ file: 'modules/labels/extra.tf', via: 'module', module: 'modules/labels' }],
          );
        }
        // And the text form says why, in one line per project.
        const text = await startCli(['projects'], { cwd: repo.dir, env }).done;
        expect(text.stdout).toMatch(
          /layer 0 {2}network {2}infra\/network {2}affected by modules\/labels\/extra\.tf \(in module modules\/labels\)/,
        );
      },
    );
  });

  it('measures from --base when given', async () => {
    await onBranch('two-commits', { 'infra/network/main.tf.bak': 'x' }, async () => {
      const first = await git(['rev-parse', 'HEAD']);
      await repo.commitFiles({
        'infra/network/envs/dev.tfvars': 'environment = "dev"\ncidr = "10.9.0.0/16"\n',
      });
      const { json } = await projects(['--base', first]);
      expect(json?.base).toBe(first);
      expect(json?.projects.filter((p) => p.affected).map((p) => p.name)).toEqual(['network']);
    });
  });

  it.each([
    [
      'an environment stepform.yaml does not declare',
      ['--env', 'staging'],
      {},
      /--env: "staging" is not an environment of stepform\.yaml \(dev, prod\)/,
    ],
    [
      'a var file missing at the commit',
      ['--env', 'prod'],
      { 'infra/app/envs/prod.tfvars': null },
      /stepform\.yaml\.defaults\.var_files\.0: infra\/app\/envs\/prod\.tfvars does not exist at the commit/,
    ],
    [
      'a dependency cycle',
      [],
      {
        'stepform.yaml':
          'version: 1\nprojects:\n  - { name: a, dir: infra/app, depends_on: [b] }\n  - { name: b, dir: infra/network, depends_on: [a] }\n',
      },
      /stepform\.yaml\.projects\.0\.depends_on: form a cycle: a → b → a/,
    ],
    [
      'an unknown key',
      [],
      { 'stepform.yaml': 'version: 1\nproject: []\n' },
      /stepform\.yaml: Unrecognized key: "project"/,
    ],
    [
      'a base that is not a commit',
      ['--base', 'no-such-ref'],
      {},
      /--base: no-such-ref is not a commit/,
    ],
  ])('refuses %s: exit 2 naming it', async (_what, args, files, message) => {
    await git(['checkout', '--quiet', '-b', `bad-${String(Math.random()).slice(2, 8)}`, main]);
    try {
      for (const [path, content] of Object.entries(files)) {
        if (content === null) await git(['rm', '--quiet', path]);
      }
      const written = Object.entries(files).filter((e): e is [string, string] => e[1] !== null);
      await repo.commitFiles(Object.fromEntries(written), 'break it');
      const { exitCode: code, stderr, stdout } = await projects(args);
      expect(code).toBe(2);
      expect(stderr).toMatch(message);
      expect(JSON.parse(stdout)).toMatchObject({ error: { name: 'InvalidInput' } });
    } finally {
      await git(['checkout', '--quiet', '--force', 'main']);
    }
  });

  it('says a repository without stepform.yaml is one project at --dir', async () => {
    await git(['checkout', '--quiet', '-b', 'no-config', main]);
    try {
      await git(['rm', '--quiet', 'stepform.yaml']);
      await repo.commitFiles({}, 'no config');
      const { exitCode: code, json } = await projects();
      expect(code).toBe(0);
      expect(json?.projects).toEqual([]);
    } finally {
      await git(['checkout', '--quiet', 'main']);
    }
  });
});
