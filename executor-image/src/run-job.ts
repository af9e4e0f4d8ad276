// One Terraform job, from checkout to result. Each verb is a short runner over the same
// steps; the entrypoint (main.ts) parses input, reads the environment and writes the result.
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import {
  PolicyBlocked,
  TerraformFailed,
  ToolchainMissing,
  describeError,
} from '../../core/errors.ts';
import { policyOutcome } from '../../core/policy.ts';
import type { Engine } from '../../toolchain/engine.ts';
import type { MirroredProvider } from '../../toolchain/provider-mirror.ts';
import { resolveCommand } from '../../core/terraform-commands.ts';
import { planDiff } from '../../core/plan-diff.ts';
import {
  type JobResult,
  LOG_FILE,
  type StateIdentity,
  PLAN_DIFF_FILE,
  PLAN_TEXT_FILE,
  RESULT_FILE,
} from '../../core/contracts/job-result.ts';
import { type Job, namedWorkspace, stateKey } from '../../core/contracts/job-input.ts';
import type { JobLog } from './job-log.ts';
import type { SecretMasker } from '../../core/masking.ts';
import {
  PLAN_JSON,
  type PlanJson,
  sensitiveValuesInPlan,
  summarizePlan,
} from '../../core/plan-summary.ts';
import {
  type PlanMetadata,
  assertStateUnchanged,
  storePlan,
  takeApprovedPlan,
} from './plan-store.ts';
import {
  type PulledState,
  describeState,
  parseOutputs,
  parseStatePull,
  readLocalState,
  sameState,
} from './state.ts';
import {
  BACKEND_OVERRIDE_FILE,
  Terraform,
  backendConfigArgs,
  backendOverride,
  renderCliConfig,
  terraformEnvironment,
} from './terraform.ts';
import { checkoutCommit, resolveProjectDir, resolveVarFiles } from './workspace.ts';
import { evaluatePolicies } from './policy.ts';
import {
  type ShownPlan,
  type TakenPrepared,
  keepPrepared,
  preparedKey,
  takePrepared,
} from './prepared-workspace.ts';

export interface ExecutorContext {
  readonly engine: Engine;
  /** The OPA binary, for a job with policy checks (toolchain/opa.ts resolveOpa). */
  readonly opa?: string;
  readonly mirrorDir: string;
  readonly mirrored: readonly MirroredProvider[];
  readonly pluginCacheDir?: string;
  /** Where fresh work folders are made; each is removed when the job ends. */
  readonly workRoot: string;
  /** The environment Terraform and git start from (TF_* settings are dropped). */
  readonly baseEnv: Readonly<Record<string, string | undefined>>;
  readonly log: JobLog;
  readonly masker: SecretMasker;
  readonly signal: AbortSignal;
  readonly now?: () => Date;
  /**
   * Git credentials for the clone and for `init` (module sources on the same host), as
   * environment variables of those child processes only; their values are in `masker`.
   */
  readonly gitAuth?: Readonly<Record<string, string>>;
  /** Why the clone has no credentials, when it was meant to have some (for its error). */
  readonly gitAuthProblem?: string;
  /**
   * Where a local run's plan job leaves its initialised checkout for the run's apply job
   * (prepared-workspace.ts); unset on Batch.
   */
  readonly preparedRoot?: string;
}

interface Workspace {
  /** The repository's checkout (policy folders are relative to it). */
  readonly checkout: string;
  readonly dir: string;
  readonly tf: Terraform;
  /** `-var-file=<absolute path>` for each of the job's var files, in order. */
  readonly varFileArgs: readonly string[];
}

/** The verbs that apply a plan. */
const APPLYING_VERBS: ReadonlySet<Job['verb']> = new Set(['apply', 'plan-apply', 'destroy']);

/**
 * A result that says `failed` until a runner says otherwise; for a verb that applies, that
 * the state is unchanged until an apply starts (a refused plan changes nothing).
 */
export function newResult(job: Job, startedAt: Date): JobResult {
  return {
    schemaVersion: 1,
    runId: job.runId,
    verb: job.verb,
    status: 'failed',
    repository: job.repository,
    commit: job.commit,
    environment: job.environment,
    projectDir: job.projectDir,
    artifacts: {
      dir: job.artifactsDir,
      log: join(job.artifactsDir, LOG_FILE),
      result: join(job.artifactsDir, RESULT_FILE),
    },
    timings: {},
    startedAt: startedAt.toISOString(),
    finishedAt: startedAt.toISOString(),
    ...(APPLYING_VERBS.has(job.verb) ? { stateChanged: false } : {}),
  };
}

