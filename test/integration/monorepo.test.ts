// The CLI's run verbs on the golden monorepo (test/golden/monorepo: network → app, dns beside
// them, a var file per environment, the shared module modules/labels), with real Terraform and
// real git: which projects a run covers (--all, --project, --dir, or what the change since the
// base affects), each planned in its layer with its environment's values, one failure failing
// the run with the others reported, and selection mistakes refused before anything runs.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stateKey } from '../../core/contracts/job-input.ts';
import { STATUS_EVENT } from '../../core/contracts/status-event.ts';
import {
  type CliResult,
  type RunningCli,
  cliEnv,
  expectExitZero,
  parseJson,
  startCli,
  waitFor,
} from '../support/cli.ts';
import { openLocalStores } from '../../local/engine/store/local-stores.ts';
import { type GoldenRepo, goldenRepo } from '../support/golden.ts';
import type { TestRepo } from '../support/repo.ts';

interface ProjectJson {
  name: string;
  dir: string;
  layer: number;
  workspace: string | null;
  status: string;
  summary: { add: number; change: number; destroy: number } | null;
  outputs: Record<string, { sensitive: boolean; value: unknown }>;
  startedAt: string | null;
  finishedAt: string | null;
  error?: { name: string; message: string };
}

interface RunJson {
  runId: string | null;
  workflow: string;
  status: string;
  environment: string;
  commit: string;
  projectDir?: string;
  projects: ProjectJson[];
  outputs?: Record<string, { sensitive: boolean; value: unknown }>;
  summary?: { add: number; change: number; destroy: number } | null;
  dispatches?: { repository: string; eventType: string; status: string; error?: string }[];
  phase?: string | null;
  error?: { name: string; message: string };
  message?: string;
}

let repo: TestRepo;
const env = cliEnv();

async function cli(args: readonly string[]): Promise<CliResult & { json?: RunJson }> {
  const result = await startCli([...args, '--json'], { cwd: repo.dir, env }).done;
  const json = result.stdout.trim().startsWith('{') ? (parseJson(result) as RunJson) : undefined;
  return { ...result, ...(json === undefined ? {} : { json }) };
}

let golden: GoldenRepo;
const onBranch: GoldenRepo['onBranch'] = (name, files, check) =>
  golden.onBranch(name, files, check);

beforeAll(async () => {
  golden = await goldenRepo('monorepo');
  ({ repo } = golden);
});

afterAll(async () => {
  await golden.remove();
});

