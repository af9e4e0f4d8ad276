// The input of every workflow execution: what the action, the CLI and a schedule start a run
// with, validated once by PrepareRun (and by each caller before it starts one).
import { z } from 'zod';
import { APPROVAL_CHANNELS } from '../decision-actor.ts';
import { DEFAULT_TTL_BOUNDS } from '../duration.ts';
import { commandProblem } from '../terraform-commands.ts';
import {
  COMMIT_SHA,
  ENVIRONMENT_NAME,
  POLICY_SET,
  PROJECT_DIR,
  PROJECT_NAME,
  REPOSITORY,
  REPOSITORY_FILE,
  RUN_ID,
  WORKSPACE_NAME,
} from './job-input.ts';

export const WORKFLOWS = [
  'plan',
  'plan-apply',
  'ephemeral',
  'destroy',
  'ttl',
  'command',
  'drift',
] as const;
export type Workflow = (typeof WORKFLOWS)[number];

/** The longest an approval may wait: the workflows' execution timeouts are sized for it. */
export const MAX_APPROVAL_TIMEOUT_SECONDS = 7 * 24 * 3600;

/**
 * The longest TTL a run may carry: the longest DEFAULT_TTL_BOUNDS allows (core/duration.ts),
 * which every caller parses a duration with, so that a TTL that got past one is never refused
 * by the workflow it starts.
 */
export const MAX_TTL_SECONDS = DEFAULT_TTL_BOUNDS.maxMs / 1000;

export { PROJECT_NAME, POLICY_SET };

/** A GitHub repository as owner/name (an after_apply dispatch's target). */
export const GITHUB_REPOSITORY = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'must be owner/name of a GitHub repository');

/** stepform.yaml's after_apply entry: a repository_dispatch sent after a successful apply. */
export const AFTER_APPLY = z.strictObject({
  dispatch: z.strictObject({
    repository: GITHUB_REPOSITORY,
    event_type: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,100}$/, 'must be a repository_dispatch event type'),
  }),
});

/**
 * The most projects one run covers. Each is a Map iteration and about 6 KB of workflow state
 * (its jobs, its plan, its apply): at 50 a plan-apply's state passed Step Functions' 256 KB
 * limit; at 25 it stays under 200 KB, leaving room for outputs (core/apply-layers.test.ts).
 */
export const MAX_RUN_PROJECTS = 25;
export const MAX_PARALLEL_LIMIT = 32;
export const DEFAULT_MAX_PARALLEL = 4;

/**
 * A project as a run covers it (stepform.yaml resolved for the run's environment by the CLI or
 * the action): where it is, its workspace and var files, and its layer (0 first; a layer runs
 * after every lower one).
 */
export const RUN_PROJECT = z.strictObject({
  name: PROJECT_NAME,
  dir: PROJECT_DIR,
  layer: z.number().int().min(0).max(MAX_RUN_PROJECTS),
  workspace: WORKSPACE_NAME.optional(),
  varFiles: z.array(REPOSITORY_FILE).max(32).default([]),
});
export type RunProject = z.output<typeof RUN_PROJECT>;

/**
 * An owner's override of a blocking policy, as RequestPolicyOverride returns it into the run
 * (`$.run.policyOverride`), so that every later step tells of it: who, when, where and why.
 */
export const POLICY_OVERRIDE = z.strictObject({
  approvedBy: z.string().min(1).max(256),
  decidedAt: z.iso.datetime({ offset: true }),
  via: z.enum(APPROVAL_CHANNELS).optional(),
  reason: z.string().min(1).max(1000),
});
export type PolicyOverride = z.output<typeof POLICY_OVERRIDE>;

