// The drift workflow through the real `stepform` CLI and OpenTofu. Beside the hello example,
// the project `outside` keeps a terraform_data whose input is read with file() from a path
// outside the repository (TF_VAR_outside_path): changing that file is a change to the real
// infrastructure that no commit made. Once applied, `stepform drift` plans what was applied:
// no drift (exit 0); the file changed, drift (exit 3) with one issue opened in the local code
// host, the same issue updated while the drift lasts, closed once the file is back
// (drift_cleared); a check that fails fails the run (exit 1); and a project whose lock a
// live run holds is skipped, saying so.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { STATUS_EVENT } from '../../core/contracts/status-event.ts';
import { DRIFT_LABEL, driftIssueTitle } from '../../core/drift.ts';
import { type RecordedIssue, RunFolderCodeHost } from '../../local/engine/run-folder-code-host.ts';
import {
  type CliResult,
  type Workspace,
  helloWorkspace,
  parseJson,
  startApplyAwaitingApproval,
  waitFor,
} from '../support/cli.ts';
import { tempDir } from '../support/repo.ts';

interface DriftJson {
  runId: string | null;
  workflow: string;
  status: string;
  environment: string | null;
  projects: {
    name: string;
    status: string;
    commit: string | null;
    cleared: boolean;
    summary: { add: number; change: number; destroy: number };
    note?: string;
    issue?: { issue: number; action: string };
  }[];
  runs: { runId: string; phase: string | null; status: string }[];
}

const CONFIG = `version: 1
environments:
  dev: {}
projects:
  - name: hello
    dir: stack
  - name: outside
    dir: outside
`;

const OUTSIDE_MAIN = `variable "outside_path" {
  type = string
}

# Its input is whatever the file outside the repository holds when Terraform reads it.
resource "terraform_data" "outside" {
  input = file(var.outside_path)
}
`;

let ws: Workspace;
let outsideFile: string;
let applied: string;

beforeAll(async () => {
  outsideFile = join(await tempDir('outside'), 'value.txt');
  await writeFile(outsideFile, 'as applied\n');
  ws = await helloWorkspace({ env: { TF_VAR_outside_path: outsideFile } });
  applied = await ws.repo.commitFiles(
    { 'stepform.yaml': CONFIG, 'outside/main.tf': OUTSIDE_MAIN },
    'add the outside project',
  );
  const result = await ws.cli(['apply', '--all', '--env', 'dev', '--auto-approve']);
  if (result.exitCode !== 0) throw new Error(`apply failed:\n${result.stderr}`);
}, 240_000);

afterAll(() => {
  ws.close();
});

async function drift(args: readonly string[] = []): Promise<CliResult & { json: DriftJson }> {
  const result = await ws.cli(['drift', '--env', 'dev', '--json', ...args]);
  if (!result.stdout.trim().startsWith('{'))
    throw new Error(`no JSON (exit ${result.exitCode}):\n${result.stderr}`);
  return { ...result, json: parseJson(result) as DriftJson };
}

function issues(): Promise<RecordedIssue[]> {
  return new RunFolderCodeHost(join(ws.home, 'runs'), {
    issuesDir: join(ws.home, 'issues'),
  }).issues();
}

function phases(runId: string): string[] {
  return ws
    .store()
    .outbox.list(runId)
    .map((row) => STATUS_EVENT.parse(row.body).phase);
}

function project(json: DriftJson, name: string) {
  return json.projects.find((p) => p.name === name);
}