describe('plan on the golden monorepo', () => {
  it('plans every project with --all, layer by layer, each with its environment’s var file', async () => {
    const { exitCode, json, stderr } = await cli(['plan', '--env', 'dev', '--all']);
    expectExitZero({ exitCode, stderr });
    expect(json).toMatchObject({ workflow: 'plan', status: 'succeeded', environment: 'dev' });
    expect(json?.projects.map((p) => [p.name, p.dir, p.layer, p.status])).toEqual([
      ['network', 'infra/network', 0, 'planned'],
      ['dns', 'infra/dns', 0, 'planned'],
      ['app', 'infra/app', 1, 'planned'],
    ]);
    for (const project of json?.projects ?? []) {
      expect(project.summary).toMatchObject({ add: 1, change: 0, destroy: 0 });
      expect(project.workspace).toBeNull();
      expect(Date.parse(project.startedAt ?? '')).toBeLessThanOrEqual(
        Date.parse(project.finishedAt ?? ''),
      );
    }
    // Each plan read its own var file: the plan text has dev's values.
    const runDir = join(repo.dir, '.git', 'stepform', 'artifacts', json?.runId ?? '');
    const network = await readFile(join(runDir, 'project-network', 'plan', 'plan.txt'), 'utf8');
    expect(network).toContain('10.0.0.0/16');
    const dns = await readFile(join(runDir, 'project-dns', 'plan', 'plan.txt'), 'utf8');
    expect(dns).toContain('dev.example.internal');
    // The status events name the projects: each as the run covers it when it starts, then
    // each with its plan's counts and status.
    const store = openLocalStores(join(repo.dir, '.git', 'stepform', 'stepform.db'));
    try {
      const events = store.outbox
        .list(json?.runId ?? '')
        .map((row) => STATUS_EVENT.parse(row.body));
      expect(events.map((e) => [e.phase, e.projects])).toEqual([
        [
          'started',
          [
            { name: 'network', dir: 'infra/network' },
            { name: 'dns', dir: 'infra/dns' },
            { name: 'app', dir: 'infra/app' },
          ],
        ],
        [
          'planned',
          ['network', 'dns', 'app'].map((name) => ({
            name,
            dir: `infra/${name}`,
            status: 'planned',
            summary: { add: 1, change: 0, destroy: 0 },
          })),
        ],
      ]);
    } finally {
      store.close();
    }
  });

  it('plans exactly the projects that call the shared module when it changes', async () => {
    await onBranch(
      'labels',
      { 'modules/labels/extra.tf': 'output "owner" {\n  value = "platform"\n}\n' },
      async () => {
        const { exitCode, json } = await cli(['plan', '--env', 'dev']);
        expect(exitCode).toBe(0);
        expect(json?.projects.map((p) => [p.name, p.layer])).toEqual([
          ['network', 0],
          ['app', 1],
        ]);
      },
    );
  });

  it('plans nothing, and says so, when the change affects no project', async () => {
    const { exitCode, json } = await cli(['plan', '--env', 'dev']);
    expect(exitCode).toBe(0);
    expect(json).toMatchObject({ runId: null, status: 'skipped', projects: [] });
    expect(json?.message).toMatch(/no project of stepform\.yaml is affected/);
    const text = await startCli(['plan', '--env', 'dev'], { cwd: repo.dir, env }).done;
    expect(text.stdout).toMatch(/^nothing to plan: /);
  });

  it('plans the projects --project names, in their layers, whatever order they are named in', async () => {
    const { exitCode, json } = await cli(['plan', '--env', 'prod', '--project', 'app,network']);
    expect(exitCode).toBe(0);
    expect(json?.projects.map((p) => [p.name, p.layer])).toEqual([
      ['network', 0],
      ['app', 1],
    ]);
  });

  it('fails the run when one project’s plan fails, and still reports the others planned', async () => {
    await onBranch(
      'broken-app',
      { 'infra/app/envs/dev.tfvars': 'environment = "dev"\nreplicas = "many"\n' },
      async () => {
        const { exitCode, json } = await cli(['plan', '--env', 'dev', '--all']);
        expect(exitCode).toBe(1);
        expect(json?.status).toBe('failed');
        expect(json?.projects.map((p) => [p.name, p.status])).toEqual([
          ['network', 'planned'],
          ['dns', 'planned'],
          ['app', 'failed'],
        ]);
        expect(json?.projects[2]?.error?.message).toMatch(/replicas|number/);
        expect(json?.error?.message).toMatch(/^app: /);
        // The environment's one comment has a section per project.
        const markdown = await readFile(
          join(repo.dir, '.git', 'stepform', 'runs', json?.runId ?? '', 'pr-comment.md'),
          'utf8',
        );
        expect(markdown).toMatch(/^<!-- stepform:comment environment=dev -->/);
        for (const name of ['network', 'dns', 'app']) expect(markdown).toContain(name);
        // The planned projects show their diff, with the values of their var files.
        expect(markdown).toContain(
          '<details><summary><code>terraform_data.network</code> will be created</summary>',
        );
        expect(markdown).toMatch(/\+\s+cidr = "10\.0\.0\.0\/16"/);
      },
    );
  });

  it.each([
    [
      'a project stepform.yaml does not list',
      ['--project', 'nope'],
      /--project: "nope" is not a project/,
    ],
    [
      'two selections at once',
      ['--all', '--project', 'app'],
      /--all: give one of --project, --all, not both/,
    ],
    [
      '--base with a selection',
      ['--all', '--base', 'HEAD'],
      /--base: selects projects by what changed/,
    ],
    [
      'an environment it does not declare',
      ['--env', 'staging', '--all'],
      /--env: "staging" is not an environment/,
    ],
    [
      'a dir no project has',
      ['--dir', 'modules/labels'],
      /--dir: modules\/labels is the dir of no project/,
    ],
  ])('refuses %s: exit 2, nothing recorded', async (_what, args, message) => {
    const before = await cli(['runs']);
    const { exitCode, stderr } = await cli(['plan', ...args]);
    expect(exitCode).toBe(2);
    expect(stderr).toMatch(message);
    expect((await cli(['runs'])).stdout).toBe(before.stdout);
  });
});

