// The command workflow through the real `stepform` CLI and OpenTofu: after the hello example
// is applied to dev, one allowlisted command runs under dev's lock and its masked output is
// printed and kept with the run; a command that changes the state (state rm, import) waits
// for an approval unless --auto-approve; anything off the allowlist is refused with exit 2
// before a run exists.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { STATUS_EVENT } from '../../core/contracts/status-event.ts';
import { MASK } from '../../core/masking.ts';
import {
  type CliResult,
  HELLO_RESOURCES,
  PROJECT,
  type RunJson,
  type Workspace,
  helloWorkspace,
  parseJson,
  waitFor,
} from '../support/cli.ts';

type CommandJson = RunJson & { command?: { name: string; args: string[]; output: string } };

let ws: Workspace;

beforeAll(async () => {
  ws = await helloWorkspace();
  const applied = await ws.cli(['apply', '--dir', PROJECT, '--env', 'dev', '--auto-approve']);
  if (applied.exitCode !== 0) throw new Error(`apply failed:\n${applied.stderr}`);
  expect(ws.resources('dev')).toEqual(HELLO_RESOURCES);
}, 180_000);

afterAll(() => {
  ws.close();
});

function ok(result: CliResult): CommandJson {
  if (result.exitCode !== 0) throw new Error(`exit ${result.exitCode}:\n${result.stderr}`);
  return parseJson(result) as CommandJson;
}

/** The attributes of a resource of dev's state. */
function attributes(address: string): Record<string, unknown> | undefined {
  const [type, name] = address.split('.');
  return ws
    .state('dev')
    ?.resources.find((r) => r.mode === 'managed' && r.type === type && r.name === name)
    ?.instances[0]?.attributes;
}

/** Starts a command that waits for its approval; returns the CLI and the run id. */
async function startAwaitingApproval(args: readonly string[]) {
  const cli = ws.start(['command', '--env', 'dev', '--json', '--', ...args]);
  const runId = await waitFor(
    () => `an approval request of the command; stderr so far:\n${cli.stderr()}`,
    () => {
      const store = ws.store();
      const held = store.runs.running().find((h) => h.run.workflow === 'command');
      return held && store.approvals.forRun(held.run.runId)?.status === 'pending'
        ? held.run.runId
        : undefined;
    },
    120_000,
  );
  return { cli, runId };
}

