// cfn-lint on the template a deploy would upload, as docs/deploy.md synthesizes it (account,
// region and GitHub roles set). The CDK keeps each state machine's definition in an S3 asset
// (DefinitionS3Location), which cfn-lint cannot read, so the definitions are inlined first:
// then its ASL rules check every state as well as the rest of the template.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../toolchain/process.ts';
import { ensurePythonTools, pythonToolPath } from '../../toolchain/python-tools.ts';
import { WORKFLOWS } from '../../state-machines/workflows.ts';
import { buildApp } from '../bin/app.ts';

interface Template {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

interface Finding {
  Level: 'Error' | 'Warning' | 'Informational';
  Rule: { Id: string };
  Message: string;
  Location: { Path: (string | number)[] };
}

const STATE_MACHINE = 'AWS::StepFunctions::StateMachine';

/** The deploy's template with every state machine definition inlined from its asset. */
function synthesizedTemplate(): Template {
  const outdir = mkdtempSync(join(tmpdir(), 'stepform-cfn-lint-'));
  try {
    const { app, stack } = buildApp({
      outdir,
      context: {
        'aws:cdk:bundling-stacks': [],
        account: '123456789012',
        region: 'eu-west-1',
        githubRepository: 'acme/infra',
      },
    });
    app.synth();
    const template = JSON.parse(
      readFileSync(join(outdir, `${stack.artifactId}.template.json`), 'utf8'),
    ) as Template;
    for (const resource of Object.values(template.Resources)) {
      // The workflows' definitions are assets; the image build's waiter has its own inline.
      if (resource.Type !== STATE_MACHINE || !resource.Properties?.DefinitionS3Location) continue;
      const { DefinitionS3Location: location, ...rest } = resource.Properties;
      const key = (location as { Key: string }).Key;
      const definition = JSON.parse(readFileSync(join(outdir, `asset.${key}`), 'utf8')) as unknown;
      resource.Properties = { ...rest, Definition: definition };
    }
    return template;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

async function cfnLint(template: Template): Promise<Finding[]> {
  const dir = mkdtempSync(join(tmpdir(), 'stepform-cfn-lint-'));
  try {
    const file = join(dir, 'template.json');
    writeFileSync(file, JSON.stringify(template, null, 1));
    const result = await run(pythonToolPath(process.env, 'cfn-lint'), ['--format', 'json', file]);
    // Exit codes are bit flags of the levels found (2 errors, 4 warnings, 8 informational).
    if (result.exitCode === 1 || result.stdout.trim() === '') {
      throw new Error(`cfn-lint failed (${String(result.exitCode)}): ${result.stderr}`);
    }
    return JSON.parse(result.stdout) as Finding[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const errors = (findings: readonly Finding[]) =>
  findings
    .filter((f) => f.Level === 'Error')
    .map((f) => `${f.Rule.Id} ${f.Location.Path.join('/')}: ${f.Message}`);

let template: Template;

beforeAll(async () => {
  await ensurePythonTools(process.env, (line) => process.stdout.write(`${line}\n`));
  template = synthesizedTemplate();
}, 600_000);

describe('cfn-lint on the synthesized template', () => {
  it('inlines the definition of every workflow', () => {
    const machines = Object.values(template.Resources).filter((r) => r.Type === STATE_MACHINE);
    // The workflows, and the provider framework's waiter of the executor image build.
    expect(machines).toHaveLength(WORKFLOWS.length + 1);
    const workflows = machines.filter((machine) => machine.Properties?.StateMachineName);
    expect(workflows).toHaveLength(WORKFLOWS.length);
    for (const machine of workflows) {
      expect(machine.Properties).not.toHaveProperty('DefinitionS3Location');
      expect(machine.Properties?.Definition).toMatchObject({ StartAt: expect.any(String) });
    }
  });

  it('finds no error', async () => {
    expect(errors(await cfnLint(template))).toEqual([]);
  });

  it('checks the inlined states: a broken Task is an error', async () => {
    const broken = structuredClone(template);
    const machine = Object.values(broken.Resources).find(
      (r) => r.Type === STATE_MACHINE && r.Properties?.Definition,
    )!;
    const definition = machine.Properties!.Definition as { States: Record<string, unknown> };
    definition.States.Broken = { Type: 'Task', TimeoutSeconds: 'soon', End: true };
    const found = errors(await cfnLint(broken));
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^E3601 .*States\/Broken.*'Resource' is a required property/),
        expect.stringMatching(/^E3601 .*States\/Broken\/TimeoutSeconds.*not of type 'number'/),
      ]),
    );
  });
});