describe('apply of one project of the golden monorepo', () => {
  it('applies --project with its environment’s values, and stops a second project with exit 2', async () => {
    const { exitCode, json } = await cli([
      'apply',
      '--env',
      'dev',
      '--project',
      'network',
      '--auto-approve',
    ]);
    expect(exitCode).toBe(0);
    expect(json?.outputs?.cidr).toEqual({ sensitive: false, value: '10.0.0.0/16' });
    expect(json?.projects.map((p) => [p.name, p.dir])).toEqual([['network', 'infra/network']]);
    // after_apply: the dispatch is recorded in the run's folder (a local run never calls GitHub).
    expect(json?.dispatches).toEqual([
      { repository: 'acme/app-deploy', eventType: 'infra-applied', status: 'sent' },
    ]);
    const sent = JSON.parse(
      await readFile(
        join(
          repo.dir,
          '.git',
          'stepform',
          'runs',
          json?.runId ?? '',
          'dispatches',
          '001-acme.app-deploy-infra-applied.json',
        ),
        'utf8',
      ),
    ) as { client_payload: Record<string, unknown> };
    expect(sent.client_payload).toMatchObject({
      environment: 'dev',
      projects: ['network'],
      outputs: { network: { cidr: '10.0.0.0/16' } },
    });
  });

  it('runs a command in the project --project names (its dir and var files from stepform.yaml)', async () => {
    const output = await startCli(
      ['command', '--env', 'dev', '--project', 'network', '--', 'output', 'cidr'],
      { cwd: repo.dir, env },
    ).done;
    expect(output.exitCode).toBe(0);
    expect(output.stdout).toContain('10.0.0.0/16');
    const command = (project: string) =>
      startCli(['command', '--env', 'dev', '--project', project, '--', 'state', 'list'], {
        cwd: repo.dir,
        env,
      }).done;
    const unknown = await command('nope');
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/--project: "nope" is not a project/);
    // app was never applied in dev: nothing to read.
    const never = await command('app');
    expect(never.exitCode).toBe(2);
    expect(never.stderr).toMatch(/dev has no state of infra\/app/);
  });

  it('applies --all layer by layer: network and dns, then app, each with dev’s values', async () => {
    const { exitCode, json, stderr } = await cli([
      'apply',
      '--env',
      'dev',
      '--all',
      '--auto-approve',
    ]);
    expectExitZero({ exitCode, stderr });
    expect(json).toMatchObject({ workflow: 'plan-apply', status: 'succeeded', phase: 'applied' });
    // network was applied by the first test: nothing to change there now.
    expect(json?.projects.map((p) => [p.name, p.layer, p.status])).toEqual([
      ['network', 0, 'no_changes'],
      ['dns', 0, 'applied'],
      ['app', 1, 'applied'],
    ]);
    const [, dns, app] = json?.projects ?? [];
    expect(app?.outputs).toMatchObject({ replicas: { sensitive: false, value: 1 } });
    // app's layer starts only once dns's has ended.
    expect(Date.parse(app?.startedAt ?? '')).toBeGreaterThanOrEqual(
      Date.parse(dns?.finishedAt ?? ''),
    );
    expect(json?.dispatches).toEqual([
      { repository: 'acme/app-deploy', eventType: 'infra-applied', status: 'sent' },
    ]);
  });

  it('rolls back only the project whose apply failed, and starts no later layer', async () => {
    const failing = [
      'terraform {',
      '  required_providers {',
      '    time = { source = "hashicorp/time", version = "0.14.2" }',
      '  }',
      '}',
      'resource "time_static" "fails" {',
      '  lifecycle {',
      '    postcondition {',
      '      condition     = self.unix < 0',
      '      error_message = "Deliberate apply failure (test fixture)."',
      '    }',
      '  }',
      '}',
      '',
    ].join('\n');
    await onBranch(
      'network-fails',
      {
        'infra/network/fails.tf': failing,
        'infra/dns/envs/dev.tfvars': 'zone = "dev2.example.internal"\n',
        'infra/app/envs/dev.tfvars': 'environment = "dev"\nreplicas    = 3\n',
      },
      async () => {
        const { exitCode, json } = await cli(['apply', '--env', 'dev', '--all', '--auto-approve']);
        expect(exitCode).toBe(1);
        expect(json).toMatchObject({ status: 'failed', phase: 'rolled_back' });
        expect(json?.projects.map((p) => [p.name, p.status])).toEqual([
          ['network', 'rolled_back'],
          ['dns', 'applied'],
          ['app', 'not_started'],
        ]);
        expect(json?.projects[0]?.error?.message).toContain('Deliberate apply failure');
        // app kept what the last apply gave it: nothing of this commit reached it.
        const replicas = await startCli(
          ['command', '--env', 'dev', '--project', 'app', '--', 'output', 'replicas'],
          { cwd: repo.dir, env },
        ).done;
        expect(replicas.stdout).toMatch(/"value": 1\n/);
      },
    );
  });

  it('waits for an approval in a protected environment when the plan destroys, whatever --auto-approve says', async () => {
    const apply = (environment: string) =>
      cli([
        'apply',
        '--env',
        environment,
        '--project',
        'dns',
        '--auto-approve',
        '--approval-timeout',
        '2s',
      ]);
    // Adding only: prod applies at once too.
    for (const environment of ['dev', 'prod']) expect((await apply(environment)).exitCode).toBe(0);
    await onBranch(
      'drop-zone',
      {
        'infra/dns/main.tf':
          'variable "zone" {\n  type = string\n}\n\noutput "zone" {\n  value = var.zone\n}\n',
      },
      async () => {
        const dev = await apply('dev');
        expect(dev.exitCode).toBe(0);
        expect(dev.json?.summary).toMatchObject({ destroy: 1 });
        // prod is protected: the destroy waits for an approval, which nobody gives in 2 s.
        const prod = await apply('prod');
        expect(prod.exitCode).toBe(1);
        expect(prod.json).toMatchObject({ status: 'failed', phase: 'expired' });
        expect(prod.stderr).toMatch(/approval needed/);
      },
    );
  });
});

