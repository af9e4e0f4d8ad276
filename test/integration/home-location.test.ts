// Where the CLI keeps its data when STEPFORM_HOME is unset: `.git/stepform/`, and a
// `.stepform/` left by an earlier version moves there once (never under a running run).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { openLocalStores } from '../../local/engine/store/local-stores.ts';
import {
  HELLO_RESOURCES,
  PROJECT,
  type RunJson,
  type Workspace,
  cliEnv,
  helloWorkspace,
  parseJson,
  startCli,
} from '../support/cli.ts';

let ws: Workspace;
let legacy: string;
let planned: RunJson;

beforeAll(async () => {
  ws = await helloWorkspace({ home: 'default' });
  legacy = join(ws.repo.dir, '.stepform');
  // What an earlier version made: the home at the root of the work tree.
  const earlier = await startCli(
    ['apply', '--dir', PROJECT, '--env', 'dev', '--auto-approve', '--json'],
    { cwd: ws.repo.dir, env: cliEnv({ STEPFORM_HOME: legacy }) },
  ).done;
  expect(earlier.exitCode).toBe(0);
  planned = parseJson(earlier) as RunJson;
});

afterAll(() => ws.close());

describe('the home of a repository', () => {
  it('waits while a run of the old home is still running, and uses the old home meanwhile', async () => {
    const stores = openLocalStores(join(legacy, 'stepform.db'));
    stores.runs.create({
      runId: 'still-running',
      workflow: 'plan',
      environment: 'dev',
      projectDir: PROJECT,
      repository: ws.repo.dir,
      commit: ws.commit,
      startedAt: new Date().toISOString(),
    });
    try {
      const result = await ws.cli(['runs', '--json']);
      expect(result.exitCode).toBe(0);
      expect(result.stderr).toContain('has runs still running; it moves to');
      const listed = (parseJson(result) as { runs: RunJson[] }).runs.map((r) => r.runId);
      expect(listed).toEqual(['still-running', planned.runId]);
      expect(existsSync(ws.home)).toBe(false);
    } finally {
      stores.runs.finish('still-running', 'failed', new Date().toISOString(), 'test');
      stores.close();
    }
  });

  it('moves .stepform/ into the git directory on the next command, history and state intact', async () => {
    const result = await ws.cli(['runs', '--json']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toContain(`moved ${legacy} to ${ws.home}`);
    expect(existsSync(legacy)).toBe(false);
    const listed = (parseJson(result) as { runs: RunJson[] }).runs.map((r) => r.runId);
    expect(listed).toContain(planned.runId);
    expect(ws.resources('dev')).toEqual(HELLO_RESOURCES);
  });

  it('runs the next apply against the moved state (no changes) and survives git clean -xdf', async () => {
    await ws.git(['clean', '-xdfq']);
    const result = await ws.cli(['apply', '--dir', PROJECT, '--env', 'dev', '--json']);
    expect(result.exitCode).toBe(0);
    expect(parseJson(result)).toMatchObject({ status: 'succeeded', phase: 'no_changes' });
    expect(result.stderr).not.toContain('moved');
  });

  it('warns about a .stepform/ that reappears once the new home exists, and ignores it', async () => {
    const again = await startCli(['runs', '--json'], {
      cwd: ws.repo.dir,
      env: cliEnv({ STEPFORM_HOME: legacy }),
    }).done;
    expect(again.exitCode).toBe(0);
    const result = await ws.cli(['runs', '--json']);
    expect(result.stderr).toContain(`warning: ${legacy} is no longer used`);
    expect((parseJson(result) as { runs: RunJson[] }).runs).toHaveLength(3);
  });
});
