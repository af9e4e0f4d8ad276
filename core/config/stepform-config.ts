// The repository's configuration, `stepform.yaml` at its root: which projects there are, how
// each runs in each environment (workspace, var files), what depends on what, and what each
// environment demands. Parsed once per boundary (CLI, action, PrepareRun) by parseConfig; a
// bad file is InvalidInput naming the key (`stepform.yaml: projects.1.depends_on.0`). Pure.
import { posix } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ENVIRONMENT_NAME, POLICY_SET, PROJECT_DIR, USER_NAME } from '../contracts/job-input.ts';
import {
  AFTER_APPLY,
  DEFAULT_MAX_PARALLEL,
  GITHUB_REPOSITORY,
  MAX_PARALLEL_LIMIT,
  PROJECT_NAME,
} from '../contracts/workflow-input.ts';
import { parseDriftSchedule } from '../drift-schedule.ts';
import { parseDuration } from '../duration.ts';
import { InvalidInput } from '../errors.ts';

/** Where the file is, relative to the repository root. */
export const CONFIG_FILE = 'stepform.yaml';

/** What a change must touch for a project to be affected, when neither it nor defaults say. */
export const DEFAULT_WHEN_MODIFIED = [
  '**/*.tf',
  '**/*.tfvars',
  '**/*.tofu',
  '.terraform.lock.hcl',
] as const;

export { DEFAULT_MAX_PARALLEL };

/** The one placeholder paths and workspace names may hold. */
const ENV_PLACEHOLDER = '${env}';
const ANY_PLACEHOLDER = /\$\{([^}]*)\}/g;

/** Only `${env}`: anything else in `${…}` is a mistake the user should hear about. */
function onlyEnvPlaceholder(value: string): boolean {
  return [...value.matchAll(ANY_PLACEHOLDER)].every((m) => m[0] === ENV_PLACEHOLDER);
}

const PLACEHOLDER_MESSAGE = 'may hold no placeholder but ${env}';

/** A path relative to the project's dir; `../` may leave the dir, never the repository. */
const RELATIVE_PATH = z
  .string()
  .min(1, 'must not be empty')
  .refine((value) => !value.startsWith('/') && !value.includes('\0'), 'must be a relative path')
  .refine(onlyEnvPlaceholder, PLACEHOLDER_MESSAGE);

/** A glob relative to the project's dir (picomatch syntax; `../` allowed). */
const GLOB = z
  .string()
  .min(1, 'must not be empty')
  .refine((value) => !value.startsWith('/'), 'must be relative to the project dir');

/** Terraform's workspace names: letters, digits, "_", "." and "-" (after `${env}`). */
const WORKSPACE_PATTERN = /^[A-Za-z0-9_.-]{1,90}$/;
const WORKSPACE = z
  .string()
  .refine(onlyEnvPlaceholder, PLACEHOLDER_MESSAGE)
  .refine(
    (value) => WORKSPACE_PATTERN.test(value.replaceAll(ENV_PLACEHOLDER, 'env')),
    'must be letters, digits, "_", "." and "-" (and ${env})',
  );

const DURATION = z.string().refine((value) => {
  try {
    parseDuration(value);
    return true;
  } catch {
    return false;
  }
}, 'must be a duration such as 90s, 30m, 4h, 2d or 1h30m');

const APPROVER = USER_NAME;

const ENVIRONMENT = z.strictObject({
  approval: z
    .strictObject({
      /** Every apply here waits for an approval, whatever --auto-approve says. */
      required: z.boolean().default(false),
      approvers: z.array(APPROVER).min(1).optional(),
      timeout: DURATION.optional(),
    })
    .optional(),
  /** A destroy, or any plan that deletes or replaces, needs an approval. */
  protected: z.boolean().default(false),
  ephemeral: z
    .strictObject({
      default_ttl: DURATION.optional(),
      max_ttl: DURATION.optional(),
    })
    .optional(),
});

const PROJECT = z.strictObject({
  name: PROJECT_NAME,
  dir: PROJECT_DIR,
  depends_on: z.array(PROJECT_NAME).default([]),
  when_modified: z.array(GLOB).min(1).optional(),
  workspace: WORKSPACE.optional(),
  var_files: z.array(RELATIVE_PATH).optional(),
});

/** EventBridge Scheduler's recurring syntax, read by core/drift-schedule.ts. */
const DRIFT_SCHEDULE = z.string().superRefine((value, ctx) => {
  try {
    parseDriftSchedule(value, 'schedule');
  } catch (error) {
    if (!(error instanceof InvalidInput)) throw error;
    ctx.addIssue({ code: 'custom', message: error.message.slice('schedule: '.length) });
  }
});