describe('destroy on the golden monorepo (prod is protected)', () => {
  const destroyArgs = (environment: string, ...more: string[]) => [
    'destroy',
    '--env',
    environment,
    '--project',
    'dns',
    '--yes',
    '--auto-approve',
    ...more,
  ];
  /** dns's managed resources in an environment, read from its local Terraform state. */
  async function dnsState(environment: string): Promise<string[]> {
    const path = join(repo.dir, '.git', 'stepform', 'state', stateKey(environment, 'infra/dns'));
    const state = JSON.parse(await readFile(path, 'utf8')) as {
      resources: { mode: string; type: string; name: string }[];
    };
    return state.resources.filter((r) => r.mode === 'managed').map((r) => `${r.type}.${r.name}`);
  }
  /** Starts a prod destroy and waits until it says how to approve it: its run id. */
  async function waitingDestroy(): Promise<{ running: RunningCli; runId: string }> {
    const running = startCli([...destroyArgs('prod', '--approval-timeout', '2m'), '--json'], {
      cwd: repo.dir,
      env,
    });
    const runId = await waitFor(
      () => `a destroy awaiting its approval\n${running.stderr()}`,
      () => /reject: {2}npx stepform reject (\S+)/.exec(running.stderr())?.[1],
      120_000,
    );
    return { running, runId };
  }
  async function ended(running: RunningCli): Promise<CliResult & { json: RunJson }> {
    const result = await running.done;
    return { ...result, json: parseJson(result) as RunJson };
  }

  beforeAll(async () => {
    for (const environment of ['dev', 'prod']) {
      const applied = await cli([
        'apply',
        '--env',
        environment,
        '--project',
        'dns',
        '--auto-approve',
      ]);
      expect({ environment, exitCode: applied.exitCode }).toEqual({ environment, exitCode: 0 });
    }
  });

  it('destroy --auto-approve in dev destroys at once, asking for no approval', async () => {
    const dev = await cli(destroyArgs('dev'));
    expectExitZero(dev);
    expect(dev.json).toMatchObject({
      workflow: 'destroy',
      status: 'succeeded',
      phase: 'destroyed',
    });
    expect(dev.stderr).not.toMatch(/approval needed/);
    expect(await dnsState('dev')).toEqual([]);
  });

  it('in protected prod, --auto-approve still waits: a short --approval-timeout expires it (exit 1), nothing destroyed', async () => {
    const prod = await cli(destroyArgs('prod', '--approval-timeout', '2s'));
    expect(prod.exitCode).toBe(1);
    expect(prod.json).toMatchObject({ status: 'failed', phase: 'expired' });
    expect(prod.stderr).toMatch(/prod is protected \(stepform.yaml\): its destroy waits/);
    expect(prod.stderr).toMatch(/approval needed/);
    expect(await dnsState('prod')).toEqual(['terraform_data.zone']);
  });

  it('rejected, it destroys nothing (exit 1)', async () => {
    const { running, runId } = await waitingDestroy();
    const reject = await startCli(['reject', runId, '--by', 'bob'], { cwd: repo.dir, env }).done;
    expect(reject.exitCode).toBe(0);
    const result = await ended(running);
    expect(result.exitCode).toBe(1);
    expect(result.json).toMatchObject({ runId, status: 'failed', phase: 'rejected' });
    expect(await dnsState('prod')).toEqual(['terraform_data.zone']);
  });

  it('approved with `stepform approve`, it destroys', async () => {
    const { running, runId } = await waitingDestroy();
    const approve = await startCli(['approve', runId, '--by', 'alice'], { cwd: repo.dir, env })
      .done;
    expect(approve.exitCode).toBe(0);
    const result = await ended(running);
    expectExitZero(result);
    expect(result.json).toMatchObject({ runId, status: 'succeeded', phase: 'destroyed' });
    expect(await dnsState('prod')).toEqual([]);
  });

  it('destroy --all in dev destroys the layers in reverse: app before network and dns', async () => {
    const all = await cli(['destroy', '--env', 'dev', '--all', '--yes', '--auto-approve']);
    expectExitZero(all);
    expect(all.json).toMatchObject({
      workflow: 'destroy',
      status: 'succeeded',
      phase: 'destroyed',
    });
    expect(all.json?.projects.map((p) => [p.name, p.layer, p.status])).toEqual([
      ['network', 0, 'destroyed'],
      ['dns', 0, 'destroyed'],
      ['app', 1, 'destroyed'],
    ]);
    const [network, dns, app] = all.json?.projects ?? [];
    for (const lower of [network, dns]) {
      expect(Date.parse(lower?.startedAt ?? '')).toBeGreaterThanOrEqual(
        Date.parse(app?.finishedAt ?? ''),
      );
    }
    // app and network were applied in dev by the tests above; dns by this block's first one.
    expect(app?.summary?.destroy).toBe(1);
    expect(network?.summary?.destroy).toBe(1);
    for (const dir of ['infra/network', 'infra/app']) {
      const path = join(repo.dir, '.git', 'stepform', 'state', stateKey('dev', dir));
      const state = JSON.parse(await readFile(path, 'utf8')) as { resources: unknown[] };
      expect({ dir, resources: state.resources }).toEqual({ dir, resources: [] });
    }
  });
});

