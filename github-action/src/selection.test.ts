// The action's project selection, driven through run(deps) over a real git checkout of the
// golden monorepo (network and app call modules/labels, dns calls no module; app depends on
// network), with Step Functions mocked: what starts, with which projects, and what is refused
// before anything starts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { RUN_INPUT } from '../../core/contracts/workflow-input.ts';
import { REPO_ROOT, type TestRepo, makeRepo, tempDir } from '../../test/support/repo.ts';
import { run as runProcess } from '../../toolchain/process.ts';
import { type FakeCore, fakeCore } from '../test/fake-core.ts';
import { run } from './index.ts';

const SFN = mockClient(SFNClient);
const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:stepform-plan';
const MONOREPO = join(REPO_ROOT, 'test', 'golden', 'monorepo');
const LABELS = 'modules/labels/main.tf';

let repo: TestRepo;
/** The monorepo as committed. */
let base: string;
/** base + a change to modules/labels. */
let labels: string;
/** labels + a change to the README only. */
let readme: string;
/** base + a change to dns, on another branch: the base branch moved on after labels left it. */
let dnsOnMain: string;

beforeAll(async () => {
  repo = await makeRepo();
  base = await repo.commitDir(MONOREPO, '.', 'the monorepo');
  const text = readFileSync(join(MONOREPO, LABELS), 'utf8');
  labels = await repo.commitFiles({ [LABELS]: `${text}\n# a change\n` }, 'labels');
  readme = await repo.commitFiles({ 'README.md': '# changed\n' }, 'readme');
  const git = async (...args: string[]) =>
    expect((await runProcess('git', ['-C', repo.dir, ...args])).exitCode).toBe(0);
  await git('checkout', '--quiet', '-b', 'moved-on', base);
  dnsOnMain = await repo.commitFiles({ 'infra/dns/main.tf': '# moved on\n' }, 'dns');
  await git('checkout', '--quiet', 'main');
});

beforeEach(() => {
  SFN.reset();
  SFN.on(StartExecutionCommand).callsFake((input: { name: string }) => ({
    executionArn: `${MACHINE.replace(':stateMachine:', ':execution:')}:${input.name}`,
    startDate: new Date(0),
  }));
});

afterAll(() => {
  SFN.restore();
});

interface Event {
  readonly name: string;
  readonly payload: unknown;
  readonly sha?: string;
}

const pullRequest = (from: string, to: string): Event => ({
  name: 'pull_request',
  payload: { pull_request: { number: 5, head: { sha: to }, base: { sha: from } } },
});

/** run(deps) in the checkout `workspace` for the event; the fake core it reported to. */
async function runAction(
  inputs: Record<string, string>,
  event: Event,
  workspace: string = repo.dir,
): Promise<FakeCore> {
  const core = fakeCore({
    workflow: 'plan',
    environment: 'dev',
    'state-machine-arn': MACHINE,
    wait: 'false',
    ...inputs,
  });
  await run({
    core,
    sfn: (region) =>
      new SFNClient({ region, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }),
    env: {
      GITHUB_EVENT_NAME: event.name,
      GITHUB_EVENT_PATH: '/runner/event.json',
      GITHUB_REPOSITORY: 'acme/infra',
      GITHUB_SHA: event.sha ?? readme,
      GITHUB_RUN_ID: '42',
      GITHUB_WORKSPACE: workspace,
    },
    readFile: async () => JSON.stringify(event.payload),
    sleep: async () => {},
    now: () => 0,
    onCancel: () => {},
  });
  return core;
}

/** The one execution input started. */
function started() {
  const calls = SFN.commandCalls(StartExecutionCommand);
  expect(calls).toHaveLength(1);
  return RUN_INPUT.parse(JSON.parse(calls[0]!.args[0].input.input!));
}

const layers = (input: ReturnType<typeof started>) => input.projects?.map((p) => [p.name, p.layer]);