/**
 * The scheduled drift check: when (UTC) and which environments (default: every environment
 * of `environments`). `stepform drift --stack … --schedule` writes it to EventBridge Scheduler;
 * `stepform serve` fires it on this machine.
 */
const DRIFT = z.strictObject({
  schedule: DRIFT_SCHEDULE,
  environments: z.array(ENVIRONMENT_NAME).min(1).optional(),
});

/** Checked the same way again where a run carries it to its plan jobs. */
const POLICY = POLICY_SET;

// Defined with the run input, which carries them from the file to the apply.
export { AFTER_APPLY, GITHUB_REPOSITORY };

export const STEPFORM_CONFIG = z.strictObject({
  $schema: z.string().optional(),
  version: z.literal(1, 'must be 1'),
  defaults: z
    .strictObject({
      var_files: z.array(RELATIVE_PATH).default([]),
      when_modified: z
        .array(GLOB)
        .min(1)
        .default([...DEFAULT_WHEN_MODIFIED]),
      workspace: WORKSPACE.optional(),
    })
    .default({ var_files: [], when_modified: [...DEFAULT_WHEN_MODIFIED] }),
  /** When declared, the only environments a run may name. */
  environments: z
    .record(z.string(), ENVIRONMENT)
    .superRefine((environments, ctx) => {
      for (const name of Object.keys(environments)) {
        const parsed = ENVIRONMENT_NAME.safeParse(name);
        if (!parsed.success) {
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: parsed.error.issues[0]?.message ?? 'is not an environment name',
          });
        }
      }
    })
    .optional(),
  projects: z.array(PROJECT).min(1, 'must list at least one project'),
  /** How many projects of one layer run at once. */
  max_parallel: z.number().int().min(1).max(MAX_PARALLEL_LIMIT).default(DEFAULT_MAX_PARALLEL),
  policies: z.array(POLICY).default([]),
  after_apply: z.array(AFTER_APPLY).default([]),
  drift: DRIFT.optional(),
});
export type StepformConfig = z.output<typeof STEPFORM_CONFIG>;
export type ProjectConfig = StepformConfig['projects'][number];
export type EnvironmentConfig = z.output<typeof ENVIRONMENT>;
export type PolicyConfig = StepformConfig['policies'][number];

/** InvalidInput naming a key of the file. */
function invalid(path: readonly (string | number)[], message: string): never {
  throw new InvalidInput([CONFIG_FILE, ...path.map(String)].join('.'), message);
}

/**
 * The checks zod cannot make one value at a time: unique names, dependencies that exist and
 * form no cycle.
 */
function checkProjects(config: StepformConfig): void {
  const index = new Map<string, number>();
  config.projects.forEach((project, i) => {
    if (index.has(project.name))
      invalid(['projects', i, 'name'], `"${project.name}" is listed twice`);
    index.set(project.name, i);
  });
  config.projects.forEach((project, i) => {
    project.depends_on.forEach((dependency, j) => {
      if (!index.has(dependency))
        invalid(['projects', i, 'depends_on', j], `names no project: "${dependency}"`);
      if (dependency === project.name)
        invalid(['projects', i, 'depends_on', j], `"${project.name}" depends on itself`);
    });
  });
  const cycle = findCycle(config.projects);
  if (cycle) {
    const at = index.get(cycle[0] ?? '') ?? 0;
    invalid(['projects', at, 'depends_on'], `form a cycle: ${cycle.join(' → ')}`);
  }
}

/**
 * A drift schedule names environments the file declares; without `environments`, it must name
 * them itself (there is no other list of them to check).
 */
function checkDrift(config: StepformConfig): void {
  const { drift, environments } = config;
  if (drift === undefined) return;
  if (drift.environments === undefined) {
    if (environments === undefined)
      invalid(
        ['drift', 'environments'],
        `must list the environments to check: ${CONFIG_FILE} declares none under environments`,
      );
    return;
  }
  if (environments === undefined) return;
  drift.environments.forEach((name, i) => {
    if (environments[name] === undefined)
      invalid(['drift', 'environments', i], `"${name}" is not an environment of ${CONFIG_FILE}`);
  });
}

/** The environments the drift schedule checks: those it names, else every declared one. */
export function driftEnvironments(config: StepformConfig): string[] {
  return config.drift?.environments ?? Object.keys(config.environments ?? {});
}

