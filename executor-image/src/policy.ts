// Policy checks in the executor: each policy set of stepform.yaml (a folder of Rego in the
// checkout) evaluated by OPA against the project's plan JSON, with the run's environment,
// project and commit as data. One `opa eval` per namespace and rule, each started from an
// argument array (never a shell), in the executor's process group, with a time limit. What the
// output means is core's (core/policy.ts).
import { readdir, realpath, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { PolicyConfig } from '../../core/config/stepform-config.ts';
import {
  JobInterrupted,
  PolicyEvaluationFailed,
  PolicyInvalid,
  ToolchainMissing,
} from '../../core/errors.ts';
import {
  POLICY_DATA,
  type PolicyData,
  type PolicyQuery,
  type PolicyResult,
  type PolicyViolation,
  parseOpaEval,
  policyDataDocument,
  policyQueries,
  policyResult,
} from '../../core/policy.ts';
import { parseInput } from '../../core/validation.ts';
import { type RunResult, run } from '../../toolchain/process.ts';
import { SETUP_COMMAND } from '../../toolchain/setup-command.ts';

/** Each `opa eval` may take this long: policies over one plan take well under a second. */
export const DEFAULT_POLICY_TIMEOUT_MS = 60_000;

/** The generated data document, written in the job's work folder. */
export const POLICY_DATA_FILE = 'stepform-policy-data.json';

export interface PolicyCheck {
  /** The OPA binary (toolchain/opa.ts resolveOpa). */
  readonly opa: string;
  /** The repository checkout: policy paths are relative to it and must stay inside. */
  readonly checkout: string;
  readonly policies: readonly PolicyConfig[];
  /** The project's `show -json` of the saved plan. */
  readonly planJsonFile: string;
  readonly data: PolicyData;
  /** A folder of the job's own, for the data document. */
  readonly workDir: string;
  /** The job's signal: aborting it stops OPA and the check (JobInterrupted). */
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  /** Applied to every message and resource address (they may quote plan values). */
  readonly mask?: (text: string) => string;
  readonly log?: (line: string) => void;
  /** OPA's environment (the executor's, by default). */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The set's folder in the checkout, `${env}` filled, resolved through links: it must be a
 * folder of the repository holding at least one .rego file (as conftest, no policy is an
 * error: a blocking set that checks nothing would pass everything).
 */
export async function resolvePolicyDir(
  checkout: string,
  policy: Pick<PolicyConfig, 'name' | 'path'>,
  environment: string,
): Promise<string> {
  const root = await realpath(checkout);
  const path = policy.path.replaceAll('${env}', environment);
  let real: string;
  try {
    real = await realpath(resolve(root, path));
  } catch {
    throw new PolicyInvalid(`policy ${policy.name}: ${path} does not exist at this commit`);
  }
  if (real !== root && !real.startsWith(root + sep))
    throw new PolicyInvalid(`policy ${policy.name}: ${path} resolves outside the repository`);
  if (!(await stat(real)).isDirectory())
    throw new PolicyInvalid(`policy ${policy.name}: ${path} is not a folder`);
  const entries = await readdir(real, { recursive: true, withFileTypes: true });
  if (!entries.some((entry) => entry.isFile() && entry.name.endsWith('.rego')))
    throw new PolicyInvalid(`policy ${policy.name}: ${path} holds no .rego file`);
  return real;
}

/** The arguments of one query: policies and run data as data, the plan as input. */
export function opaEvalArgs(
  policyDir: string,
  dataFile: string,
  planJsonFile: string,
  query: PolicyQuery,
): string[] {
  return [
    'eval',
    '--format',
    'json',
    '--data',
    policyDir,
    '--data',
    dataFile,
    '--input',
    planJsonFile,
    query.text,
  ];
}

async function evalQuery(
  check: PolicyCheck,
  args: readonly string[],
  query: PolicyQuery,
): Promise<RunResult> {
  const timeoutMs = check.timeoutMs ?? DEFAULT_POLICY_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = check.signal ? AbortSignal.any([check.signal, timeout]) : timeout;
  if (check.signal?.aborted)
    throw new JobInterrupted('the job was stopped before its policy checks');
  let result: RunResult;
  try {
    // Not detached: OPA stays in the executor's process group and dies with the job. It holds
    // no lock or state, so SIGKILL is a safe way to stop it.
    result = await run(check.opa, args, {
      cwd: check.checkout,
      env: check.env ?? process.env,
      signal,
      killSignal: 'SIGKILL',
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES')
      throw new ToolchainMissing(
        `OPA cannot be run at ${check.opa} (${code}): run \`${SETUP_COMMAND}\` to build it, or set STEPFORM_OPA`,
      );
    throw error;
  }
  if (check.signal?.aborted)
    throw new JobInterrupted(`the job was stopped during opa eval ${query.text}`);
  if (timeout.aborted)
    throw new PolicyEvaluationFailed(
      `opa eval ${query.text} did not finish within ${timeoutMs / 1000} s`,
    );
  // 0: evaluated (a rule may be undefined); 1 and 2: errors, printed as JSON on stdout.
  if (result.exitCode === null || ![0, 1, 2].includes(result.exitCode) || result.stdout === '')
    throw new PolicyEvaluationFailed(
      `opa eval ${query.text} failed (exit ${result.exitCode ?? result.signal}): ` +
        (result.stderr || result.stdout).trim().slice(0, 2000),
    );
  return result;
}

/**
 * Evaluates every policy set against the plan: one result per set, in the order of
 * stepform.yaml. Throws PolicyInvalid when a set cannot be evaluated as written (it names the
 * Rego file and line), ToolchainMissing without OPA, PolicyEvaluationFailed when OPA fails
 * or runs out of time, JobInterrupted when the job is stopped.
 */
export async function evaluatePolicies(check: PolicyCheck): Promise<PolicyResult[]> {
  const data = parseInput(POLICY_DATA, check.data, 'policy.data');
  const dataFile = join(check.workDir, POLICY_DATA_FILE);
  await writeFile(dataFile, JSON.stringify(policyDataDocument(data)), { mode: 0o600 });
  const root = await realpath(check.checkout);
  const mask = check.mask ?? ((text: string) => text);
  const results: PolicyResult[] = [];
  for (const policy of check.policies) {
    const policyDir = await resolvePolicyDir(root, policy, data.environment);
    const violations: PolicyViolation[] = [];
    for (const query of policyQueries(policy)) {
      const args = opaEvalArgs(policyDir, dataFile, check.planJsonFile, query);
      check.log?.(`$ opa eval --data ${relative(root, policyDir) || '.'} ${query.text}`);
      const { stdout } = await evalQuery(check, args, query);
      for (const violation of parseOpaEval(stdout, query, { policy: policy.name, root })) {
        violations.push({
          ...violation,
          message: mask(violation.message),
          ...(violation.resource === undefined ? {} : { resource: mask(violation.resource) }),
        });
      }
    }
    const result = policyResult(policy, data.project, violations);
    check.log?.(
      `policy ${policy.name}: ${result.passed ? 'passed' : 'failed'} ` +
        `(${violations.filter((v) => v.rule === 'deny').length} deny, ` +
        `${violations.filter((v) => v.rule === 'warn').length} warn; on_failure ${policy.on_failure})`,
    );
    results.push(result);
  }
  return results;
}