class JobRun {
  readonly job: Job;
  readonly ctx: ExecutorContext;
  readonly result: JobResult;
  readonly workDir: string;
  /** What this job took from its plan job (a local run's apply job), if anything. */
  taken: TakenPrepared | undefined;
  /** The plan this job made, as `show -json` printed it: handed on with the checkout. */
  shown: ShownPlan | undefined;

  constructor(job: Job, ctx: ExecutorContext, workDir: string, startedAt: Date) {
    this.job = job;
    this.ctx = ctx;
    this.workDir = workDir;
    this.result = {
      ...newResult(job, startedAt),
      engine: { name: ctx.engine.name, version: ctx.engine.version },
    };
  }

  async timed<T>(step: string, action: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await action();
    } finally {
      // A step that runs twice in one job (an apply pulls the state before and after) adds up.
      this.result.timings[step] =
        (this.result.timings[step] ?? 0) + Math.round(performance.now() - started);
    }
  }

  /** This job's checkout and `init`, keyed for a later job of the same run. */
  preparedKey(): string {
    const { job, ctx } = this;
    return preparedKey({
      job,
      engine: ctx.engine,
      mirrorDir: ctx.mirrorDir,
      ...(ctx.pluginCacheDir === undefined ? {} : { pluginCacheDir: ctx.pluginCacheDir }),
    });
  }

  /**
   * Checkout, backend, CLI configuration and `init`; an apply job in a local run takes the
   * checkout its plan job left, initialised, instead (prepared-workspace.ts).
   */
  async prepare(): Promise<Workspace> {
    const { job, ctx } = this;
    const checkout = join(this.workDir, 'checkout');
    this.taken =
      job.verb === 'apply' && ctx.preparedRoot !== undefined
        ? await takePrepared(
            ctx.preparedRoot,
            this.preparedKey(),
            checkout,
            join(this.workDir, 'prepared'),
          )
        : undefined;
    const reused = this.taken !== undefined;
    if (reused) {
      ctx.log.info(`reusing the plan job's checkout of ${job.commit} and its init`);
    } else {
      ctx.log.info(`checking out ${job.commit} of ${job.repository}`);
      await this.timed('checkout', () =>
        checkoutCommit(job.repository, job.commit, checkout, ctx.baseEnv, {
          ...(ctx.gitAuth ? { cloneEnv: ctx.gitAuth } : {}),
          ...(ctx.gitAuthProblem ? { hint: ctx.gitAuthProblem } : {}),
        }),
      );
    }
    const dir = await resolveProjectDir(checkout, job.projectDir);
    await writeFile(
      join(dir, BACKEND_OVERRIDE_FILE),
      JSON.stringify(backendOverride(job.backend), null, 2),
    );
    const cliConfig = join(this.workDir, 'terraform.tfrc');
    await writeFile(cliConfig, renderCliConfig(ctx.mirrorDir, ctx.mirrored, ctx.pluginCacheDir));
    if (job.backend.type === 'local') {
      await mkdir(join(job.backend.stateDir, job.environment), { recursive: true });
    }
    const root = await realpath(checkout);
    const tf = new Terraform(
      ctx.engine,
      dir,
      terraformEnvironment(ctx.baseEnv, cliConfig),
      ctx.log,
      ctx.signal,
      { root, projectDir: relative(root, dir) },
    );
    if (!reused) await this.init(tf);
    const varFiles = await resolveVarFiles(checkout, job.varFiles);
    return { checkout, dir, tf, varFileArgs: varFiles.map((file) => `-var-file=${file}`) };
  }

  /**
   * A local run's plan job with changes leaves its checkout, initialised, and its plan's JSON
   * for the run's apply job; anything else is removed with the work folder.
   */
  async handOn(): Promise<void> {
    const { job, ctx } = this;
    if (job.verb !== 'plan' || !this.result.hasChanges || ctx.preparedRoot === undefined) return;
    const checkout = join(this.workDir, 'checkout');
    if (await keepPrepared(ctx.preparedRoot, this.preparedKey(), checkout, this.shown))
      ctx.log.info('left the checkout, initialised, for the apply job of this run');
  }

  /** `init` with the job's backend, and its workspace selected (created if need be). */
  async init(tf: Terraform): Promise<void> {
    const { job, ctx } = this;
    await this.timed('init', () =>
      tf.run(
        [
          'init',
          '-input=false',
          '-no-color',
          '-reconfigure',
          ...backendConfigArgs(job.backend, job.environment, job.projectDir, job.workspace),
        ],
        ctx.gitAuth ? { env: ctx.gitAuth } : {},
      ),
    );
    const workspace = namedWorkspace(job.workspace);
    if (workspace !== undefined) {
      await this.timed('workspace', () =>
        tf.run(['workspace', 'select', '-or-create', '-no-color', workspace]),
      );
    }
  }

  /**
   * The state now: its identity, and its outputs. Its sensitive values are masked from here on.
   * A local backend's file is read directly (the job holds the environment's lock, so nothing
   * writes it meanwhile); any other backend, or a state only the engine can read, is pulled.
   */
  async readState(ws: Workspace): Promise<PulledState> {
    const { job } = this;
    const state = await this.timed('stateRead', async () => {
      const local =
        job.backend.type === 'local'
          ? await readLocalState(
              join(job.backend.stateDir, stateKey(job.environment, job.projectDir, job.workspace)),
            )
          : undefined;
      return local ?? parseStatePull((await ws.tf.run(['state', 'pull'], { quiet: true })).stdout);
    });
    this.ctx.masker.add(state.sensitiveValues);
    return state;
  }

  /** The state's identity now (readState). */
  async stateIdentity(ws: Workspace): Promise<StateIdentity | null> {
    return (await this.readState(ws)).identity;
  }

  /**
   * The approved plan's sensitive values (outputs, resource attributes, variables; planned
   * and prior), masked from here on. They come from the JSON its plan job handed on when that
   * shows this very plan (the digest takeApprovedPlan checked), or else from `show -json`.
   */
  async learnApprovedPlan(ws: Workspace, path: string, sha256: string): Promise<void> {
    const handedOn = await this.taken?.shownPlan(sha256);
    if (handedOn !== undefined) {
      try {
        this.ctx.masker.add(sensitiveValuesInPlan(PLAN_JSON.parse(JSON.parse(handedOn))));
        this.ctx.log.info(`reusing the plan job's show -json of plan ${sha256}`);
        return;
      } catch {
        // Not a plan's JSON after all: show the plan again.
      }
    }
    await this.showPlanText(ws, path);
  }

  /**
   * `show -json` of a saved plan, parsed and as Terraform printed it (what policies read):
   * every value it marks sensitive is masked from here on.
   */
  async showPlanText(ws: Workspace, path: string): Promise<{ planJson: PlanJson; text: string }> {
    const shown = await this.timed('show', () =>
      ws.tf.run(['show', '-json', path], { quiet: true }),
    );
    const planJson = PLAN_JSON.parse(JSON.parse(shown.stdout));
    this.ctx.masker.add(sensitiveValuesInPlan(planJson));
    return { planJson, text: shown.stdout };
  }

  /**
   * The job's policy checks on its plan (stepform.yaml's policies), into the result: a check
   * that fails is a result, not an error (the workflow decides what it stops); a policy that
   * cannot be evaluated (PolicyInvalid, no OPA) fails the job. The plan JSON holds every
   * secret of the plan: it stays in the work folder (mode 0600), removed with it.
   */
  async checkPolicies(ws: Workspace, planText: string): Promise<void> {
    const { job, ctx } = this;
    const checks = 'policyChecks' in job ? job.policyChecks : undefined;
    if (checks === undefined) return;
    if (ctx.opa === undefined) throw new ToolchainMissing('no OPA to check the policies with');
    const planJsonFile = join(this.workDir, 'plan.json');
    await writeFile(planJsonFile, planText, { mode: 0o600 });
    const opa = ctx.opa;
    this.result.policy = await this.timed('policy', () =>
      evaluatePolicies({
        opa,
        checkout: ws.checkout,
        policies: checks.sets,
        planJsonFile,
        data: {
          environment: job.environment,
          project: checks.project,
          commit: job.commit,
          protected: checks.protected,
        },
        workDir: this.workDir,
        signal: ctx.signal,
        mask: (text) => ctx.masker.mask(text),
        log: (line) => ctx.log.info(line),
        env: ctx.baseEnv,
      }),
    );
  }

  /**
   * A job that plans and applies at once (an ephemeral environment's, a destroy) has no
   * approval to stop at: a blocking set that failed on its plan stops it here, before the
   * apply (PolicyBlocked; no override, which only a plan-apply run's approval flow gives).
   */
  stopIfBlocked(): void {
    const outcome = policyOutcome(this.result.policy ?? []);
    if (outcome.outcome !== 'blocked') return;
    throw new PolicyBlocked(
      `policy checks failed, nothing was applied: blocked by ${outcome.blockedBy.join(', ')}`,
    );
  }

  async plan(ws: Workspace, destroy: boolean): Promise<{ path: string; hasChanges: boolean }> {
    const { job, ctx } = this;
    const stateAtPlan = await this.stateIdentity(ws);
    this.result.stateBefore = stateAtPlan;
    const path = join(this.workDir, 'plan.tfplan');
    const planText: string[] = [];
    const planned = await this.timed('plan', () =>
      ws.tf.run(
        [
          'plan',
          '-input=false',
          '-no-color',
          '-detailed-exitcode',
          `-out=${path}`,
          ...(destroy ? ['-destroy'] : []),
          ...ws.varFileArgs,
        ],
        { okExitCodes: [0, 2] },
      ),
    );
    planText.push(planned.stdout);
    const { planJson, text: planJsonText } = await this.showPlanText(ws, path);
    const summary = summarizePlan(planJson);
    const hasChanges = planned.exitCode === 2;
    const stored = await storePlan(path, job.artifactsDir, {
      runId: job.runId,
      repository: job.repository,
      commit: job.commit,
      environment: job.environment,
      projectDir: job.projectDir,
      workspace: namedWorkspace(job.workspace) ?? null,
      destroy,
      stateAtPlan,
      engine: { name: ctx.engine.name, version: ctx.engine.version },
      createdAt: (ctx.now?.() ?? new Date()).toISOString(),
    });
    const planTextPath = join(job.artifactsDir, PLAN_TEXT_FILE);
    await writeFile(planTextPath, ctx.masker.mask(planText.join('')), { mode: 0o600 });
    Object.assign(this.result, { summary, hasChanges, plan: stored });
    this.shown = { sha256: stored.sha256, json: planJsonText };
    this.result.artifacts.planText = planTextPath;
    await this.writePlanDiff(planJson);
    await this.checkPolicies(ws, planJsonText);
    ctx.log.info(
      `plan: ${summary.add} to add, ${summary.change} to change, ${summary.destroy} to destroy` +
        ` (${summary.replace} replaced, ${summary.import} imported); sha256 ${stored.sha256}`,
    );
    return { path, hasChanges };
  }

  /**
   * What approvers read: the plan's attribute-level diff, which planDiff builds with no
   * sensitive value in it (masked once more all the same). A view of the plan, not the plan:
   * one that cannot be built is logged and left out, and the job goes on.
   */
  async writePlanDiff(planJson: PlanJson): Promise<void> {
    const { job, ctx } = this;
    try {
      const path = join(job.artifactsDir, PLAN_DIFF_FILE);
      await writeFile(path, ctx.masker.mask(JSON.stringify(planDiff(planJson))), { mode: 0o600 });
      this.result.artifacts.planDiff = path;
    } catch (error) {
      const { name, message } = describeError(error);
      ctx.log.info(`plan diff left out: ${name}: ${ctx.masker.mask(message)}`);
    }
  }

  /**
   * Applies a saved plan. From its start the state may change, so `stateChanged` is unknown
   * until the state is read again, after the apply whether it failed or not.
   */
  async apply(ws: Workspace, planPath: string): Promise<void> {
    delete this.result.stateChanged;
    try {
      await this.timed('apply', () => ws.tf.run(['apply', '-input=false', '-no-color', planPath]));
    } catch (error) {
      await this.compareStateAfterFailure(ws);
      throw error;
    }
    this.result.applied = true;
    // The state after the apply holds its outputs: no `output -json` is needed.
    const after = await this.readState(ws);
    this.result.outputs = after.outputs;
    this.recordStateAfter(after.identity);
  }

  recordStateAfter(after: StateIdentity | null): void {
    this.result.stateAfter = after;
    this.result.stateChanged = !sameState(this.result.stateBefore ?? null, after);
  }

  /**
   * After a failed apply: did it write anything? A state that cannot be read leaves the
   * answer unknown (absent), which readers take as changed.
   */
  async compareStateAfterFailure(ws: Workspace): Promise<void> {
    try {
      this.recordStateAfter(await this.stateIdentity(ws));
      this.ctx.log.info(
        this.result.stateChanged
          ? `the failed apply changed the state (now ${describeState(this.result.stateAfter ?? null)})`
          : 'the failed apply left the state unchanged',
      );
    } catch (error) {
      this.ctx.log.info(
        `cannot read the state after the failed apply (${describeError(error).message}): taken as changed`,
      );
    }
  }
}