describe('ephemeral on the golden monorepo', () => {
  it('creates every project layer by layer with one TTL that ttl moves and destroy removes', async () => {
    const config = await readFile(join(repo.dir, 'stepform.yaml'), 'utf8');
    await onBranch(
      'preview-environment',
      {
        'stepform.yaml': config.replace('  dev: {}\n', '  dev: {}\n  pr-9: {}\n'),
        'infra/network/envs/pr-9.tfvars': 'environment = "pr-9"\ncidr        = "10.9.0.0/16"\n',
        'infra/dns/envs/pr-9.tfvars': 'zone = "pr-9.example.internal"\n',
        'infra/app/envs/pr-9.tfvars': 'environment = "pr-9"\nreplicas    = 1\n',
      },
      async () => {
        const created = await cli(['ephemeral', '--env', 'pr-9', '--all', '--ttl', '2h']);
        expectExitZero(created);
        expect(created.json?.projects.map((p) => [p.name, p.layer, p.status])).toEqual([
          ['network', 0, 'applied'],
          ['dns', 0, 'applied'],
          ['app', 1, 'applied'],
        ]);
        const destroyTimes = async () => {
          const envs = parseJson(
            await startCli(['envs', '--json'], { cwd: repo.dir, env }).done,
          ) as {
            environments: { environment: string; projectDir: string; destroyAt: string | null }[];
          };
          return envs.environments
            .filter((e) => e.environment === 'pr-9')
            .map((e) => [e.projectDir, e.destroyAt])
            .sort();
        };
        // One schedule for the three: envs shows its time on each project.
        const [[, first]] = (await destroyTimes()) as [[string, string]];
        expect(Date.parse(first) - Date.now()).toBeGreaterThan(7_000_000);
        expect(await destroyTimes()).toEqual(
          ['infra/network', 'infra/dns', 'infra/app'].map((dir) => [dir, first]).sort(),
        );

        const moved = await cli(['ttl', 'pr-9', '4h']);
        expect(moved.exitCode).toBe(0);
        const [[, later]] = (await destroyTimes()) as [[string, string]];
        expect(Date.parse(later) - Date.now()).toBeGreaterThan(14_000_000);
        expect((await destroyTimes()).every(([, at]) => at === later)).toBe(true);

        const destroyed = await cli([
          'destroy',
          '--env',
          'pr-9',
          '--all',
          '--yes',
          '--auto-approve',
        ]);
        expect(destroyed.exitCode).toBe(0);
        expect(destroyed.json?.projects.map((p) => [p.name, p.status])).toEqual([
          ['network', 'destroyed'],
          ['dns', 'destroyed'],
          ['app', 'destroyed'],
        ]);
        // The run's schedule went with it: nothing is left to fire.
        expect((await destroyTimes()).every(([, at]) => at === null)).toBe(true);
        const stores = openLocalStores(join(repo.dir, '.git', 'stepform', 'stepform.db'));
        try {
          expect(stores.schedules.list('pr-9').map((s) => s.status)).toEqual(['deleted']);
        } finally {
          stores.close();
        }
      },
    );
  });
});