/** A dependency cycle as its names (the first repeated at the end), or undefined. */
export function findCycle(
  projects: readonly Pick<ProjectConfig, 'name' | 'depends_on'>[],
): string[] | undefined {
  const byName = new Map(projects.map((p) => [p.name, p]));
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (name: string): string[] | undefined => {
    const at = path.indexOf(name);
    if (at >= 0) return [...path.slice(at), name];
    if (done.has(name)) return undefined;
    path.push(name);
    for (const dependency of byName.get(name)?.depends_on ?? []) {
      const cycle = visit(dependency);
      if (cycle) return cycle;
    }
    path.pop();
    done.add(name);
    return undefined;
  };
  for (const project of projects) {
    const cycle = visit(project.name);
    if (cycle) return cycle;
  }
  return undefined;
}

/**
 * Parses the text of stepform.yaml: YAML (duplicate keys refused), then the schema, then the
 * checks across projects. Every failure is InvalidInput naming the key.
 */
export function parseConfig(text: string): StepformConfig {
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const [error] = document.errors;
  if (error) {
    const line = error.linePos?.[0]?.line;
    throw new InvalidInput(
      line === undefined ? CONFIG_FILE : `${CONFIG_FILE}:${line}`,
      `is not valid YAML: ${error.message.split('\n')[0] ?? error.code}`,
    );
  }
  const parsed = STEPFORM_CONFIG.safeParse(document.toJS({ maxAliasCount: 50 }));
  if (!parsed.success) {
    // A misspelt key is the cause of the "required" issue it leaves: name the key first.
    const { issues } = parsed.error;
    const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0];
    invalid(issue?.path.map(String) ?? [], issue?.message ?? 'is invalid');
  }
  const config = parsed.data;
  checkProjects(config);
  checkDrift(config);
  return config;
}

/** A project as it runs in one environment: placeholders filled, paths from the repository root. */
export interface ResolvedProject {
  readonly name: string;
  readonly dir: string;
  readonly dependsOn: readonly string[];
  /** The Terraform workspace, when the project uses one (else Terraform's `default`). */
  readonly workspace?: string;
  /** Var files, relative to the repository root, in the order Terraform reads them. */
  readonly varFiles: readonly string[];
  readonly whenModified: readonly string[];
}

/** `${env}` replaced by the environment's name. */
function fill(value: string, environment: string): string {
  return value.replaceAll(ENV_PLACEHOLDER, environment);
}

/**
 * The environment's own settings; with `environments` declared, an environment not listed
 * there is InvalidInput naming `field` (the flag or input that named it).
 */
export function environmentConfig(
  config: StepformConfig,
  environment: string,
  field = 'environment',
): EnvironmentConfig {
  if (config.environments === undefined) return { protected: false };
  const found = config.environments[environment];
  if (found === undefined) {
    const known = Object.keys(config.environments).join(', ');
    throw new InvalidInput(
      field,
      `"${environment}" is not an environment of ${CONFIG_FILE} (${known})`,
    );
  }
  return found;
}

/** A project's settings in one environment (the project's own keys replace the defaults). */
export function resolveProject(
  config: StepformConfig,
  project: ProjectConfig,
  environment: string,
): ResolvedProject {
  const index = config.projects.indexOf(project);
  const key = (name: string) => ['projects', index < 0 ? project.name : index, name];
  const varFiles = (project.var_files ?? config.defaults.var_files).map((file, i) => {
    const path = posix.normalize(posix.join(project.dir, fill(file, environment)));
    if (path === '..' || path.startsWith('../'))
      invalid([...key('var_files'), i], `${file} is outside the repository`);
    return path;
  });
  const workspace = project.workspace ?? config.defaults.workspace;
  return {
    name: project.name,
    dir: project.dir,
    dependsOn: project.depends_on,
    ...(workspace === undefined ? {} : { workspace: fill(workspace, environment) }),
    varFiles,
    whenModified: project.when_modified ?? config.defaults.when_modified,
  };
}

/**
 * Checks a project against the files of the commit that runs (every path relative to the
 * repository root): its dir must be a folder there and each var file must exist.
 */
export function checkProjectAtCommit(
  config: StepformConfig,
  project: ResolvedProject,
  files: ReadonlySet<string>,
): void {
  const index = config.projects.findIndex((p) => p.name === project.name);
  const prefix = project.dir === '.' ? '' : `${project.dir}/`;
  if (![...files].some((file) => file.startsWith(prefix)))
    invalid(['projects', index, 'dir'], `${project.dir} is not a folder of the commit`);
  // The list is the project's own, or the defaults' when it has none.
  const listed =
    config.projects[index]?.var_files === undefined
      ? ['defaults', 'var_files']
      : ['projects', index, 'var_files'];
  project.varFiles.forEach((file, i) => {
    if (!files.has(file)) invalid([...listed, i], `${file} does not exist at the commit`);
  });
}