describe('stepform drift', () => {
  it('finds no drift right after an apply: exit 0, each project planned at its applied commit', async () => {
    const { exitCode, json, stderr } = await drift();
    if (exitCode !== 0) throw new Error(`exit ${exitCode}:\n${stderr}`);
    expect(json).toMatchObject({ workflow: 'drift', status: 'no_drift', environment: 'dev' });
    expect(json.projects.map((p) => [p.name, p.status, p.commit])).toEqual([
      ['hello', 'no_drift', applied],
      ['outside', 'no_drift', applied],
    ]);
    expect(phases(json.runId ?? '')).toEqual(['no_changes']);
    expect(await issues()).toEqual([]);
  }, 180_000);

  it('finds drift once the outside file changes: exit 3, an issue opened with the diff, drifted', async () => {
    await writeFile(outsideFile, 'changed by hand\n');
    const { exitCode, json } = await drift();
    expect(exitCode).toBe(3);
    expect(json.status).toBe('drifted');
    expect(project(json, 'hello')?.status).toBe('no_drift');
    expect(project(json, 'outside')).toMatchObject({
      status: 'drifted',
      summary: { add: 0, change: 1, destroy: 0 },
      issue: { issue: 1, action: 'opened' },
    });
    expect(phases(json.runId ?? '')).toEqual(['drifted']);
    const [issue, ...others] = await issues();
    expect(others).toEqual([]);
    expect(issue).toMatchObject({
      number: 1,
      title: driftIssueTitle('outside', 'dev'),
      labels: [DRIFT_LABEL],
      state: 'open',
      updates: 0,
    });
    // The PR comment's renderer: the resource and the attribute that changed, both values.
    expect(issue?.body).toContain('terraform_data.outside');
    expect(issue?.body).toContain('changed by hand');
    expect(issue?.body).toContain('as applied');
  }, 180_000);

  it('updates the same issue while the drift lasts, never opening a second', async () => {
    await writeFile(outsideFile, 'changed again\n');
    const { exitCode, json } = await drift();
    expect(exitCode).toBe(3);
    expect(project(json, 'outside')?.issue).toEqual({
      project: 'outside',
      issue: 1,
      action: 'updated',
    });
    const all = await issues();
    expect(all.map((i) => [i.number, i.state, i.updates])).toEqual([[1, 'open', 1]]);
    expect(all[0]?.body).toContain('changed again');
    expect(all[0]?.body).not.toContain('changed by hand');
  }, 180_000);

  it('closes the issue with a comment once the file is back: exit 0, drift_cleared', async () => {
    await writeFile(outsideFile, 'as applied\n');
    const { exitCode, json } = await drift();
    expect(exitCode).toBe(0);
    expect(project(json, 'outside')).toMatchObject({
      status: 'no_drift',
      cleared: true,
      issue: { issue: 1, action: 'closed' },
    });
    expect(project(json, 'hello')).toMatchObject({ status: 'no_drift', cleared: false });
    expect(phases(json.runId ?? '')).toEqual(['drift_cleared']);
    const all = await issues();
    expect(all.map((i) => [i.number, i.state])).toEqual([[1, 'closed']]);
    expect(all[0]?.comments).toEqual([expect.stringContaining('No drift any more')]);

    // Nothing left to clear: the next check is plain no drift, and the closed issue stays so.
    // Without --env it covers every environment with an applied commit: here dev alone.
    const again = await ws.cli(['drift', '--json']);
    expect(again.exitCode).toBe(0);
    const everywhere = parseJson(again) as DriftJson;
    expect(everywhere.runs.map((run) => run.phase)).toEqual(['no_changes']);
    expect(everywhere.projects.map((p) => p.status)).toEqual(['no_drift', 'no_drift']);
    expect(phases(everywhere.runId ?? '')).toEqual(['no_changes']);
    expect((await issues()).map((i) => [i.number, i.state])).toEqual([[1, 'closed']]);
  }, 240_000);

  it('fails with exit 1 when a check fails, reporting the projects it did check', async () => {
    // The file gone: file() fails, and so does outside's plan.
    await rm(outsideFile);
    try {
      const { exitCode, json, stderr } = await drift();
      expect(exitCode).toBe(1);
      expect(json.status).toBe('failed');
      expect(project(json, 'outside')).toMatchObject({ status: 'failed' });
      expect(project(json, 'hello')).toMatchObject({ status: 'no_drift' });
      expect(phases(json.runId ?? '')).toEqual(['failed']);
      expect(stderr).toContain('outside');
    } finally {
      await writeFile(outsideFile, 'as applied\n');
    }
  }, 180_000);

  it('skips a project whose lock a live run holds, and says whose', async () => {
    // A change to hello, so that its apply waits for an approval, holding hello's lock.
    const hello = await readFile(join(ws.repo.dir, 'stack', 'main.tf'), 'utf8');
    await ws.repo.commitFiles(
      { 'stack/main.tf': `${hello}\nresource "terraform_data" "extra" {\n  input = "extra"\n}\n` },
      'change hello',
    );
    const { cli, runId } = await startApplyAwaitingApproval(ws, 'dev');
    try {
      const plain = await ws.cli(['drift', '--env', 'dev']);
      expect(plain.exitCode).toBe(0);
      expect(plain.stdout).toMatch(new RegExp(`hello\\s+skipped\\s+locked by run ${runId}`));
      expect(plain.stdout).toMatch(/outside\s+no drift/);

      const { json } = await drift(['--project', 'hello']);
      expect(json.projects).toEqual([
        expect.objectContaining({
          name: 'hello',
          status: 'skipped',
          commit: null,
          note: expect.stringContaining(`locked by run ${runId}`),
        }),
      ]);
    } finally {
      const rejected = await ws.cli(['reject', runId]);
      expect(rejected.exitCode).toBe(0);
      await cli.done;
    }
  }, 240_000);

  it('refuses a usage mistake with exit 2 before any run', async () => {
    const result = await ws.cli(['drift', '--env', 'dev', '--ttl', '1h']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--ttl is not an option of drift');
  });
});

describe('stepform serve', () => {
  // Every minute: the first fire comes at the next whole minute, a minute at most after serve
  // starts (drift.schedule's shortest; rate(1 minute) would count it from serve's start).
  const EVERY_MINUTE = 'cron(* * * * ? *)';

  it('fires stepform.yaml’s drift.schedule: a drift run of each environment when it comes due', async () => {
    await ws.repo.commitFiles(
      { 'stepform.yaml': `${CONFIG}drift:\n  schedule: "${EVERY_MINUTE}"\n` },
      'check drift every minute',
    );
    const before = (await issues()).length;
    await writeFile(outsideFile, 'changed while serve looks\n');
    const serve = ws.start(['serve', '--port', '0']);
    try {
      const announced = await waitFor(
        () => `serve's drift schedule line; stdout so far:\n${serve.stdout()}${serve.stderr()}`,
        () => /^drift schedule (.+) \((.+)\), next at (\S+)$/m.exec(serve.stdout()) ?? undefined,
        30_000,
      );
      expect(announced.slice(1, 3)).toEqual([EVERY_MINUTE, 'dev']);
      const nextAt = new Date(announced[3] ?? '');
      expect(nextAt.getUTCSeconds()).toBe(0);
      expect(nextAt.getTime() - Date.now()).toBeLessThanOrEqual(60_000);

      const [, runId, phase] = await waitFor(
        () => `a scheduled drift run's end; stdout so far:\n${serve.stdout()}${serve.stderr()}`,
        () => /^drift run (\S+): (\S+)$/m.exec(serve.stdout()) ?? undefined,
        120_000,
        500,
      );
      expect(serve.stdout()).toContain(`drift schedule: drift run ${runId} of dev\n`);
      expect(phase).toBe('drifted');
      expect(phases(runId ?? '')).toEqual(['drifted']);
      const row = ws.store().runs.get(runId ?? '');
      expect(row).toMatchObject({ workflow: 'drift', environment: 'dev', status: 'succeeded' });
      // Started when the schedule came due, not before.
      expect(new Date(row?.startedAt ?? 0).getTime()).toBeGreaterThanOrEqual(nextAt.getTime());
      const opened = await issues();
      expect(opened).toHaveLength(before + 1);
      expect(opened.at(-1)).toMatchObject({
        title: driftIssueTitle('outside', 'dev'),
        labels: [DRIFT_LABEL],
        state: 'open',
      });
      expect(opened.at(-1)?.body).toContain('changed while serve looks');
    } finally {
      serve.child.kill('SIGINT');
      await serve.done;
      await writeFile(outsideFile, 'as applied\n');
    }
  }, 240_000);
});
