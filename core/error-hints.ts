// What to do next about an error, where there is an obvious next step: keyed on the stable
// error names of errors.ts (also when a wrapper such as JobFailed names them in its message)
// and on the messages Terraform prints. The CLI prints the hint under the error. Pure.

export interface DescribedError {
  readonly name: string;
  readonly message: string;
}

/** The CLI as a user types it inside their clone (DESIGN.md: `npx stepform`). */
const CLI = 'npx stepform';

interface HintRule {
  /** The error names it applies to (any, when absent). */
  readonly names?: readonly string[];
  /** A pattern the message must match (any message, when absent). */
  readonly pattern?: RegExp;
  readonly hint: (match: RegExpExecArray | undefined) => string;
}

/** The variable a Terraform diagnostic names, quoted, from the text after the match. */
function variableOf(match: RegExpExecArray | undefined): string {
  const name = match ? /variable "([^"]+)"/.exec(match.input.slice(match.index)) : null;
  return name?.[1] === undefined ? 'the variable' : `variable "${name[1]}"`;
}

/** First match wins: Terraform's own messages before the generic name of the wrapper. */
const RULES: readonly HintRule[] = [
  {
    pattern: /No value for required variable|input variable "[^"]+" is not set/,
    hint: (m) =>
      `give ${variableOf(m)} a value: list a .tfvars file that sets it under the project's var_files (or defaults.var_files) in stepform.yaml, or give it a default`,
  },
  {
    pattern: /Reference to undeclared input variable|Value for undeclared variable/,
    hint: (m) =>
      `declare ${variableOf(m)} in the project (a variable block), or stop setting it in the var files that var_files in stepform.yaml lists`,
  },
  {
    pattern: /Error acquiring the state lock[\s\S]*?ID:\s+(\S+)/,
    hint: (m) =>
      `Terraform's state lock is held: when no run uses it any more, ${CLI} command --env ENV --dir DIR -- force-unlock ${m?.[1] ?? 'ID'}`,
  },
  {
    names: ['TerraformFailed'],
    pattern:
      /Argument or block definition required|Unsupported (?:argument|block type|attribute)|Invalid (?:expression|block definition|character|reference)|Missing (?:required argument|newline)|Unclosed configuration block|Duplicate \w+ (?:definition|declaration)/,
    hint: () =>
      'Stepform runs the commit, not your working tree: fix the file named above, commit, and run again',
  },
  {
    names: ['LockHeld'],
    pattern: /project (\S+) in environment (\S+) is locked by run (\S+)/,
    hint: (m) =>
      `see who holds it: ${CLI} locks; once run ${m?.[3] ?? 'RUN'} is gone: ${CLI} unlock ${m?.[2] ?? 'ENV'} --project ${m?.[1] ?? 'NAME'} (--force clears a live one)`,
  },
  {
    names: ['LockHeld'],
    pattern: /is alive and holds ([^\s;,]+) in ([^\s;,]+)/,
    hint: (m) =>
      `see every lock: ${CLI} locks; clear this one anyway (its run may then fail): ${CLI} unlock ${m?.[2] ?? 'ENV'} --project ${m?.[1] ?? 'NAME'} --force`,
  },
  {
    names: ['LockHeld'],
    hint: () =>
      `see who holds each lock: ${CLI} locks; a lock whose run is gone: ${CLI} unlock ENV [--project NAME]`,
  },
  {
    names: ['VarFileInvalid'],
    hint: () =>
      "check var_files in stepform.yaml: each path is relative to the project's folder and must be committed",
  },
  {
    names: ['ProjectDirInvalid'],
    hint: () => `the folder must be committed at that commit; ${CLI} projects lists the projects`,
  },
  {
    names: ['ApprovalExpired'],
    hint: () =>
      'nothing was applied: run it again, and decide within --approval-timeout (or approval.timeout in stepform.yaml)',
  },
  {
    names: ['StalePlan', 'PlanDigestMismatch', 'ForeignPlan', 'PlanNotFound'],
    hint: () => 'nothing was applied: run the apply again to make and approve a fresh plan',
  },
  {
    names: ['PolicyInvalid'],
    pattern: /OPA refused it/,
    hint: () =>
      'fix the Rego at the file and line named above and commit it: `opa check <policy folder>` lists every error',
  },
  {
    names: ['ToolchainMissing'],
    hint: () => `${CLI} doctor says what this machine is missing`,
  },
  {
    names: ['RunNotWaiting', 'NotFound'],
    pattern: /run|approval/i,
    hint: () => `${CLI} runs lists the runs and how each ended`,
  },
  {
    names: ['UnmergedCommit'],
    hint: () => 'merge the change into the default branch first, then apply that commit',
  },
  {
    names: ['InvalidInput'],
    pattern: /is not inside a git repository/,
    hint: () =>
      'run it inside a git repository (git init, then commit your Terraform), or pass --repo PATH',
  },
  {
    names: ['InvalidInput'],
    pattern: /^--commit: HEAD is not a commit/,
    hint: () => 'commit your Terraform first: Stepform runs a commit, not the working tree',
  },
];

/**
 * The error names `error` carries: its own, then those the first line of its message names,
 * as a wrapper names them (`JobFailed: plan failed: TerraformFailed: …`).
 */
export function errorNames(error: DescribedError): string[] {
  const [first = ''] = error.message.split('\n');
  const inner = [...first.matchAll(/\b([A-Z][A-Za-z]+): /g)].map((m) => m[1] ?? '');
  return [...new Set([error.name, ...inner.filter((name) => name !== 'Error')])];
}

/** `JobFailed (TerraformFailed)`: an error by its names alone, for a line that only names it. */
export function errorLabel(error: DescribedError): string {
  const [own, ...inner] = errorNames(error);
  return inner.length === 0 ? (own ?? error.name) : `${own ?? error.name} (${inner.join(', ')})`;
}

/** What to do next about `error`, or undefined when there is no obvious next step. */
export function errorHint(error: DescribedError): string | undefined {
  const names = errorNames(error);
  for (const rule of RULES) {
    if (rule.names && !rule.names.some((name) => names.includes(name))) continue;
    if (!rule.pattern) return rule.hint(undefined);
    const match = rule.pattern.exec(error.message);
    if (match) return rule.hint(match);
  }
  return undefined;
}