describe('apply on the golden workspace-per-environment repository', () => {
  let workspaces: GoldenRepo;
  beforeAll(async () => {
    workspaces = await goldenRepo('workspaces');
  });
  afterAll(async () => {
    await workspaces.remove();
  });

  it('applies each environment in its own workspace with its variables/<env>.tfvars', async () => {
    for (const environment of ['dev', 'prod']) {
      const result = await startCli(
        ['apply', '--env', environment, '--all', '--auto-approve', '--json'],
        { cwd: workspaces.repo.dir, env },
      ).done;
      expect({ environment, exitCode: result.exitCode }).toEqual({ environment, exitCode: 0 });
      const json = parseJson(result) as RunJson;
      expect(json.outputs?.workspace).toEqual({ sensitive: false, value: environment });
      expect(json.projects.map((p) => [p.name, p.workspace])).toEqual([['platform', environment]]);
    }
  });
});

describe('locks per environment and project on the golden monorepo', () => {
  it('lets a run of network proceed while a run of dns holds dns in the same environment', async () => {
    // The first command makes the Stepform home (on its own, this test may run first).
    expect((await cli(['locks'])).exitCode).toBe(0);
    const store = openLocalStores(join(repo.dir, '.git', 'stepform', 'stepform.db'));
    try {
      // A run of dns waits for its approval, holding the lock of dns in dev.
      const waiting = startCli(['apply', '--env', 'dev', '--project', 'dns', '--json'], {
        cwd: repo.dir,
        env,
      });
      const runId = await waitFor(
        () => `dns to wait for its approval; stderr so far:\n${waiting.stderr()}`,
        () => {
          const held = store.runs.running().find((h) => h.run.environment === 'dev');
          return held && store.approvals.forRun(held.run.runId)?.status === 'pending'
            ? held.run.runId
            : undefined;
        },
        120_000,
      );
      expect(store.locks.locksOf('dev').map((lock) => [lock.project, lock.owner])).toEqual([
        ['dns', runId],
      ]);

      // Meanwhile a run of network in dev takes its own lock and goes through, never waiting.
      const network = await cli([
        'apply',
        '--env',
        'dev',
        '--project',
        'network',
        '--auto-approve',
      ]);
      expect({ exitCode: network.exitCode, status: network.json?.status }).toEqual({
        exitCode: 0,
        status: 'succeeded',
      });
      const networkRun = network.json?.runId ?? '';
      expect(store.runs.listEvents(networkRun).filter((e) => e.type === 'retried')).toEqual([]);
      expect(store.locks.lockHistory('dev', 'network').map((h) => h.owner)).toContain(networkRun);

      // `locks` shows the project and its holder; dns is still held by the waiting run.
      const locks = await startCli(['locks'], { cwd: repo.dir, env }).done;
      expect(locks.stdout).toMatch(new RegExp(`^dev +dns +held +run ${runId} .* until \\S+$`, 'm'));
      expect(store.locks.locksOf('dev').map((lock) => [lock.project, lock.owner])).toEqual([
        ['dns', runId],
      ]);
      const cancelled = await cli(['cancel', runId]);
      expect(cancelled.exitCode).toBe(0);
      expect((await waiting.done).exitCode).toBe(130);
      expect(store.locks.locksOf('dev')).toEqual([]);
    } finally {
      store.close();
    }
  }, 300_000);
});
