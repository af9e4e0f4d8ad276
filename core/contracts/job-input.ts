// The executor's input: one Terraform job. Parsed once, in the entrypoint; nothing past the
// entrypoint sees unvalidated input.
import { isAbsolute, posix } from 'node:path';
import { z } from 'zod';

export const COMMIT_SHA = z
  .string()
  .regex(/^[0-9a-f]{40}$/, 'must be a full 40-character lowercase hex commit SHA');

export const SHA256_HEX = z.string().regex(/^[0-9a-f]{64}$/, 'must be a 64-character hex SHA-256');

export const ENVIRONMENT_NAME = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,62}$/,
    'must be 1-63 characters of a-z, 0-9, "_" and "-", starting with a letter or digit',
  );

/**
 * A run id names the Step Functions execution (at most 80 characters) and, prefixed with
 * `stepform-`, each Batch job (letters, digits, "_" and "-" only), so it is both.
 */
export const RUN_ID_LIMIT = 80;
export const RUN_ID = z
  .string()
  .regex(
    new RegExp(`^[A-Za-z0-9][A-Za-z0-9_-]{0,${RUN_ID_LIMIT - 1}}$`),
    `must be 1-${RUN_ID_LIMIT} characters of A-Z, a-z, 0-9, "_" and "-"`,
  );

/**
 * A Terraform workspace name (letters, digits, "_", "." and "-"). `default` is Terraform's
 * own, the same as naming none.
 */
export const WORKSPACE_NAME = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,90}$/, 'must be 1-90 characters of A-Z, a-z, 0-9, "_", "." and "-"')
  .refine((value) => value !== '.' && value !== '..', 'must not be "." or ".."');

/** The workspace a job selects: undefined for Terraform's default one. */
export function namedWorkspace(workspace: string | undefined): string | undefined {
  return workspace === 'default' ? undefined : workspace;
}

/** The folder of a project's states in an environment, below the backend's root: one segment. */
export function stateFolder(environment: string, projectDir: string): string {
  const project = projectDir === '.' ? '%2E' : encodeURIComponent(projectDir);
  return `${environment}/${project}`;
}

/** Where a named workspace's states are, below the project's state folder. */
export const WORKSPACES_FOLDER = 'workspaces';

/**
 * Where a project's state lives in an environment, under the backend's state folder or key
 * prefix: one state per environment, project and workspace, the project one reversible path
 * segment (`dev/infra%2Fapp/terraform.tfstate`, or with workspace `blue`
 * `dev/infra%2Fapp/workspaces/blue/terraform.tfstate`).
 */
export function stateKey(environment: string, projectDir: string, workspace?: string): string {
  const named = namedWorkspace(workspace);
  const folder = stateFolder(environment, projectDir);
  return named === undefined
    ? `${folder}/terraform.tfstate`
    : `${folder}/${WORKSPACES_FOLDER}/${named}/terraform.tfstate`;
}

const SAFE_ABSOLUTE_PATH = /^\/[^\0\n\r]*$/;

export const ABSOLUTE_PATH = z
  .string()
  .refine(
    (value) => isAbsolute(value) && SAFE_ABSOLUTE_PATH.test(value),
    'must be an absolute path',
  );

/** Each segment starts with a letter, digit or "_" (so never "..", never hidden). */
const PROJECT_DIR_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*\/?$/;

/** A file inside the repository, relative to its root (a var file). */
export const REPOSITORY_FILE = z
  .string()
  .regex(
    /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/,
    'must be a file inside the repository (segments of letters, digits, ".", "_", "-"; no "..")',
  );

/** A folder inside the repository, relative to its root; "." is the root itself. */
export const PROJECT_DIR = z
  .string()
  .refine(
    (value) => value === '.' || PROJECT_DIR_PATTERN.test(value),
    'must be a relative path inside the repository (segments of letters, digits, ".", "_", "-"; no "..")',
  )
  .transform((value) => (value === '.' ? '.' : posix.normalize(value).replace(/\/$/, '')));

/** A local repository (absolute path) or an https:// remote without credentials in it. */
export const REPOSITORY = z
  .string()
  .refine(
    (value) =>
      (isAbsolute(value) && SAFE_ABSOLUTE_PATH.test(value)) ||
      /^https:\/\/[A-Za-z0-9.-]+(:\d{1,5})?(\/[A-Za-z0-9._~-]+)+\/?$/.test(value),
    'must be an absolute path or an https:// URL without credentials',
  );

