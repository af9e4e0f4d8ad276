import { describe, expect, it } from '@jest/globals';
import { errorHint } from './error-hints.ts';
import { LockHeld } from './errors.ts';

const planFailed = (detail: string) => ({
  name: 'JobFailed',
  message: `plan failed: TerraformFailed: terraform plan failed (exit 1):\n${detail}`,
});

describe('errorHint', () => {
  it('points a missing variable at var_files in stepform.yaml, naming it', () => {
    const hint = errorHint(
      planFailed(
        'Error: No value for required variable\n\n  on infra/app/main.tf line 56:\n  56: variable "needed" {\n\nThe root module input variable "needed" is not set',
      ),
    );
    expect(hint).toContain('variable "needed"');
    expect(hint).toContain('var_files');
    expect(hint).toContain('stepform.yaml');
  });

  it('points an undeclared variable at its declaration and the var files', () => {
    const hint = errorHint(
      planFailed(
        'Error: Reference to undeclared input variable\n\n  on a.tf line 2:\n   2: x = var.nope\n\nAn input variable with the name "nope" has not been declared.',
      ),
    );
    expect(hint).toContain('declare');
    expect(hint).toContain('var_files');
  });

  it('sends a policy OPA refused to opa check', () => {
    const refused = {
      name: 'PolicyInvalid',
      message:
        'policy guard: OPA refused it:\npolicy/a.rego:4: rego_unsafe_var_error: var x is unsafe',
    };
    expect(errorHint(refused)).toContain('opa check');
    expect(
      errorHint({ name: 'PolicyInvalid', message: 'policy guard: p holds no .rego file' }),
    ).toBe(undefined);
  });

  it('says a syntax error is fixed by a commit: Stepform runs the commit', () => {
    expect(
      errorHint(planFailed('Error: Invalid block definition\n\n  on infra/app/main.tf line 5')),
    ).toMatch(/commit/);
  });

  it('names the locks and unlock verbs for a held lock, with its environment and project', () => {
    const held = LockHeld.heldBy({
      environment: 'prod',
      project: 'app',
      owner: 'run-1',
      acquiredAt: '2026-01-01T00:00:00Z',
      expiresAt: '2026-01-01T01:00:00Z',
    });
    const hint = errorHint(held);
    expect(hint).toContain('npx stepform locks');
    expect(hint).toContain('npx stepform unlock prod --project app');
    // A LockHeld of another wording still gets the verbs.
    expect(errorHint({ name: 'LockHeld', message: 'some lock is held' })).toContain(
      'npx stepform unlock ENV',
    );
  });

  it('finds the error a wrapper names in its message', () => {
    expect(
      errorHint({ name: 'JobFailed', message: 'apply failed: StalePlan: the state moved' }),
    ).toMatch(/run the apply again/);
  });

  it('has a next step for an expired approval and for a folder that is no git repository', () => {
    expect(errorHint({ name: 'ApprovalExpired', message: 'no decision before x' })).toMatch(
      /run it again/,
    );
    expect(
      errorHint({ name: 'InvalidInput', message: '--repo: /tmp/x is not inside a git repository' }),
    ).toMatch(/git init/);
  });

  it('is undefined when there is no obvious next step', () => {
    expect(errorHint({ name: 'JobFailed', message: 'apply failed: Error: provider said no' })).toBe(
      undefined,
    );
    expect(errorHint({ name: 'InvalidInput', message: '--ttl: must be a duration' })).toBe(
      undefined,
    );
  });
});