type VerbRunner = (run: JobRun) => Promise<void>;

const RUNNERS: { [V in Job['verb']]: VerbRunner } = {
  plan: async (run) => {
    await run.plan(await run.prepare(), false);
  },

  apply: async (run) => {
    const job = run.job as Extract<Job, { verb: 'apply' }>;
    // Digest, commit and target are checked on a private copy before anything is checked out.
    const approved = join(run.workDir, 'approved.tfplan');
    const metadata: PlanMetadata = await takeApprovedPlan(job.plan, job, approved);
    run.ctx.log.info(
      `plan ${job.plan.sha256} matches the approved digest and commit ${job.commit}`,
    );
    const ws = await run.prepare();
    // The approved plan knows the sensitive values this apply may print, before any state does.
    await run.learnApprovedPlan(ws, approved, job.plan.sha256);
    const current = await run.stateIdentity(ws);
    run.result.stateBefore = current;
    assertStateUnchanged(metadata, current);
    await run.apply(ws, approved);
  },

  'plan-apply': async (run) => {
    const ws = await run.prepare();
    const planned = await run.plan(ws, false);
    if (!planned.hasChanges) {
      run.ctx.log.info('no changes: nothing to apply');
      return;
    }
    run.stopIfBlocked();
    await run.apply(ws, planned.path);
  },

  destroy: async (run) => {
    const ws = await run.prepare();
    const planned = await run.plan(ws, true);
    if (!planned.hasChanges) {
      run.ctx.log.info('nothing to destroy');
      return;
    }
    run.stopIfBlocked();
    await run.apply(ws, planned.path);
  },

  command: async (run) => {
    const job = run.job as Extract<Job, { verb: 'command' }>;
    const command = resolveCommand(job.args);
    const ws = await run.prepare();
    // Learn the state's sensitive values first: `state show` prints some of them unmarked.
    await run.readState(ws);
    // import evaluates the configuration: it needs the variables that plan gets (options
    // go before its address and id).
    const args =
      command.name === 'import'
        ? ['import', ...ws.varFileArgs, ...command.terraformArgs.slice(1)]
        : command.terraformArgs;
    const ran = await run.timed('command', () =>
      ws.tf.run(args, { quiet: command.name === 'output' }),
    );
    let output = ran.stdout;
    if (command.name === 'output') {
      const { outputs, sensitiveValues } = parseOutputs(ran.stdout);
      run.ctx.masker.add(sensitiveValues);
      const shown = command.outputName === undefined ? outputs : outputs[command.outputName];
      if (shown === undefined)
        throw new TerraformFailed('output', 1, `no output named ${command.outputName ?? ''}`);
      output = `${JSON.stringify(shown, null, 2)}\n`;
      for (const line of output.trimEnd().split('\n')) run.ctx.log.write(line);
    }
    run.result.command = {
      name: command.name,
      args: command.userArgs,
      output: run.ctx.masker.mask(output),
    };
  },
};

/** Runs one validated job. Never throws: a failure is a result with status `failed`. */
export async function runJob(job: Job, ctx: ExecutorContext): Promise<JobResult> {
  const now = ctx.now ?? (() => new Date());
  await mkdir(ctx.workRoot, { recursive: true });
  const workDir = await mkdtemp(join(ctx.workRoot, 'stepform-job-'));
  const run = new JobRun(job, ctx, workDir, now());
  ctx.log.info(
    `${job.verb} ${job.projectDir} in ${job.environment} at ${job.commit} (run ${job.runId})`,
  );
  try {
    await RUNNERS[job.verb](run);
    run.result.status = 'succeeded';
    await run.handOn();
  } catch (error) {
    run.result.error = describeError(error);
    ctx.log.info(`failed: ${run.result.error.name}: ${run.result.error.message}`);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  run.result.finishedAt = now().toISOString();
  ctx.log.info(`${job.verb} ${run.result.status}`);
  return run.result;
}
