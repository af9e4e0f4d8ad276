// `npm run plan-fixtures`: makes the plan JSON of each case under test/fixtures/plans with real
// Terraform, so that core/plan-diff.ts is tested on what Terraform really writes. A case is a
// folder with an optional before.tf (applied first, into a local state) and an after.tf (then
// planned); `show -json` of that plan is written to plan.json with everything that changes from
// run to run (versions, timestamps, generated ids, temp paths) normalised.
import { copyFile, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderCliConfig, terraformEnvironment } from '../executor-image/src/terraform.ts';
import { probeEngine, whichOnPath } from './engine.ts';
import { REPO_ROOT, pluginCacheDir, providerMirrorDir } from './paths.ts';
import { readMirror } from './provider-mirror.ts';
import { run } from './process.ts';

export const PLAN_FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'plans');

/** Stands in for every generated UUID, numbered in order of first appearance. */
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
/** RFC 3339 times of "now" (not the fixed ones a configuration writes, which end in Z). */
const NOW =
  /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+Z/g;

/** Real Terraform (not OpenTofu): $STEPFORM_TERRAFORM_BIN, else `terraform` on PATH. */
export async function terraformBinary(env = process.env): Promise<string> {
  const path = env.STEPFORM_TERRAFORM_BIN ?? (await whichOnPath('terraform', env));
  if (!path) throw new Error('plan fixtures need `terraform` on PATH');
  const engine = await probeEngine(path, 'PATH', env);
  if ('problem' in engine) throw new Error(engine.problem);
  if (engine.name !== 'terraform') throw new Error(`${path} is not Terraform`);
  return path;
}

/**
 * The plan JSON with what differs between runs replaced by fixed stand-ins: the Terraform
 * version, the plan's timestamp, the work folder, generated UUIDs and "now" timestamps.
 */
export function normalizePlanJson(plan: unknown, workDir: string): unknown {
  const uuids = new Map<string, string>();
  const text = (value: string): string =>
    value
      .split(workDir)
      .join('/work')
      .replace(UUID, (uuid) => {
        const known = uuids.get(uuid);
        if (known) return known;
        const stand = `00000000-0000-0000-0000-${String(uuids.size + 1).padStart(12, '0')}`;
        uuids.set(uuid, stand);
        return stand;
      })
      .replace(NOW, '2000-01-01T00:00:00Z');
  const walk = (value: unknown, key?: string): unknown => {
    if (key === 'terraform_version' && typeof value === 'string') return '0.0.0';
    if (key === 'timestamp' && typeof value === 'string') return '2000-01-01T00:00:00Z';
    if (typeof value === 'string') return text(value);
    if (Array.isArray(value)) return value.map((item) => walk(item));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [text(k), walk(v, k)]));
    }
    return value;
  };
  return walk(plan);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Applies the case's before.tf (if any), plans its after.tf, and returns the normalised JSON. */
export async function generatePlanJson(caseDir: string, terraform: string): Promise<unknown> {
  const work = await mkdtemp(join(tmpdir(), 'stepform-plan-fixture-'));
  try {
    const mirror = providerMirrorDir(process.env);
    const cache = pluginCacheDir(process.env);
    await mkdir(cache, { recursive: true });
    const config = join(work, 'terraform.tfrc');
    await writeFile(config, renderCliConfig(mirror, await readMirror(mirror), cache));
    const env = terraformEnvironment(process.env, config);
    const module = join(work, 'module');
    await mkdir(module);
    const tf = async (args: readonly string[]): Promise<string> => {
      const result = await run(terraform, args, { cwd: module, env });
      if (result.exitCode !== 0) {
        throw new Error(`terraform ${args.join(' ')} in ${caseDir}: ${result.stderr.slice(-2000)}`);
      }
      return result.stdout;
    };
    const main = join(module, 'main.tf');
    if (await exists(join(caseDir, 'before.tf'))) {
      await copyFile(join(caseDir, 'before.tf'), main);
      await tf(['init', '-input=false', '-no-color']);
      await tf(['apply', '-input=false', '-no-color', '-auto-approve']);
    }
    await copyFile(join(caseDir, 'after.tf'), main);
    await tf(['init', '-input=false', '-no-color']);
    await tf(['plan', '-input=false', '-no-color', '-out=plan.tfplan']);
    const json = await tf(['show', '-json', 'plan.tfplan']);
    return normalizePlanJson(JSON.parse(json), work);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The cases: every folder of test/fixtures/plans with an after.tf. */
export async function planFixtureCases(): Promise<string[]> {
  const entries = await readdir(PLAN_FIXTURES, { withFileTypes: true });
  const cases: string[] = [];
  for (const entry of entries) {
    if (entry.isDirectory() && (await exists(join(PLAN_FIXTURES, entry.name, 'after.tf')))) {
      cases.push(entry.name);
    }
  }
  return cases.sort();
}

export function planJsonText(plan: unknown): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}

async function main(names: readonly string[]): Promise<void> {
  const terraform = await terraformBinary();
  const started = performance.now();
  for (const name of names.length > 0 ? names : await planFixtureCases()) {
    const caseStarted = performance.now();
    const plan = await generatePlanJson(join(PLAN_FIXTURES, name), terraform);
    await writeFile(join(PLAN_FIXTURES, name, 'plan.json'), planJsonText(plan));
    console.log(`wrote ${name}/plan.json (${Math.round(performance.now() - caseStarted)} ms)`);
  }
  console.log(`done in ${Math.round(performance.now() - started)} ms`);
}

if (import.meta.main) await main(process.argv.slice(2));
