// Running Terraform/OpenTofu for one job: a clean environment, a generated CLI configuration
// that points at the provider mirror, the backend chosen by the job, and every call started
// with an argument array and streamed, masked, into the job log.
import type { Engine } from '../../toolchain/engine.ts';
import type { MirroredProvider } from '../../toolchain/provider-mirror.ts';
import { type RunResult, run } from '../../toolchain/process.ts';
import { InvalidInput, JobInterrupted, TerraformFailed } from '../../core/errors.ts';
import { type TerraformPaths, terraformErrorDetail } from '../../core/terraform-errors.ts';
import {
  type Backend,
  WORKSPACES_FOLDER,
  namedWorkspace,
  stateFolder,
  stateKey,
} from '../../core/contracts/job-input.ts';
import type { JobLog } from './job-log.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** Name of the override file the executor writes next to the root module. */
export const BACKEND_OVERRIDE_FILE = 'stepform_backend_override.tf.json';

export { stateKey };

/**
 * The root module may declare any backend or none; this override file makes it the job's.
 * JSON syntax, so no value is ever interpolated into HCL.
 */
export function backendOverride(backend: Backend): object {
  return { terraform: { backend: { [backend.type]: {} } } };
}

/**
 * The backend's settings for the job's state (core's stateKey layout). With a named workspace,
 * Terraform puts its state at `<workspace folder>/<name>/terraform.tfstate`, so the folder is
 * the project's `workspaces/`; the default workspace is never used then.
 */
export function backendConfigArgs(
  backend: Backend,
  environment: string,
  projectDir: string,
  workspace?: string,
): string[] {
  const named = namedWorkspace(workspace);
  const workspaces = `${stateFolder(environment, projectDir)}/${WORKSPACES_FOLDER}`;
  switch (backend.type) {
    case 'local':
      return [
        `-backend-config=path=${backend.stateDir}/${stateKey(environment, projectDir)}`,
        ...(named === undefined
          ? []
          : [`-backend-config=workspace_dir=${backend.stateDir}/${workspaces}`]),
      ];
    case 's3':
      return [
        `-backend-config=bucket=${backend.bucket}`,
        ...(named === undefined
          ? [`-backend-config=key=${backend.keyPrefix}/${stateKey(environment, projectDir)}`]
          : [
              // <workspace_key_prefix>/<name>/<key>: the same layout as the local backend's.
              '-backend-config=key=terraform.tfstate',
              `-backend-config=workspace_key_prefix=${backend.keyPrefix}/${workspaces}`,
            ]),
        `-backend-config=region=${backend.region}`,
        '-backend-config=encrypt=true',
        '-backend-config=use_lockfile=true',
        ...(backend.kmsKeyId ? [`-backend-config=kms_key_id=${backend.kmsKeyId}`] : []),
      ];
  }
}

function hclString(field: string, value: string): string {
  if (/[\0\n\r]|\$\{|%\{/.test(value))
    throw new InvalidInput(field, 'may not contain control characters, "${" or "%{"');
  return JSON.stringify(value);
}

/**
 * The CLI configuration: providers present in the mirror come only from it (no registry is
 * asked for them); everything else may still come from its registry.
 */
export function renderCliConfig(
  mirrorDir: string,
  mirrored: readonly MirroredProvider[],
  pluginCacheDir?: string,
): string {
  const addresses = [
    ...new Set(mirrored.map((p) => `${p.hostname}/${p.namespace}/${p.type}`)),
  ].sort();
  const list = addresses.map((a) => JSON.stringify(a)).join(', ');
  const lines = ['provider_installation {'];
  if (addresses.length > 0) {
    lines.push(
      '  filesystem_mirror {',
      `    path    = ${hclString('mirror', mirrorDir)}`,
      `    include = [${list}]`,
      '  }',
    );
    lines.push('  direct {', `    exclude = [${list}]`, '  }');
  } else {
    lines.push('  direct {}');
  }
  lines.push('}');
  if (pluginCacheDir)
    lines.push(`plugin_cache_dir = ${hclString('pluginCacheDir', pluginCacheDir)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The environment Terraform runs with: the caller's, less every TF_* variable that could
 * change what runs (TF_CLI_ARGS*, TF_WORKSPACE, TF_DATA_DIR...) and Stepform's own settings;
 * TF_VAR_* inputs pass through.
 */
export function terraformEnvironment(base: Env, cliConfigFile: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) {
    if (value === undefined) continue;
    if (key.startsWith('TF_') && !key.startsWith('TF_VAR_')) continue;
    if (key.startsWith('STEPFORM_')) continue;
    env[key] = value;
  }
  return {
    ...env,
    TF_CLI_CONFIG_FILE: cliConfigFile,
    TF_IN_AUTOMATION: '1',
    TF_INPUT: '0',
    CHECKPOINT_DISABLE: '1',
  };
}

export interface TerraformRunOptions {
  /** Keep stdout out of the log (JSON that the executor reads and masks itself). */
  readonly quiet?: boolean;
  /** Exit codes that are not failures (`plan -detailed-exitcode` exits 2 on changes). */
  readonly okExitCodes?: readonly number[];
  /** Added to this run's environment only (`init`'s git credentials for module sources). */
  readonly env?: Readonly<Record<string, string>>;
}

export class Terraform {
  readonly engine: Engine;
  readonly #cwd: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #log: JobLog;
  readonly #signal: AbortSignal;
  readonly #paths: TerraformPaths | undefined;

  /** `paths`: the checkout, so that an error names its files relative to the repository. */
  constructor(
    engine: Engine,
    cwd: string,
    env: NodeJS.ProcessEnv,
    log: JobLog,
    signal: AbortSignal,
    paths?: TerraformPaths,
  ) {
    this.engine = engine;
    this.#cwd = cwd;
    this.#env = env;
    this.#log = log;
    this.#signal = signal;
    this.#paths = paths;
  }

  async run(args: readonly string[], options: TerraformRunOptions = {}): Promise<RunResult> {
    const binary = this.engine.name === 'opentofu' ? 'tofu' : 'terraform';
    this.#log.info(
      `$ ${binary} ${args.join(' ')}${options.quiet ? '   (output read, not logged)' : ''}`,
    );
    const stopped = (): boolean => this.#signal.aborted;
    if (stopped()) throw new JobInterrupted('the job was stopped before it finished');
    // Diagnostics (stderr) are logged when Terraform exits, masked as one text (writeBlock);
    // its output (stdout) line by line as it comes, unless the executor reads it itself.
    const diagnostics: string[] = [];
    let result: RunResult;
    try {
      result = await run(this.engine.path, args, {
        cwd: this.#cwd,
        env: { ...this.#env, ...options.env },
        signal: this.#signal,
        // SIGINT is Terraform's graceful stop: it finishes the current operation and unlocks state.
        killSignal: 'SIGINT',
        // A second interrupt stops Terraform at once: before Batch's SIGKILL (30 s after SIGTERM)
        // it still exits and releases the state lock.
        repeatKillAfterMs: 15_000,
        onLine: (line, stream) => {
          if (stream === 'stderr') diagnostics.push(line);
          else if (!options.quiet) this.#log.write(line);
        },
      });
    } finally {
      this.#log.writeBlock(diagnostics);
    }
    if (stopped()) throw new JobInterrupted(`the job was stopped during ${binary} ${args[0]}`);
    const ok = options.okExitCodes ?? [0];
    if (result.exitCode === null || !ok.includes(result.exitCode)) {
      const detail = terraformErrorDetail(result.stderr, this.#paths);
      throw new TerraformFailed(args[0] ?? '', result.exitCode, detail);
    }
    return result;
  }
}