describe('stepform command', () => {
  it('-- state list: lists the resources, under the lock, and ends command_completed', async () => {
    const run = ok(await ws.cli(['command', '--env', 'dev', '--json', '--', 'state', 'list']));
    expect(run).toMatchObject({
      workflow: 'command',
      status: 'succeeded',
      phase: 'command_completed',
      environment: 'dev',
      projectDir: PROJECT,
      command: { name: 'state list', args: [] },
    });
    expect(run.command?.output.trim().split('\n').sort()).toEqual(HELLO_RESOURCES);
    const store = ws.store();
    expect(store.outbox.list(run.runId).map((o) => STATUS_EVENT.parse(o.body).phase)).toEqual([
      'started',
      'command_completed',
    ]);
    expect(store.locks.locksOf('dev')).toEqual([]);
    // No approval for a command that only reads.
    expect(store.approvals.forRun(run.runId)).toBeUndefined();

    // The text form prints the output after the run, and logs shows it again.
    const text = await ws.cli(['command', '--env', 'dev', '--', 'state', 'list']);
    expect(text.exitCode).toBe(0);
    for (const address of HELLO_RESOURCES) expect(text.stdout).toContain(`\n${address}`);
    const logs = await ws.cli(['logs', run.runId]);
    expect(logs.exitCode).toBe(0);
    expect(logs.stdout).toContain('terraform state list:');
    expect(logs.stdout).toContain('terraform_data.greeting');
    const logsJson = ok(await ws.cli(['logs', run.runId, '--json']));
    expect(logsJson.command).toEqual(run.command);
  });

  it('-- output: shows the outputs with the sensitive one masked, in the result and the log', async () => {
    const run = ok(await ws.cli(['command', '--env', 'dev', '--json', '--', 'output']));
    expect(run.command?.output).toContain('hello, world');
    expect(run.command?.output).toContain(MASK);
    const secret = await ws.cli(['command', '--env', 'dev', '--json', '--', 'output', 'secret']);
    const named = ok(secret);
    expect(named.command).toMatchObject({ name: 'output', args: [] });
    expect(named.command?.output).toContain(MASK);
    for (const result of [run, named]) {
      const logs = await ws.cli(['logs', result.runId, '--json']);
      expect(logs.stdout).not.toContain('example-secret-value');
    }
    expect(secret.stdout + secret.stderr).not.toContain('example-secret-value');
  });

  it('-- state rm ADDR: waits for an approval; rejected, nothing changes', async () => {
    const { cli, runId } = await startAwaitingApproval(['state', 'rm', 'time_static.greeted_at']);
    const reject = await ws.cli(['reject', runId, '--by', 'bob']);
    expect(reject.exitCode).toBe(0);
    const done = await cli.done;
    expect(done.exitCode).toBe(1);
    expect(parseJson(done)).toMatchObject({ runId, status: 'failed', phase: 'rejected' });
    expect(ws.resources('dev')).toEqual(HELLO_RESOURCES);
    expect(ws.store().locks.locksOf('dev')).toEqual([]);
  });

  it('-- state rm ADDR: approved, removes it from the state (and only from the state)', async () => {
    const greetedAt = attributes('time_static.greeted_at');
    expect(greetedAt?.rfc3339).toEqual(expect.any(String));
    const { cli, runId } = await startAwaitingApproval(['state', 'rm', 'time_static.greeted_at']);
    const approval = ws.store().approvals.forRun(runId);
    expect(approval).toMatchObject({ status: 'pending', environment: 'dev' });
    const approve = await ws.cli(['approve', runId, '--by', 'alice']);
    expect(approve.exitCode).toBe(0);
    const run = parseJson(await cli.done) as CommandJson;
    expect(run).toMatchObject({
      runId,
      status: 'succeeded',
      phase: 'command_completed',
      command: { name: 'state rm', args: ['time_static.greeted_at'] },
    });
    expect(run.command?.output).toContain('time_static.greeted_at');
    expect(ws.resources('dev')).toEqual(
      HELLO_RESOURCES.filter((r) => r !== 'time_static.greeted_at'),
    );
    expect(
      ws
        .store()
        .outbox.list(runId)
        .map((o) => o.phase),
    ).toEqual(['started', 'awaiting_approval', 'approved', 'command_completed']);
  });

  it('-- import ADDR ID --auto-approve: imports it back without asking', async () => {
    const before = Date.now();
    const id = new Date(before - 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const run = ok(
      await ws.cli([
        'command',
        '--env',
        'dev',
        '--auto-approve',
        '--json',
        '--',
        'import',
        'time_static.greeted_at',
        id,
      ]),
    );
    expect(run).toMatchObject({
      status: 'succeeded',
      command: { name: 'import', args: ['time_static.greeted_at', id] },
    });
    expect(ws.store().approvals.forRun(run.runId)).toBeUndefined();
    expect(ws.resources('dev')).toEqual(HELLO_RESOURCES);
    expect(attributes('time_static.greeted_at')?.rfc3339).toBe(id);
  });

  it.each([
    [['command', '--env', 'dev', '--', 'state', 'push', 'x'], '-- args: '],
    [['command', '--env', 'dev', '--', 'apply'], '-- args: '],
    [['command', '--env', 'dev', '--', 'state list; rm -rf /'], '-- args: '],
    [['command', '--env', 'dev', '--', 'state', 'list;', 'rm', '-rf', '/'], '-- args: '],
    [['command', '--env', 'dev', '--', 'state', 'list', '-lock=false'], '-- args: '],
    [['command', '--env', 'dev', '--', 'state', 'show', '$(id)'], '-- args: '],
    [['command', '--env', 'dev', 'state', 'list'], '--: give the command after --'],
    [['command', '--env', 'nope', '--', 'state', 'list'], '--env: no environment named nope'],
    [['command', '--', 'state', 'list'], '--env: is required'],
  ])('%j exits 2 naming the field, and records no run', async (args, message) => {
    const runsBefore = ws.store().runs.list(1000).length;
    const result = await ws.cli(args);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`InvalidInput: ${message}`);
    expect(ws.store().runs.list(1000)).toHaveLength(runsBefore);
    const listed = parseJson(await ws.cli(['runs', '--json'])) as { runs: RunJson[] };
    expect(listed.runs).toHaveLength(runsBefore);
  });
});
