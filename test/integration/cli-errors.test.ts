// How the CLI shows an error (issue 15): once, its lines kept as lines, the files Terraform
// names relative to the repository, and a hint of what to do next. Real Terraform, real CLI,
// one scratch repository: a plan that fails on a missing variable, one that fails on a syntax
// error, and runs that find a project locked by another run.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CliResult,
  PROJECT,
  type RunJson,
  type RunningCli,
  type Workspace,
  helloWorkspace,
  parseJson,
  startApplyAwaitingApproval,
  waitFor,
} from '../support/cli.ts';
import { HELLO_EXAMPLE } from '../support/repo.ts';

let ws: Workspace;

beforeAll(async () => {
  ws = await helloWorkspace();
});

afterAll(() => {
  ws.close();
});

/** How many times `needle` occurs in `text`. */
function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** Commits the hello example at infra/app with `extra` appended to its main.tf. */
async function commitApp(extra: string): Promise<void> {
  const hello = readFileSync(join(HELLO_EXAMPLE, 'main.tf'), 'utf8');
  await ws.repo.commitFiles({ 'infra/app/main.tf': `${hello}\n${extra}` });
}

/** The line number of the appended text's line `offset` (1 is its first). */
function lineAfterHello(offset: number): number {
  return readFileSync(join(HELLO_EXAMPLE, 'main.tf'), 'utf8').split('\n').length + offset;
}

function failed(result: CliResult): void {
  expect({ exitCode: result.exitCode, stderr: result.stderr }).toMatchObject({ exitCode: 1 });
}

describe('a plan that fails in Terraform', () => {
  it('prints a missing variable once, whole, at its repository-relative line, with the var_files hint', async () => {
    await commitApp('variable "needed" {\n  type = string\n}\n');
    const result = await ws.cli(['plan', '--dir', 'infra/app']);
    failed(result);
    const both = result.stdout + result.stderr;
    expect(occurrences(both, 'No value for required variable')).toBe(1);
    expect(occurrences(both, 'is not set, and has no default value')).toBe(1);
    // On stderr, on lines of its own, naming the file from the repository's root.
    expect(result.stderr).toContain(`\n    on infra/app/main.tf line ${lineAfterHello(1)}:\n`);
    expect(result.stderr).toMatch(/^error: JobFailed: plan failed: TerraformFailed: /m);
    expect(result.stderr).toMatch(/^ {2}Error: No value for required variable$/m);
    expect(result.stderr).toMatch(
      /^hint: give variable "needed" a value: .*var_files.*stepform\.yaml/m,
    );
    // No path of the throwaway checkout or of the repository leaks into it.
    expect(both).not.toContain('/checkout/');
    expect(both).not.toContain(ws.repo.dir);
    // The progress lines name the error only.
    expect(result.stdout).toMatch(
      /✗ CollectPlan \[infra\/app\] \(\d+ ms\): JobFailed \(TerraformFailed\)$/m,
    );
  });

  it('prints a syntax error once, at its repository-relative line, and says to commit the fix', async () => {
    await commitApp('resource "terraform_data" "broken" {\n  input = "a"\n  bogus bogus\n}\n');
    const result = await ws.cli(['plan', '--dir', 'infra/app', '--json']);
    failed(result);
    const both = result.stdout + result.stderr;
    // Once for people on stderr; the JSON result on stdout has it as its error.
    expect(occurrences(result.stderr, 'Invalid block definition')).toBe(1);
    const json = parseJson(result) as RunJson & { hint?: string };
    expect(json.error).toMatchObject({
      name: 'JobFailed',
      message: expect.stringContaining('Error: Invalid block definition\n'),
    });
    // The JSON carries the same hint as the terminal.
    expect(json.hint).toMatch(/^Stepform runs the commit, not your working tree: .*commit/);
    expect(result.stderr).toContain(`on infra/app/main.tf line ${lineAfterHello(3)}`);
    expect(result.stderr).toMatch(
      /^hint: Stepform runs the commit, not your working tree: .*commit/m,
    );
    expect(both).not.toContain(ws.repo.dir);
  });
});

describe('a project locked by another run', () => {
  let holder: { cli: RunningCli; runId: string };

  beforeAll(async () => {
    holder = await startApplyAwaitingApproval(ws, 'locked');
  });

  afterAll(async () => {
    await ws.cli(['reject', holder.runId]);
    await holder.cli.done;
  });

  it('unlock refuses the live lock and points at stepform locks and unlock --force', async () => {
    const result = await ws.cli(['unlock', 'locked']);
    failed(result);
    expect(result.stderr).toMatch(/^stepform unlock: LockHeld: run \S+ .*holds stack in locked/m);
    expect(result.stderr).toMatch(
      /^hint: .*npx stepform locks.*npx stepform unlock locked --project stack --force/m,
    );
  });

  it('an apply waiting for the lock says once whose it is and how to see or clear it', async () => {
    const waiting = ws.start(['apply', '--dir', PROJECT, '--env', 'locked', '--auto-approve']);
    let stdout = '';
    waiting.child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    await waitFor(
      () => `the lock's hint; stdout so far:\n${stdout}`,
      () => (stdout.includes('hint: ') ? true : undefined),
      60_000,
    );
    waiting.child.kill('SIGTERM');
    const result = await waiting.done;
    expect(result.exitCode).toBe(130);
    expect(result.stdout).toMatch(
      new RegExp(
        `^ {4}waiting: LockHeld: project stack in environment locked is locked by run ${holder.runId} `,
        'm',
      ),
    );
    expect(result.stdout).toContain(
      `hint: see who holds it: npx stepform locks; once run ${holder.runId} is gone: npx stepform unlock locked --project stack`,
    );
    expect(occurrences(result.stdout, 'waiting: LockHeld')).toBe(1);
  });
});