export const BACKEND = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('local'),
    /** Root of the local state: one state file per environment and project below it. */
    stateDir: ABSOLUTE_PATH,
  }),
  z.strictObject({
    type: z.literal('s3'),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name'),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'must be an AWS region such as eu-west-1'),
    keyPrefix: z
      .string()
      .regex(
        /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/,
        'must be a key prefix such as "stepform/state"',
      )
      .default('stepform'),
    kmsKeyId: z
      .string()
      .regex(/^[A-Za-z0-9:/_-]{1,2048}$/, 'must be a KMS key id, alias or ARN')
      .optional(),
  }),
]);
export type Backend = z.output<typeof BACKEND>;

/**
 * Where a job's artifacts folder is on AWS Batch: a folder of the container that the executor
 * image makes for the job's user, uploaded to S3 when the job ends.
 */
export const BATCH_ARTIFACTS_ROOT = '/artifacts';

/** A project's name in stepform.yaml (and in lock keys, run records and PR comments). */
export const PROJECT_NAME = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/,
    'must be 1-63 characters of letters, digits, "_", "." and "-", starting with a letter or digit',
  );

/** A person's name as approvers and policy owners are listed. */
export const USER_NAME = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$/, 'must be a user name');

/** stepform.yaml's policy set: a folder of Rego checked against each plan (core/policy.ts). */
export const POLICY_SET = z.strictObject({
  name: PROJECT_NAME,
  /** A folder of Rego files inside the repository, relative to its root. */
  path: PROJECT_DIR,
  /** block: a failed check stops the run before its approval, unless an owner overrides it. */
  on_failure: z.enum(['block', 'warn']).default('block'),
  owners: z.array(USER_NAME).max(50).default([]),
  /** The Rego packages whose deny and warn rules count (conftest's default: main). */
  namespaces: z
    .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*$/, 'must be a Rego package name'))
    .min(1)
    .max(16)
    .optional(),
});
export type PolicySet = z.output<typeof POLICY_SET>;

/** The policy checks a plan job runs on its plan, and what the policies may read besides it. */
export const POLICY_CHECKS = z.strictObject({
  sets: z.array(POLICY_SET).min(1).max(16),
  /** The project's name (its folder's when stepform.yaml names none). */
  project: z.string().min(1).max(200),
  /** The environment is `protected: true` in stepform.yaml. */
  protected: z.boolean(),
});
export type PolicyChecks = z.output<typeof POLICY_CHECKS>;

const COMMON = {
  runId: RUN_ID,
  repository: REPOSITORY,
  commit: COMMIT_SHA,
  projectDir: PROJECT_DIR,
  environment: ENVIRONMENT_NAME,
  backend: BACKEND,
  /** Where the result, the log and the plan are written for the next workflow step. */
  artifactsDir: ABSOLUTE_PATH,
  /** The Terraform workspace to select (created when missing); none: the default one. */
  workspace: WORKSPACE_NAME.optional(),
  /** `-var-file`s for plan, destroy and import, relative to the repository root, in order. */
  varFiles: z.array(REPOSITORY_FILE).max(32).default([]),
};

export const PLAN_REF = z.strictObject({
  /** The artifacts folder of the run that made the plan. */
  dir: ABSOLUTE_PATH,
  /** The digest that was reviewed and approved: the plan file must still have it. */
  sha256: SHA256_HEX,
});
export type PlanRef = z.output<typeof PLAN_REF>;

export const JOB = z.discriminatedUnion('verb', [
  z.strictObject({ ...COMMON, verb: z.literal('plan'), policyChecks: POLICY_CHECKS.optional() }),
  z.strictObject({ ...COMMON, verb: z.literal('apply'), plan: PLAN_REF }),
  z.strictObject({
    ...COMMON,
    verb: z.literal('plan-apply'),
    policyChecks: POLICY_CHECKS.optional(),
  }),
  z.strictObject({ ...COMMON, verb: z.literal('destroy'), policyChecks: POLICY_CHECKS.optional() }),
  z.strictObject({
    ...COMMON,
    verb: z.literal('command'),
    args: z.array(z.string()).min(1).max(8),
  }),
]);
export type Job = z.output<typeof JOB>;
export type JobInput = z.input<typeof JOB>;
export type Verb = Job['verb'];
export const VERBS = [
  'plan',
  'apply',
  'plan-apply',
  'destroy',
  'command',
] as const satisfies readonly Verb[];