describe('the action selects projects with stepform.yaml', () => {
  it('a pull request touching modules/labels plans exactly network and app, in layers', async () => {
    const core = await runAction({}, pullRequest(base, labels));
    expect(core.failures).toEqual([]);
    const input = started();
    expect(input).toMatchObject({ workflow: 'plan', commit: labels, projectDir: 'infra' });
    expect(input.maxParallel).toBe(4);
    expect(input.projects).toEqual([
      {
        name: 'network',
        dir: 'infra/network',
        layer: 0,
        varFiles: ['infra/network/envs/dev.tfvars'],
      },
      { name: 'app', dir: 'infra/app', layer: 1, varFiles: ['infra/app/envs/dev.tfvars'] },
    ]);
    expect(core.outputs.projects).toBe('["network","app"]');
    expect(core.summaries.join('')).toContain('projects `network`, `app`');
  });

  it('a base branch that moved on since: only what the pull request changed', async () => {
    const core = await runAction({}, pullRequest(dnsOnMain, labels));
    expect(core.failures).toEqual([]);
    expect(layers(started())).toEqual([
      ['network', 0],
      ['app', 1],
    ]);
  });

  it('projects: all plans network, dns and app, layer by layer', async () => {
    const core = await runAction({ projects: 'all' }, pullRequest(base, labels));
    expect(core.failures).toEqual([]);
    expect(layers(started())).toEqual([
      ['network', 0],
      ['dns', 0],
      ['app', 1],
    ]);
    expect(core.outputs.projects).toBe('["network","dns","app"]');
  });

  it('names: only those, in layers, in the order of stepform.yaml within one', async () => {
    const core = await runAction({ projects: 'dns, app' }, pullRequest(base, labels));
    expect(core.failures).toEqual([]);
    expect(layers(started())).toEqual([
      ['app', 0],
      ['dns', 0],
    ]);
  });

  it('project (a folder) selects the project there', async () => {
    const core = await runAction({ project: 'infra/dns' }, pullRequest(base, labels));
    expect(core.failures).toEqual([]);
    expect(started()).toMatchObject({ projectDir: 'infra/dns', projects: [{ name: 'dns' }] });
  });

  it('a change that affects no project starts nothing: SKIPPED, projects []', async () => {
    const core = await runAction({}, pullRequest(labels, readme));
    expect(core.failures).toEqual([]);
    expect(SFN.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(core.outputs).toEqual({ projects: '[]', status: 'SKIPPED' });
    expect(core.lines.join('\n')).toMatch(/no project of stepform.yaml is affected/);
    expect(core.summaries.join('')).toMatch(/SKIPPED[\s\S]*no execution was started/);
  });

  it('a push compares with `before`', async () => {
    await runAction({}, { name: 'push', payload: { before: base }, sha: labels });
    expect(layers(started())).toEqual([
      ['network', 0],
      ['app', 1],
    ]);
  });

  it('a push that created its branch: every project, and the log says why', async () => {
    const core = await runAction(
      {},
      { name: 'push', payload: { before: '0'.repeat(40) }, sha: readme },
    );
    expect(started().projects).toHaveLength(3);
    expect(core.lines.join('\n')).toMatch(/created its branch.*every project/);
  });

  it('a force push: `before` is in no branch of a whole clone, so every project, and the log says why', async () => {
    const full = join(await tempDir('full'), 'clone');
    expect(
      (await runProcess('git', ['clone', '--quiet', `file://${repo.dir}`, full])).exitCode,
    ).toBe(0);
    const rewritten = 'b'.repeat(40);
    const core = await runAction(
      {},
      { name: 'push', payload: { before: rewritten }, sha: labels },
      full,
    );
    expect(core.failures).toEqual([]);
    expect(started().projects).toHaveLength(3);
    expect(core.lines.join('\n')).toContain(
      `the base commit ${rewritten.slice(0, 12)} is in no branch of the repository (a force push?)`,
    );
  });

  it('workflow_dispatch has no change: changed means all', async () => {
    await runAction({}, { name: 'workflow_dispatch', payload: {}, sha: readme });
    expect(started().projects).toHaveLength(3);
  });
});

describe('the action refuses before starting anything', () => {
  it.each([
    [{ projects: 'nope' }, /^invalid input projects: "nope" is not a project of stepform.yaml/],
    [{ environment: 'staging' }, /^invalid input environment: "staging" is not an environment/],
    [{ project: 'infra' }, /^invalid input project: infra is the dir of no project/],
    [
      { workflow: 'ttl', ttl: '2h' },
      /^invalid input projects: ttl runs one project at a time \(network, app are selected\)/,
    ],
  ])('%j', async (inputs, message) => {
    const core = await runAction(inputs, pullRequest(base, labels));
    expect(core.failures).toHaveLength(1);
    expect(core.failures[0]).toMatch(message);
    expect(SFN.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('plan-apply of every changed project starts one run of them, in their layers', async () => {
    const core = await runAction({ workflow: 'plan-apply' }, pullRequest(base, labels));
    expect(core.failures).toEqual([]);
    const input = started() as { workflow: string; projects: { name: string; layer: number }[] };
    expect(input.workflow).toBe('plan-apply');
    expect(input.projects.map((p) => [p.name, p.layer])).toEqual([
      ['network', 0],
      ['app', 1],
    ]);
  });

  it('an ephemeral environment of every changed project starts one run of them', async () => {
    const core = await runAction({ workflow: 'ephemeral', ttl: '2h' }, pullRequest(base, labels));
    expect(core.failures).toEqual([]);
    expect(started()).toMatchObject({
      workflow: 'ephemeral',
      ttlSeconds: 7200,
      projects: [
        expect.objectContaining({ name: 'network' }),
        expect.objectContaining({ name: 'app' }),
      ],
    });
  });

  it('plan-apply of one named project starts', async () => {
    const core = await runAction(
      { workflow: 'plan-apply', projects: 'dns' },
      pullRequest(base, labels),
    );
    expect(core.failures).toEqual([]);
    expect(started()).toMatchObject({ workflow: 'plan-apply', projectDir: 'infra/dns' });
  });

  it('a missing var file, naming the key of stepform.yaml', async () => {
    const other = await makeRepo();
    await other.commitDir(MONOREPO, '.');
    const text = readFileSync(join(MONOREPO, 'stepform.yaml'), 'utf8');
    const head = await other.commitFiles({
      'stepform.yaml': text.replace("'envs/${env}.tfvars'", "'envs/${env}.auto.tfvars'"),
    });
    const core = await runAction({ projects: 'dns' }, pullRequest(head, head), other.dir);
    expect(core.failures[0]).toMatch(
      /^invalid input stepform.yaml.defaults.var_files.0: infra\/dns\/envs\/dev.auto.tfvars does not exist/,
    );
    expect(SFN.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('a bad stepform.yaml, naming its key', async () => {
    const other = await makeRepo();
    const head = await other.commitFiles({
      'stepform.yaml': 'version: 1\nprojects:\n  - name: a\n    dir: infra\n    colour: red\n',
      'infra/main.tf': '',
    });
    const core = await runAction({}, pullRequest(head, head), other.dir);
    expect(core.failures[0]).toMatch(/^invalid input stepform.yaml\.projects\.0/);
    expect(SFN.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('a shallow clone without the base commit, or the commit: use fetch-depth: 0', async () => {
    const shallow = join(await tempDir('shallow'), 'clone');
    const cloned = await runProcess('git', [
      'clone',
      '--quiet',
      '--depth',
      '1',
      `file://${repo.dir}`,
      shallow,
    ]);
    expect(cloned.exitCode).toBe(0);
    const core = await runAction({}, pullRequest(labels, readme), shallow);
    expect(core.failures).toHaveLength(1);
    expect(core.failures[0]).toMatch(
      /^invalid input projects: changed needs the base .*fetch-depth: 0/,
    );
    const headless = await runAction({}, pullRequest(base, labels), shallow);
    expect(headless.failures[0]).toMatch(
      /^invalid input projects: .*lacks the commit .*fetch-depth: 0/,
    );
    expect(SFN.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});

describe('the checkout in a folder below GITHUB_WORKSPACE (actions/checkout path:)', () => {
  /** A workspace holding clones of `sources` under their names: [name, repository, depth]. */
  async function workspaceOf(...sources: [string, string, number?][]): Promise<string> {
    const workspace = await tempDir('workspace');
    for (const [name, source, depth] of sources) {
      const args = ['clone', '--quiet', ...(depth ? ['--depth', String(depth)] : [])];
      const cloned = await runProcess('git', [...args, `file://${source}`, join(workspace, name)]);
      expect(cloned.exitCode).toBe(0);
    }
    return workspace;
  }

  it('is found: the same selection as at the root, and the log says where it was read', async () => {
    // A second repository checked out beside it, first by name, holds no such commit.
    const other = await makeRepo();
    await other.commitFiles({ 'modules/shared/main.tf': '' });
    const workspace = await workspaceOf(['a-modules', other.dir], ['infra-repo', repo.dir]);
    const core = await runAction({}, pullRequest(base, labels), workspace);
    expect(core.failures).toEqual([]);
    expect(layers(started())).toEqual([
      ['network', 0],
      ['app', 1],
    ]);
    expect(core.lines).toContain(
      `reading stepform.yaml from the checkout at ${join(workspace, 'infra-repo')} (actions/checkout path:)`,
    );
  });

  it('a shallow one lacking the commit is refused as at the root: use fetch-depth: 0', async () => {
    const workspace = await workspaceOf(['infra-repo', repo.dir, 1]);
    const core = await runAction({}, pullRequest(base, labels), workspace);
    expect(core.failures[0]).toMatch(
      /^invalid input projects: the checkout at .*infra-repo lacks the commit .*fetch-depth: 0/,
    );
    expect(SFN.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('none at all: the run is the project folder, and the log says stepform.yaml was not read', async () => {
    const workspace = await tempDir('workspace');
    const core = await runAction({ project: 'infra/dns' }, pullRequest(base, labels), workspace);
    expect(core.failures).toEqual([]);
    expect(started()).toMatchObject({ projectDir: 'infra/dns', commit: labels });
    expect(started().projects).toBeUndefined();
    expect(core.lines.join('\n')).toContain(
      `no checkout of ${labels.slice(0, 12)} at ${workspace} or in a folder below it: stepform.yaml is not read`,
    );
  });
});

describe('without stepform.yaml', () => {
  let plain: TestRepo;
  let head: string;
  beforeAll(async () => {
    plain = await makeRepo();
    head = await plain.commitFiles({ 'infra/main.tf': '' });
  });

  it('runs the folder project names, as before the file existed', async () => {
    const core = await runAction({ project: 'infra' }, pullRequest(head, head), plain.dir);
    expect(core.failures).toEqual([]);
    const input = started();
    expect(input.projectDir).toBe('infra');
    expect(input.projects).toBeUndefined();
    expect(core.outputs.projects).toBe('["infra"]');
  });

  it('refuses projects other than the default', async () => {
    const core = await runAction({ projects: 'all' }, pullRequest(head, head), plain.dir);
    expect(core.failures[0]).toMatch(/^invalid input projects: needs stepform.yaml/);
    expect(SFN.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});
