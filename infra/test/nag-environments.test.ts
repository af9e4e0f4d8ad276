// cdk-nag names a finding by the resolved text of the ARN it is about, and that text differs
// between an environment-agnostic stack (`<AWS::Region>`) and one deployed to a known account
// and region (`eu-west-1`). The app must pass in every setting docs/deploy.md describes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { buildApp } from '../bin/app.ts';

interface Violation {
  ruleName: string;
  severity: string;
  violatingConstructs: { constructPath: string }[];
}
interface ValidationReport {
  pluginReports: { violations: Violation[] }[];
}

/** Synthesizes the app (without bundling) and returns cdk-nag's errors, rule and path. */
function nagErrors(context: Record<string, string>): string[] {
  const outdir = mkdtempSync(join(tmpdir(), 'stepform-nag-'));
  try {
    const { app } = buildApp({
      outdir,
      nag: true,
      context: { 'aws:cdk:bundling-stacks': [], ...context },
    });
    try {
      app.synth();
    } catch {
      // A failed validation throws; the report says which findings failed it.
    }
    const report = JSON.parse(
      readFileSync(join(outdir, 'validation-report.json'), 'utf8'),
    ) as ValidationReport;
    return report.pluginReports
      .flatMap((plugin) => plugin.violations)
      .filter((violation) => violation.severity === 'error')
      .flatMap((violation) =>
        violation.violatingConstructs.map((r) => `${violation.ruleName} ${r.constructPath}`),
      );
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

const ENV = { account: '123456789012', region: 'eu-west-1' };
const GITHUB = { githubRepository: 'acme/infra' };

describe('cdk-nag acknowledgements', () => {
  it.each([
    ['an environment-agnostic stack', {}],
    ['an environment-agnostic stack with GitHub roles', GITHUB],
    ['a stack with account and region', ENV],
    ['a stack with account, region and GitHub roles', { ...ENV, ...GITHUB }],
  ])('leave no cdk-nag error in %s', (_name, context) => {
    expect(nagErrors(context)).toEqual([]);
  });
});