export const RUN_INPUT = z
  .strictObject({
    runId: RUN_ID,
    workflow: z.enum(WORKFLOWS),
    repository: REPOSITORY,
    commit: COMMIT_SHA,
    projectDir: PROJECT_DIR,
    environment: ENVIRONMENT_NAME,
    /** Skip the approval step (the CLI's --auto-approve). */
    autoApprove: z.boolean().default(false),
    approvalTimeoutSeconds: z.number().int().min(1).max(MAX_APPROVAL_TIMEOUT_SECONDS).default(3600),
    /** Ephemeral and ttl runs: how long from now until the scheduled destroy. */
    ttlSeconds: z.number().int().min(1).max(MAX_TTL_SECONDS).optional(),
    /** ttl runs only: keep the environment until it is destroyed by hand. */
    cancelTtl: z.literal(true).optional(),
    /** command runs only (and required there): the allowlisted command and its arguments. */
    args: z.array(z.string()).min(1).max(8).optional(),
    pullRequest: z.number().int().positive().optional(),
    /**
     * The projects the run covers, in execution order (by layer). Absent: the one project at
     * projectDir, Terraform's default workspace, no var files. In a run of several projects
     * projectDir is the folder they share ("." at most).
     */
    projects: z.array(RUN_PROJECT).min(1).max(MAX_RUN_PROJECTS).optional(),
    /**
     * The environment is `protected: true` in stepform.yaml: a plan that deletes or replaces,
     * and a command that changes the state, wait for an approval whatever autoApprove says.
     */
    protectedEnvironment: z.boolean().optional(),
    /** stepform.yaml's after_apply: sent by Notify once the run applied (best effort). */
    afterApply: z.array(AFTER_APPLY).max(10).optional(),
    /** stepform.yaml's policies: checked on every plan of a plan or plan-apply run. */
    policies: z.array(POLICY_SET).min(1).max(16).optional(),
    /** How many projects of one layer run at once (stepform.yaml's max_parallel; default 4). */
    maxParallel: z.number().int().min(1).max(MAX_PARALLEL_LIMIT).optional(),
    /** Written by the workflow once an owner overrode a blocking policy; refused at the start. */
    policyOverride: POLICY_OVERRIDE.optional(),
  })
  .superRefine((run, ctx) => {
    const issue = (path: string, message: string) =>
      ctx.addIssue({ code: 'custom', path: [path], message });
    if (run.workflow === 'ephemeral' && run.ttlSeconds === undefined)
      issue('ttlSeconds', 'an ephemeral environment needs a TTL');
    if (run.workflow === 'ttl' && (run.ttlSeconds === undefined) === (run.cancelTtl === undefined))
      issue('ttlSeconds', 'a ttl run has exactly one of ttlSeconds and cancelTtl');
    if (run.workflow !== 'ttl' && run.cancelTtl !== undefined)
      issue('cancelTtl', 'is for ttl runs only');
    if (run.workflow === 'command') {
      if (run.args === undefined) issue('args', 'a command run needs the command to run');
      else {
        const problem = commandProblem(run.args);
        if (problem !== undefined) issue('args', problem);
      }
    } else if (run.args !== undefined) issue('args', 'is for command runs only');
    if (run.projects !== undefined) {
      const problem = projectsProblem(run.projects);
      if (problem !== undefined) issue(`projects.${problem.index}`, problem.message);
    }
  });
export type RunContext = z.output<typeof RUN_INPUT>;
export type RunInput = z.input<typeof RUN_INPUT>;

/** The workflows that run a list of projects (a Map state); the others run exactly one. */
export const MULTI_PROJECT_WORKFLOWS: readonly Workflow[] = [
  'plan',
  'plan-apply',
  'ephemeral',
  'destroy',
  'drift',
];

/**
 * What is wrong with a run's project list, if anything: names and (dir, workspace) pairs are
 * unique (two projects on one state would race), and the layers run 0, 1, 2… in order.
 */
export function projectsProblem(
  projects: readonly Pick<RunProject, 'name' | 'dir' | 'layer' | 'workspace'>[],
): { index: number; message: string } | undefined {
  const names = new Set<string>();
  const states = new Set<string>();
  let layer = 0;
  for (const [index, project] of projects.entries()) {
    if (names.has(project.name)) return { index, message: `"${project.name}" is listed twice` };
    names.add(project.name);
    const state = `${project.dir}\0${project.workspace ?? 'default'}`;
    if (states.has(state)) {
      return {
        index,
        message: `${project.dir} (workspace ${project.workspace ?? 'default'}) is another project's state too`,
      };
    }
    states.add(state);
    if (index === 0 ? project.layer !== 0 : project.layer !== layer && project.layer !== layer + 1)
      return { index, message: `layer ${project.layer} is out of order (after layer ${layer})` };
    layer = project.layer;
  }
  return undefined;
}

/** The project a single-project run covers: its one listed project, or the one at projectDir. */
export function singleProject(run: RunContext): RunProject | undefined {
  if (run.projects === undefined) {
    return { name: run.projectDir, dir: run.projectDir, layer: 0, varFiles: [] };
  }
  return run.projects.length === 1 ? run.projects[0] : undefined;
}

/** The projects a run covers: its list, or the one at projectDir. */
export function runProjects(run: RunContext): RunProject[] {
  return run.projects ?? [{ name: run.projectDir, dir: run.projectDir, layer: 0, varFiles: [] }];
}
