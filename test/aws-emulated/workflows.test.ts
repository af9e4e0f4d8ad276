// The deployable artifacts on emulated AWS (issue 11): the CDK app synthesized with its Lambdas
// bundled, the state machines from cdk.out run by moto's copy of LocalStack's ASL interpreter,
// every Lambda task the real bundle with its template environment, every Batch job the real
// executor entrypoint, all of them talking to moto (DynamoDB, S3, SQS, Secrets Manager, Step
// Functions). See harness.ts and moto_launcher.py for how.
//
// What is not emulated, and why:
// - Lambda and Batch themselves: moto runs neither a Node bundle nor a container without
//   Docker. A Lambda is one fresh `node` process per invoke (lambda-runner.ts: the bundle's
//   handler, the function's environment, errorType as Lambda's Unhandled error); a job is
//   the image's ENTRYPOINT (the executor bundle, built as the image's bundle stage builds it)
//   with the job definition's and the overrides' environment, on this machine's Terraform and
//   provider mirror instead of the image's OpenTofu, its artifacts folder the job's
//   /artifacts/<run> (the tests run as the job's user would need: a writable /artifacts; they
//   remove what they wrote).
// - IAM: moto does not enforce the roles' policies, so a missing permission is not caught
//   here (cdk-nag and infra/test/job-roles.test.ts look at the policies).
// - GitHub and Slack are outside AWS: a fake GitHub API and a fake Slack webhook in the
//   harness (the function's GitHub requests are redirected there; the secrets are set to them
//   as docs/deploy.md asks an operator to set the real ones).
// - The EventBridge rule that runs ExecutionEnded, X-Ray, CloudWatch Logs and metrics.
// - EventBridge Scheduler firing: moto stores a schedule (GetSchedule answers its expression
//   and target) but never runs one. The ephemeral scenario reads the schedule the Schedule
//   function made and starts its target with its input, as Scheduler would at that time.
// - Time: the LockHeld backoff (30 attempts, up to 60 s each) is shortened in the definition
//   this suite creates (see LOCK_HELD_RETRY); every other Retry, Catch and timeout is the file's.
//   The approval timeout is the run input's approvalTimeoutSeconds, which moto's interpreter
//   honours as TimeoutSecondsPath on the waitForTaskToken task (States.Timeout).
import {
  APPROVED_APPLY_PHASES,
  OVERRIDDEN_APPLY_PHASES,
  OVERRIDDEN_PLAN_APPLY_STATES,
  OVERRIDE_FAILED_PLAN_APPLY_STATES,
  POLICY_REFUSED_PLAN_APPLY_STATES,
  EXPIRED_PLAN_APPLY_STATES,
  NO_CHANGES_PLAN_APPLY_STATES,
  appliedPlanApplyStates,
  refusedPlanApplyStates,
  rollbackFailedPlanApplyStates,
  rolledBackPlanApplyStates,
  outcomeTail,
} from '../support/workflow-paths.ts';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { GetScheduleCommand } from '@aws-sdk/client-scheduler';
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { stateKey } from '../../executor-image/src/terraform.ts';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BATCH_ARTIFACTS_ROOT } from '../../core/contracts/job-input.ts';
import { DRIFT_LABEL, driftIssueTitle } from '../../core/drift.ts';
import { APPROVE_ACTION_ID, OVERRIDE_LINKS_ACTION_ID } from '../../core/slack-message.ts';
import { scheduledDestroyRun } from '../../core/ttl.ts';
import { epochSeconds, keys } from '../../adapters/aws/dynamodb/table.ts';
import {
  START_EXECUTION_TARGET,
  atExpression,
  scheduleName,
  scheduledExecution,
} from '../../adapters/aws/scheduler.ts';
import { StepFunctionsTaskCallbackPort, executionArnOf } from '../../adapters/aws/sfn.ts';
import { slackSignature } from '../../adapters/slack/interactivity.ts';
import {
  HELLO_EXAMPLE,
  REPO_ROOT,
  type TestRepo,
  helloWithFailingRollback,
  makeRepo,
} from '../support/repo.ts';
import {
  EmulatedAws,
  GITHUB_REPOSITORY,
  GITHUB_URL,
  type Template,
  synthesize,
} from './harness.ts';
import { type Execution, Scenario, decideThroughPage, sleep } from './scenario.ts';
import { startActionStep } from '../../github-action/test/runner.ts';

const PROJECT = 'stack';
/** The hello example's resources, as `type.name`, sorted. */
const HELLO_RESOURCES = [
  'terraform_data.greeting',
  'terraform_data.secret_holder',
  'time_static.greeted_at',
];
/** What this suite does to LockEnvironment's LockHeld retry: two quick retries, not 30 slow ones. */
const LOCK_HELD_RETRY = { IntervalSeconds: 1, MaxAttempts: 2, BackoffRate: 1, MaxDelaySeconds: 1 };

interface AslRetrier {
  ErrorEquals: string[];
  [field: string]: unknown;
}

/** The plan-apply definition with LOCK_HELD_RETRY in LockEnvironment; the others as they are. */
function shortenLockHeldRetry(name: string, definition: string): string {
  if (name !== 'Stepform-plan-apply') return definition;
  const asl = JSON.parse(definition) as { States: Record<string, { Retry?: AslRetrier[] }> };
  const retriers = asl.States.LockEnvironment!.Retry!;
  const lockHeld = retriers.find((r) => r.ErrorEquals.includes('LockHeld'));
  if (!lockHeld) throw new Error('LockEnvironment no longer retries LockHeld');
  Object.assign(lockHeld, LOCK_HELD_RETRY);
  return JSON.stringify(asl);
}

/** The blocking set of test/fixtures/policies/guardrails.rego, owned by `owners`. */
const guardrails = (owners: string[]) => ({
  name: 'guardrails',
  path: 'policy',
  on_failure: 'block',
  owners,
});

/** The hello example with the blocking policy under policy/ (made in beforeAll, after it). */
let guarded: string;

let scratch: string;
let aws: EmulatedAws;
let scenario: Scenario;
let repo: TestRepo;
/** The hello example, the commit every run is of unless it says otherwise. */
let commit: string;
/** The default stack's synth: its bundles serve the approvers variant too. */
let bundles: { template: Template; outdir: string };

/** Starts a stack on moto whose executor fetches the scenario repository. */
async function startStack(stack: EmulatedAws): Promise<Scenario> {
  await stack.start();
  stack.repositoryMirror = repo.dir;
  const started = new Scenario(stack);
  started.defaults = { repository: GITHUB_URL, commit, projectDir: PROJECT };
  return started;
}

/** Stops a stack started by startStack (either may be undefined when beforeAll failed). */
async function stopStack(stack: EmulatedAws | undefined, observer: Scenario | undefined) {
  observer?.destroy();
  await stack?.settled();
  await stack?.stop();
  for (const runId of observer?.runIds ?? [])
    await rm(join(BATCH_ARTIFACTS_ROOT, runId), { recursive: true, force: true });
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'stepform-emulated-'));
  const outdir = join(scratch, 'cdk.out');
  bundles = { template: synthesize(outdir), outdir };
  repo = await makeRepo();
  commit = await repo.commitDir(HELLO_EXAMPLE, PROJECT);
  guarded = await repo.commitFiles(
    {
      'policy/guardrails.rego': await readFile(
        join(REPO_ROOT, 'test', 'fixtures', 'policies', 'guardrails.rego'),
        'utf8',
      ),
    },
    'a policy that denies creating terraform_data in a protected environment',
  );
  aws = new EmulatedAws(bundles.template, outdir, scratch, {
    editDefinition: shortenLockHeldRetry,
  });
  scenario = await startStack(aws);
}, 120_000);

afterAll(async () => {
  await stopStack(aws, scenario);
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/**
 * The execution ended with this status, and a SUCCEEDED one without any failure; otherwise the
 * message shows its failures, the harness's errors and the jobs' output.
 */
function expectEnded(execution: Execution, status: string, on: Scenario = scenario): void {
  const failure = on.failureOf(execution);
  // A failed end is compared with its own failures: they show only when the status differs.
  expect({ status: execution.status, failure }).toEqual({
    status,
    failure: status === 'SUCCEEDED' ? '[]' : failure,
  });
}

/** Approves or rejects through the link from Slack: the page and its form both answer 200. */
/** Decides through the approval page as a person would; returns the page they read. */
async function decide(runId: string, action: 'approve' | 'reject'): Promise<string> {
  const answer = await decideThroughPage(await scenario.approvalLink(runId, action));
  expect({ page: answer.pageStatus, post: answer.status }).toEqual({ page: 200, post: 200 });
  expect(answer.decided).toContain(runId);
  return answer.page;
}

describe('plan (pull request) on emulated AWS', () => {
  it('plans the commit with the executor, stores the result in S3 and reports planned', async () => {
    const runId = 'emulated-plan-1';
    const arn = await scenario.start('plan', runId, 'dev', { pullRequest: 7 });
    const execution = await scenario.waitFor(arn);
    expectEnded(execution, 'SUCCEEDED');
    expect(execution.entered).toEqual(
      expect.arrayContaining(['PrepareRun', 'NotifyStarted', 'RunPlanJob', 'CollectPlan']),
    );
    expect(execution.entered.at(0)).toBe('PrepareRun');
    expect(await scenario.phasesOf(runId)).toEqual(['started', 'planned']);
    // The S3 port keeps the job's /artifacts/<run>/plan folder under its artifacts/ prefix.
    expect(await scenario.s3Keys('ArtifactsBucket', '')).toEqual(
      expect.arrayContaining([
        `artifacts${BATCH_ARTIFACTS_ROOT}/${runId}/plan/result.json`,
        `artifacts${BATCH_ARTIFACTS_ROOT}/${runId}/plan/plan.tfplan`,
      ]),
    );
    // The pull request's comment, written by Notify through Octokit, shows the plan's diff
    // (read from S3) and no secret.
    const comment = aws.github
      .filter((r) => r.body.includes('stepform:comment'))
      .map((r) => JSON.parse(r.body) as { body: string })
      .at(-1)?.body;
    expect(comment).toContain(
      '<details><summary><code>terraform_data.greeting</code> will be created</summary>',
    );
    expect(comment).toMatch(/\+\s+input\s+= "hello, world"/);
    expect(comment).not.toContain('example-secret-value');
    // A pull request's plan takes no lock and writes no state.
    expect(await scenario.itemsOfType('lock')).toEqual([]);
    expect(await scenario.s3Keys('StateBucket', 'stepform/state/')).toEqual([]);
  });
});

describe('the GitHub Action’s dist on emulated AWS', () => {
  // What a repository's workflow runs: the bundled action, as the runner runs it, starting the
  // stack's own plan state machine (named through stack-outputs) and following it to its end.
  it('starts a pull request’s plan from the event, follows the real workflow to SUCCEEDED and reports it', async () => {
    const step = await startActionStep({
      dir: scratch,
      runId: '2001',
      inputs: {
        workflow: 'plan',
        environment: 'dev',
        project: PROJECT,
        'stack-outputs': JSON.stringify(aws.stackOutputs()),
      },
      pullRequest: { head: commit, base: 'f'.repeat(40) },
      endpoint: aws.moto.endpoint,
    });
    const { code, stdout } = await step.exited;
    const outputs = await step.outputs();
    const runId = outputs['run-id'] ?? '';
    scenario.runIds.push(runId);
    expect({ code, stdout: code === 0 ? '' : stdout }).toEqual({ code: 0, stdout: '' });
    expect(runId).toMatch(/^gh-2001-1-plan-dev-[0-9a-f]{10}$/);
    expect(outputs['execution-arn']).toBe(executionArnOf(aws.stateMachineArn('plan'), runId));
    // The states it printed while following are the real definition's.
    for (const state of ['PrepareRun', 'RunPlanJob', 'CollectPlan'])
      expect(stdout).toContain(`→ ${state} `);
    expect(outputs).toMatchObject({
      status: 'SUCCEEDED',
      'has-changes': 'true',
      add: '3',
      change: '0',
      destroy: '0',
    });
    expect(JSON.parse(outputs.summary!)).toMatchObject({ status: 'SUCCEEDED', pullRequest: 7 });
    expect(await readFile(step.files.summary, 'utf8')).toContain('Stepform plan: SUCCEEDED');
    // The run the action started is a run like any other: its events, and the comment on #7.
    expect(await scenario.phasesOf(runId)).toEqual(['started', 'planned']);
    const comment = aws.github
      .filter((r) => r.path.includes('/issues/7/comments') && r.body.includes('stepform:comment'))
      .map((r) => JSON.parse(r.body) as { body: string })
      .at(-1)?.body;
    expect(comment).toMatch(/\+\s+input\s+= "hello, world"/);
    expect(comment).not.toContain('example-secret-value');
  });
});

describe('a plan of several projects on emulated AWS (issue 14)', () => {
  it('plans each project in the Map state; one failing fails the run, the others reported planned', async () => {
    const mono = await repo.commitDir(join(REPO_ROOT, 'test', 'golden', 'monorepo'), 'mono');
    const broken = await repo.commitFiles(
      { 'mono/infra/app/envs/dev.tfvars': 'environment = "dev"\nreplicas = "many"\n' },
      'break app',
    );
    const projects = ['network', 'dns', 'app'].map((name, i) => ({
      name,
      dir: `mono/infra/${name}`,
      layer: i === 2 ? 1 : 0,
      varFiles: [`mono/infra/${name}/envs/dev.tfvars`],
    }));
    const input = { projectDir: 'mono/infra', projects, maxParallel: 2, pullRequest: 8 };

    const planned = 'emulated-plan-projects-1';
    const ok = await scenario.waitFor(
      await scenario.start('plan', planned, 'dev', { ...input, commit: mono }),
    );
    expectEnded(ok, 'SUCCEEDED');
    expect(ok.entered).toEqual(expect.arrayContaining(['PlanProjects', 'CollectPlans']));
    expect(ok.entered.filter((state) => state === 'RunPlanJob')).toHaveLength(3);
    expect(await scenario.s3Keys('ArtifactsBucket', '')).toEqual(
      expect.arrayContaining(
        projects.map(
          (p) => `artifacts${BATCH_ARTIFACTS_ROOT}/${planned}/project-${p.name}/plan/result.json`,
        ),
      ),
    );

    const failing = 'emulated-plan-projects-2';
    const failed = await scenario.waitFor(
      await scenario.start('plan', failing, 'dev', { ...input, commit: broken }),
    );
    expect(failed.status).toBe('FAILED');
    expect(failed.entered).toEqual(
      expect.arrayContaining(['ProjectPlanned', 'ProjectPlanFailed', 'OutcomePlanFailed']),
    );
    expect(await scenario.phasesOf(failing)).toEqual(['started', 'failed']);
  });
});

describe('a plan-apply of several projects on emulated AWS (issue 14)', () => {
  it('plans all, waits for one approval covering every plan, then applies layer by layer', async () => {
    const commit = await repo.commitDir(join(REPO_ROOT, 'test', 'golden', 'monorepo'), 'layers');
    const projects = ['network', 'dns', 'app'].map((name, i) => ({
      name,
      dir: `layers/infra/${name}`,
      layer: i === 2 ? 1 : 0,
      varFiles: [`layers/infra/${name}/envs/dev.tfvars`],
    }));
    const runId = 'emulated-apply-projects-1';
    const { arn, approval } = await scenario.startAwaitingApproval(runId, 'layers', {
      commit,
      projectDir: 'layers/infra',
      projects,
      maxParallel: 2,
    });
    // One approval for the run: its digest is over the three plans, none of them alone.
    expect(approval).toMatchObject({ runId, projectDir: 'layers/infra' });
    expect(approval.planSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await scenario.s3Keys('StateBucket', 'stepform/state/')).toEqual([]);

    await decide(runId, 'approve');
    const execution = await scenario.waitFor(arn);
    expectEnded(execution, 'SUCCEEDED');
    expect(execution.entered.filter((state) => state === 'RunPlanJob')).toHaveLength(3);
    // Layer 0 (network, dns), then layer 1 (app), then NextLayer finds none left.
    expect(execution.entered.filter((state) => state === 'ApplyLayer')).toHaveLength(2);
    expect(execution.entered.filter((state) => state === 'NextLayer')).toHaveLength(3);
    expect(execution.entered.filter((state) => state === 'RunApplyJob')).toHaveLength(3);
    expect(execution.entered.slice(-6)).toEqual(outcomeTail('Applied'));
    expect(await scenario.phasesOf(runId)).toEqual(APPROVED_APPLY_PHASES);
    const resources = { network: 'network', dns: 'zone', app: 'app' } as const;
    for (const project of projects) {
      expect(await scenario.stateResources('layers', project.dir)).toEqual(
        expect.arrayContaining([
          `terraform_data.${resources[project.name as keyof typeof resources]}`,
        ]),
      );
    }
    expect(await scenario.s3Keys('ArtifactsBucket', '')).toEqual(
      expect.arrayContaining(
        projects.map(
          (p) => `artifacts${BATCH_ARTIFACTS_ROOT}/${runId}/project-${p.name}/apply/result.json`,
        ),
      ),
    );
    expect(await scenario.itemsOfType('lock')).toEqual([]);
  });
});

describe('an ephemeral environment of several projects on emulated AWS (issue 14)', () => {
  it('creates layer by layer; its one schedule’s input destroys every project in reverse', async () => {
    const commit = await repo.commitDir(join(REPO_ROOT, 'test', 'golden', 'monorepo'), 'eph');
    const projects = ['network', 'dns', 'app'].map((name, i) => ({
      name,
      dir: `eph/infra/${name}`,
      layer: i === 2 ? 1 : 0,
      varFiles: [`eph/infra/${name}/envs/dev.tfvars`],
    }));
    const runId = 'emulated-ephemeral-projects-1';
    const environment = 'pr-layers';
    const execution = await scenario.waitFor(
      await scenario.start('ephemeral', runId, environment, {
        commit,
        projectDir: 'eph/infra',
        projects,
        ttlSeconds: 3600,
        maxParallel: 2,
      }),
    );
    expectEnded(execution, 'SUCCEEDED');
    // Layer 0 (network, dns), then layer 1 (app), then NextCreateLayer finds none left.
    expect(execution.entered.filter((state) => state === 'CreateLayer')).toHaveLength(2);
    expect(execution.entered.filter((state) => state === 'RunEphemeralJob')).toHaveLength(3);
    expect(execution.entered.slice(-7)).toEqual([
      'ScheduleDestroy',
      ...outcomeTail('Active', 'Applied'),
    ]);
    expect(await scenario.phasesOf(runId)).toEqual(['started', 'applied']);
    for (const project of projects) {
      expect(await scenario.stateResources(environment, project.dir)).not.toEqual([]);
    }
    const records = (await scenario.itemsOfType('environment')).filter(
      (i) => i.environment === environment,
    );
    expect(records.map((r) => [r.projectDir, r.status]).sort()).toEqual(
      projects.map((p) => [p.dir, 'active']).sort(),
    );

    // One schedule on EventBridge Scheduler for the run, its input a destroy of every project.
    const group = 'Stepform-ttl';
    const name = scheduleName(environment, 'eph/infra');
    const schedule = await scenario.scheduler.send(
      new GetScheduleCommand({ GroupName: group, Name: name }),
    );
    const input = scheduledExecution(schedule.Target).input as Record<string, unknown>;
    expect(input).toMatchObject({ workflow: 'destroy', projectDir: 'eph/infra', projects });

    // Fired as Scheduler would: an execution of the destroy workflow named by its run id.
    const fired = await scenario.fire(schedule.Target);
    expect(fired.arn).toBe(executionArnOf(aws.stateMachineArn('destroy'), input.runId as string));
    const destroy = await scenario.waitFor(fired.arn);
    expectEnded(destroy, 'SUCCEEDED');
    // app (layer 1) first, then network and dns; then the run's own schedule is deleted.
    expect(destroy.entered.filter((state) => state === 'DestroyLayer')).toHaveLength(2);
    expect(destroy.entered.filter((state) => state === 'RunDestroyJob')).toHaveLength(3);
    expect(destroy.entered.slice(-7)).toEqual(['DeleteRunSchedule', ...outcomeTail('Destroyed')]);
    for (const project of projects) {
      expect(await scenario.stateResources(environment, project.dir)).toEqual([]);
    }
    await expect(
      scenario.scheduler.send(new GetScheduleCommand({ GroupName: group, Name: name })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    expect(await scenario.itemsOfType('lock')).toEqual([]);
  });
});

describe('plan-apply (push to main) on emulated AWS', () => {
  it('locks, plans, waits for approval, applies after the approve link is used, and unlocks', async () => {
    const runId = 'emulated-apply-1';
    const { arn, approval, awaiting } = await scenario.startAwaitingApproval(runId, 'dev', {
      afterApply: [{ dispatch: { repository: 'acme/app-deploy', event_type: 'infra-applied' } }],
    });
    expect(awaiting.status).toBe('RUNNING');
    // RequestApproval stored its task token; the run holds the environment's lock.
    expect(approval).toMatchObject({ runId, taskToken: expect.any(String) });
    expect(await scenario.locksOf('dev')).toEqual([
      expect.objectContaining({ environment: 'dev', owner: runId }),
    ]);

    const page = await decide(runId, 'approve');
    // The page showed what the plan does, read by the approval function from S3.
    expect(page).toContain(`What the plan of <code>${PROJECT}</code> changes`);
    for (const address of HELLO_RESOURCES) {
      expect(page).toContain(`<code>${address}</code> will be created`);
    }
    // The example's sensitive variable (its default) is on the page as Terraform hides it.
    expect(page).not.toContain('example-secret-value');
    expect(page).toContain('(sensitive value)');
    // Slack told the project's changes by address, and linked the page.
    const asked = scenario.slackMessagesOf(runId).find((m) => m.includes('awaiting approval'));
    expect(asked).toContain('• `terraform_data.greeting` create');
    expect(asked).toContain('|the approval page>');
    const execution = await scenario.waitFor(arn);
    expectEnded(execution, 'SUCCEEDED');
    expect(execution.entered).toEqual(appliedPlanApplyStates(true));
    const events = (await scenario.drainStatusEvents()).filter((e) => e.runId === runId);
    expect(events.map((e) => e.phase)).toEqual(APPROVED_APPLY_PHASES);
    // Who decided: the bare link's decider, on the approval page, on every event after it.
    const actor = { name: 'approval link', at: expect.any(String), channel: 'web' };
    expect(events.map((e) => e.actor)).toEqual([
      undefined,
      undefined,
      undefined,
      actor,
      actor,
      actor,
    ]);
    expect(await scenario.itemsOfType('lock')).toEqual([]);
    // Terraform's state is in the state bucket (the S3 backend on moto).
    expect(await scenario.stateResources('dev', PROJECT)).toEqual(HELLO_RESOURCES);
    // after_apply: the Notify function sent the repository_dispatch through Octokit to GitHub,
    // with the non-sensitive outputs only.
    const dispatches = aws.github.filter(
      (r) => r.method === 'POST' && r.path === '/repos/acme/app-deploy/dispatches',
    );
    expect(dispatches).toHaveLength(1);
    const sent = JSON.parse(dispatches[0]?.body ?? '{}') as {
      event_type: string;
      client_payload: { runId: string; projects: string[]; outputs: Record<string, object> };
    };
    expect(sent).toMatchObject({
      event_type: 'infra-applied',
      client_payload: { runId, environment: 'dev', projects: [PROJECT] },
    });
    expect(Object.keys(sent.client_payload.outputs[PROJECT] ?? {}).sort()).toEqual([
      'greeted_at',
      'greeting',
    ]);
  });
});

describe('plan-apply rejected on emulated AWS', () => {
  it('ends Rejected through the reject link, applies nothing and releases the lock', async () => {
    const runId = 'emulated-reject-1';
    const { arn } = await scenario.startAwaitingApproval(runId, 'staging');
    await decide(runId, 'reject');
    const execution = await scenario.waitFor(arn);
    expectEnded(execution, 'FAILED');
    expect(execution.entered.slice(-6)).toEqual(outcomeTail('Rejected'));
    expect(execution.entered).not.toContain('RunApplyJob');
    // moto's interpreter hands the Catch a null Cause; Notify reports the rejection anyway.
    expect(await scenario.phasesOf(runId)).toEqual([
      'started',
      'planned',
      'awaiting_approval',
      'rejected',
    ]);
    expect(await scenario.itemsOfType('lock')).toEqual([]);
    expect(await scenario.s3Keys('StateBucket', 'stepform/state/staging')).toEqual([]);
  });
});

describe('plan-apply with no changes on emulated AWS', () => {
  // Runs after the approved scenario, in the same environment (dev) and at the same commit: the
  // state it applied is in the state bucket, so this plan has nothing to change.
  it('ends NoChanges after the plan, asks for no approval, records the run and unlocks', async () => {
    const runId = 'emulated-no-changes-1';
    const jobsBefore = aws.jobs.size;
    const arn = await scenario.start('plan-apply', runId, 'dev');
    const execution = await scenario.waitFor(arn);
    expectEnded(execution, 'SUCCEEDED');
    expect(execution.entered).toEqual(NO_CHANGES_PLAN_APPLY_STATES);
    expect(await scenario.phasesOf(runId)).toEqual(['started', 'no_changes']);
    // One job, the plan; no approval asked, in the table or in Slack.
    expect(aws.jobs.size - jobsBefore).toBe(1);
    expect((await scenario.itemsOfType('approval')).filter((i) => i.runId === runId)).toEqual([]);
    expect(scenario.slackMessagesOf(runId).filter((text) => text.includes('/approvals/'))).toEqual(
      [],
    );
    expect(await scenario.itemsOfType('lock')).toEqual([]);
    expect(await scenario.itemsOfType('environment')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ environment: 'dev', projectDir: PROJECT, lastRunId: runId }),
      ]),
    );
    expect(await scenario.stateResources('dev', PROJECT)).toEqual(HELLO_RESOURCES);
  });
});

describe('drift on emulated AWS', () => {
  // A change to the state that no commit made stands for a change to the real
  // infrastructure: the plan of the applied commit wants it back, which is drift. The issue
  // is the fake GitHub's (harness.ts), opened and closed by the Notify function through Octokit.
  const environment = 'drifty';
  const stateObject = () => ({
    Bucket: aws.ref('AWS::S3::Bucket', 'StateBucket'),
    Key: `stepform/state/${stateKey(environment, PROJECT)}`,
  });
  const title = driftIssueTitle(PROJECT, environment);

  it('opens an issue labelled stepform-drift on drift, updates it while the drift lasts, closes it with a comment once it is gone', async () => {
    // Prepare: applied, then the greeting changed behind Terraform's back.
    const applyId = 'emulated-drift-apply-1';
    const { arn: applyArn } = await scenario.startAwaitingApproval(applyId, environment);
    await decide(applyId, 'approve');
    expectEnded(await scenario.waitFor(applyArn), 'SUCCEEDED');
    const applied = await scenario.terraformState(environment, PROJECT);
    const tampered = JSON.parse(JSON.stringify(applied)) as {
      resources: { type: string; name: string; instances: { attributes: { input: unknown } }[] }[];
    };
    const greeting = tampered.resources.find(
      (r) => r.type === 'terraform_data' && r.name === 'greeting',
    );
    const instance = greeting?.instances[0];
    if (!instance) throw new Error('no terraform_data.greeting in the state');
    instance.attributes.input = { value: 'changed by hand', type: 'string' };
    await scenario.s3.send(
      new PutObjectCommand({ ...stateObject(), Body: JSON.stringify(tampered) }),
    );

    // Act: a drift check.
    const driftedId = 'emulated-drift-1';
    const drifted = await scenario.waitFor(await scenario.start('drift', driftedId, environment));

    // Assess: drift found, one issue opened naming the environment and the project.
    expectEnded(drifted, 'SUCCEEDED');
    expect(drifted.entered).toContain('OutcomeDrifted');
    expect(await scenario.phasesOf(driftedId)).toContain('drifted');
    const opened = aws.github.filter(
      (r) => r.method === 'POST' && r.path === `/repos/${GITHUB_REPOSITORY}/issues`,
    );
    expect(opened).toHaveLength(1);
    expect(JSON.parse(opened[0]?.body ?? '{}')).toMatchObject({
      title,
      labels: [DRIFT_LABEL],
    });
    expect(title).toBe(`Drift: ${PROJECT} in ${environment}`);
    const [issue] = aws.issues;
    expect(issue).toMatchObject({ number: 1, title, state: 'open' });
    expect(issue?.body).toContain('terraform_data.greeting');
    expect(issue?.body).toContain(driftedId);

    // Act: a second check while the drift lasts.
    const stillId = 'emulated-drift-still';
    const still = await scenario.waitFor(await scenario.start('drift', stillId, environment));

    // Assess: the one open issue's body replaced with the latest plan, no second issue.
    expectEnded(still, 'SUCCEEDED');
    expect(still.entered).toContain('OutcomeDrifted');
    const issuePath = `/repos/${GITHUB_REPOSITORY}/issues/1`;
    const updates = aws.github.filter((r) => r.method === 'PATCH' && r.path === issuePath);
    expect(updates).toHaveLength(1);
    expect(JSON.parse(updates[0]?.body ?? '{}')).toEqual({
      body: expect.stringContaining(stillId),
    });
    expect(aws.issues).toEqual([
      expect.objectContaining({ number: 1, title, labels: [DRIFT_LABEL], state: 'open' }),
    ]);
    expect(aws.issues[0]?.body).toContain('terraform_data.greeting');

    // Act: the state back as applied, and a second check.
    await scenario.s3.send(
      new PutObjectCommand({ ...stateObject(), Body: JSON.stringify(applied) }),
    );
    const clearedId = 'emulated-drift-2';
    const cleared = await scenario.waitFor(await scenario.start('drift', clearedId, environment));

    // Assess: drift_cleared, the same issue commented on and closed, none opened.
    expectEnded(cleared, 'SUCCEEDED');
    expect(cleared.entered).toContain('OutcomeDriftCleared');
    expect(await scenario.phasesOf(clearedId)).toContain('drift_cleared');
    const comments = aws.github.filter(
      (r) => r.method === 'POST' && r.path === `${issuePath}/comments`,
    );
    expect(comments).toHaveLength(1);
    expect(JSON.parse(comments[0]?.body ?? '{}')).toMatchObject({
      body: expect.stringContaining(`No drift any more: run \`${clearedId}\``),
    });
    const patches = aws.github.filter((r) => r.method === 'PATCH' && r.path === issuePath);
    expect(patches.slice(1).map((r) => JSON.parse(r.body) as unknown)).toEqual([
      { state: 'closed' },
    ]);
    const posted = aws.github.filter(
      (r) => r.method === 'POST' && r.path === `/repos/${GITHUB_REPOSITORY}/issues`,
    );
    expect(posted).toHaveLength(1);
    expect(aws.issues).toEqual([expect.objectContaining({ number: 1, state: 'closed' })]);
  }, 400_000);
});

describe('plan-apply whose apply fails on emulated AWS', () => {
  // Runs after the approved and no-changes scenarios: dev's last good commit is the hello
  // example's. Commit B adds test/fixtures/failing-apply's resources to it: B's plan succeeds,
  // its apply creates terraform_data.before and then fails the time_static's postcondition.
  it('rolls back to the last good commit: its apply runs, the state is its again, RolledBack', async () => {
    const runId = 'emulated-rollback-1';
    const [hello, failing] = await Promise.all([
      readFile(join(HELLO_EXAMPLE, 'main.tf'), 'utf8'),
      readFile(join(REPO_ROOT, 'test', 'fixtures', 'failing-apply', 'main.tf'), 'utf8'),
    ]);
    const failingResources = failing.slice(failing.indexOf('resource "terraform_data" "before"'));
    const commitB = await repo.commitFiles(
      { [`${PROJECT}/main.tf`]: `${hello}\n${failingResources}` },
      'add a resource whose apply fails',
    );
    const lastGood = (await scenario.itemsOfType('last-good')).filter(
      (i) => i.environment === 'dev',
    );
    expect(lastGood).toEqual([expect.objectContaining({ commit })]);

    const { arn } = await scenario.startAwaitingApproval(runId, 'dev', { commit: commitB });
    await decide(runId, 'approve');
    const execution = await scenario.waitFor(arn);
    expectEnded(execution, 'FAILED');
    expect(execution.entered).toEqual(rolledBackPlanApplyStates(true));
    // The apply job failed, CollectApply said so, and the run ended in RolledBack (a Fail state
    // of JobFailed that says what was re-applied).
    expect(Scenario.failures(execution)).toEqual([
      'TaskFailed States.TaskFailed',
      'LambdaFunctionFailed JobFailed',
      'ExecutionFailed JobFailed',
    ]);
    expect(execution.history.at(-1)?.executionFailedEventDetails?.cause).toBe(
      `apply of ${commitB} failed; rolled back to the last good commit ${commit}`,
    );
    // DecideRollback chose the last good commit, and the rollback job applied it.
    const decisions = aws.invocations.filter(
      (i) => i.logicalId.includes('RollbackFunction') && JSON.stringify(i.event).includes(runId),
    );
    expect(decisions.map((i) => i.outcome)).toEqual([
      {
        result: expect.objectContaining({
          commit,
          failedCommit: commitB,
          job: expect.objectContaining({ verb: 'plan-apply', commit }),
        }),
      },
    ]);
    const jobs = [...aws.jobs.values()].filter((j) => j.jobName === `stepform-${runId}`);
    expect(jobs.map((j) => j.status)).toEqual(['SUCCEEDED', 'FAILED', 'SUCCEEDED']);

    expect(await scenario.phasesOf(runId)).toEqual([
      'started',
      'planned',
      'awaiting_approval',
      'approved',
      'applying',
      'rolling_back',
      'rolled_back',
    ]);
    expect(await scenario.locksOf('dev')).toEqual([]);
    // The state is the last good commit's again: B's terraform_data.before is gone.
    expect(await scenario.stateResources('dev', PROJECT)).toEqual(HELLO_RESOURCES);
    expect(
      (await scenario.itemsOfType('last-good')).filter((i) => i.environment === 'dev'),
    ).toEqual([expect.objectContaining({ commit })]);
    expect(
      (await scenario.itemsOfType('environment')).filter((i) => i.environment === 'dev'),
    ).toEqual([expect.objectContaining({ status: 'rolled_back', lastRunId: runId })]);
  });

  it('fails a plan refused as stale without rollback: a hotfix applied meanwhile stands', async () => {
    const runId = 'emulated-refused-1';
    const main = await readFile(join(HELLO_EXAMPLE, 'main.tf'), 'utf8');
    const commitC = await repo.commitFiles(
      { [`${PROJECT}/main.tf`]: main.replace('default     = "hello"', 'default     = "hi"') },
      'say hi',
    );
    const { arn } = await scenario.startAwaitingApproval(runId, 'dev', { commit: commitC });
    // While the plan waits for its approval, someone applies a hotfix by hand.
    const state = await scenario.terraformState('dev', PROJECT);
    const hotfix = { ...state, serial: state.serial + 1 };
    await scenario.s3.send(
      new PutObjectCommand({
        Bucket: aws.ref('AWS::S3::Bucket', 'StateBucket'),
        Key: `stepform/state/${stateKey('dev', PROJECT)}`,
        Body: JSON.stringify(hotfix),
      }),
    );
    await decide(runId, 'approve');
    const execution = await scenario.waitFor(arn);
    expectEnded(execution, 'FAILED');
    expect(execution.entered).toEqual(refusedPlanApplyStates(true));
    expect(Scenario.failures(execution)).toEqual([
      'TaskFailed States.TaskFailed',
      'LambdaFunctionFailed NothingApplied',
      'ExecutionFailed JobFailed',
    ]);
    // The Lambda's error, as Step Functions gives it: its errorMessage in a JSON cause.
    expect(execution.history.at(-1)?.executionFailedEventDetails?.cause).toContain(
      '"errorMessage":"apply failed: StalePlan: the state changed since the plan was made',
    );
    expect(
      aws.invocations.filter(
        (i) => i.logicalId.includes('RollbackFunction') && JSON.stringify(i.event).includes(runId),
      ),
    ).toEqual([]);
    expect(await scenario.phasesOf(runId)).toEqual([
      'started',
      'planned',
      'awaiting_approval',
      'approved',
      'applying',
      'failed',
    ]);
    expect(await scenario.terraformState('dev', PROJECT)).toEqual(hotfix);
    expect(await scenario.locksOf('dev')).toEqual([]);
  });

  it('ends RollbackFailed, phase rollback_failed, when the rollback job fails too', async () => {
    const fragile = await repo.commitFiles(
      helloWithFailingRollback('last-good', PROJECT),
      'a fragile resource',
    );
    const unrollable = await repo.commitFiles(
      helloWithFailingRollback('failing', PROJECT),
      'replace it, and fail',
    );
    const good = await scenario.startAwaitingApproval('emulated-fragile-1', 'brittle', {
      commit: fragile,
    });
    await decide('emulated-fragile-1', 'approve');
    expectEnded(await scenario.waitFor(good.arn), 'SUCCEEDED');

    const runId = 'emulated-rollback-failed-1';
    const { arn } = await scenario.startAwaitingApproval(runId, 'brittle', { commit: unrollable });
    await decide(runId, 'approve');
    const execution = await scenario.waitFor(arn);
    expectEnded(execution, 'FAILED');
    expect(execution.entered).toEqual(rollbackFailedPlanApplyStates(true));
    expect(Scenario.failures(execution)).toEqual([
      'TaskFailed States.TaskFailed',
      'LambdaFunctionFailed JobFailed',
      'TaskFailed States.TaskFailed',
      'LambdaFunctionFailed JobFailed',
      'ExecutionFailed RollbackFailed',
    ]);
    expect(execution.history.at(-1)?.executionFailedEventDetails?.cause).toContain(
      'deliberate-destroy-failure',
    );
    expect(await scenario.phasesOf(runId)).toEqual([
      'started',
      'planned',
      'awaiting_approval',
      'approved',
      'applying',
      'rolling_back',
      'rollback_failed',
    ]);
    const slack = scenario.slackMessagesOf(runId).join('\n');
    expect(slack).toContain(`the rollback to the last good commit ${fragile} failed`);
    expect(slack).not.toContain('rolled back');
    expect(await scenario.locksOf('brittle')).toEqual([]);
    expect(
      (await scenario.itemsOfType('environment')).filter((i) => i.environment === 'brittle'),
    ).toEqual([expect.objectContaining({ status: 'rollback_failed', lastRunId: runId })]);
  });
});

describe('plan-apply whose approval times out on emulated AWS', () => {
  it('ends Expired when nobody decides in time: nothing applied, the lock released, the link refused', async () => {
    const runId = 'emulated-expired-1';
    const approvalTimeoutSeconds = 4;
    const { arn, approval } = await scenario.startAwaitingApproval(runId, 'uat', {
      approvalTimeoutSeconds,
    });
    const link = await scenario.approvalLink(runId, 'approve');
    const execution = await scenario.waitFor(arn);
    expectEnded(execution, 'FAILED');
    expect(execution.entered).toEqual(EXPIRED_PLAN_APPLY_STATES);
    // Step Functions' own timeout of the waiting task (TimeoutSecondsPath), caught as States.Timeout.
    expect(Scenario.failures(execution)).toEqual([
      'TaskTimedOut States.Timeout',
      'ExecutionFailed ApprovalExpired',
    ]);
    expect(await scenario.phasesOf(runId)).toEqual([
      'started',
      'planned',
      'awaiting_approval',
      'expired',
    ]);
    expect(await scenario.locksOf('uat')).toEqual([]);
    expect([...aws.jobs.values()].filter((j) => j.jobName === `stepform-${runId}`)).toHaveLength(1);
    expect(await scenario.s3Keys('StateBucket', 'stepform/state/uat')).toEqual([]);

    // Too late: Step Functions no longer waits on the task's token (what the endpoint's
    // callback port makes of the answer, whichever of TaskTimedOut or InvalidToken it is)...
    await expect(
      new StepFunctionsTaskCallbackPort(scenario.sfn).succeed(approval.taskToken as string, {}),
    ).rejects.toMatchObject({ name: 'TaskNoLongerWaiting' });
    // ...and the link, once past its expiry, answers so and decides nothing.
    const expires = Number(new URL(link).searchParams.get('expires')) * 1000;
    await sleep(Math.max(0, expires - Date.now() + 1_000));
    const late = await decideThroughPage(link);
    expect({ page: late.pageStatus, post: late.status }).toEqual({ page: 410, post: 410 });
    expect(late.decided).toContain('expired');
    // On AWS nothing marks the approval expired (the local engine does when its run ends): it
    // stays pending, and past its expiresAt no link or Slack click can decide it.
    expect((await scenario.itemsOfType('approval')).filter((i) => i.runId === runId)).toEqual([
      expect.objectContaining({ status: 'pending', expiresAt: approval.expiresAt }),
    ]);
  });
});

describe('ephemeral environment on emulated AWS', () => {
  it('applies, schedules its destroy; ttl moves it, a command reads its state; the schedule’s input destroys it', async () => {
    const runId = 'emulated-ephemeral-1';
    const environment = 'pr-42';
    const arn = await scenario.start('ephemeral', runId, environment, {
      ttlSeconds: 3600,
      pullRequest: 42,
    });
    const execution = await scenario.waitFor(arn);
    expectEnded(execution, 'SUCCEEDED');
    expect(execution.entered).toEqual([
      'PrepareRun',
      'LockEnvironment',
      'NotifyStarted',
      'StartCreating',
      'NextCreateLayer',
      'CreateNext',
      // Its one project, in CreateLayer's one iteration.
      'CreateLayer',
      'RunEphemeralJob',
      'CollectEphemeral',
      'ProjectCreated',
      'NextCreateLayer',
      'CreateNext',
      'ScheduleDestroy',
      ...outcomeTail('Active', 'Applied'),
    ]);
    expect(await scenario.phasesOf(runId)).toEqual(['started', 'applied']);
    expect(await scenario.locksOf(environment)).toEqual([]);
    expect(await scenario.stateResources(environment, PROJECT)).toEqual(HELLO_RESOURCES);
    const [record] = (await scenario.itemsOfType('environment')).filter(
      (i) => i.environment === environment,
    );
    expect(record).toMatchObject({ status: 'active', lastRunId: runId });
    const fireAt = record!.ttlExpiresAt as string;
    expect(Date.parse(fireAt) - Date.now()).toBeGreaterThan(3_000_000);

    // The schedule on EventBridge Scheduler (moto): a one-time at() of the destroy workflow.
    const group = 'Stepform-ttl';
    const name = scheduleName(environment, PROJECT);
    const schedule = await scenario.scheduler.send(
      new GetScheduleCommand({ GroupName: group, Name: name }),
    );
    expect(schedule).toMatchObject({
      ScheduleExpression: atExpression(fireAt),
      ScheduleExpressionTimezone: 'UTC',
      ActionAfterCompletion: 'DELETE',
      State: 'ENABLED',
      Target: {
        Arn: START_EXECUTION_TARGET,
        RoleArn: expect.stringContaining('SchedulerRole'),
      },
    });
    expect(scheduledExecution(schedule.Target)).toMatchObject({
      stateMachineArn: aws.stateMachineArn('destroy'),
    });
    expect(scheduledExecution(schedule.Target).input).toEqual(
      scheduledDestroyRun({
        environment,
        projectDir: PROJECT,
        repository: GITHUB_URL,
        commit,
        fireAt,
        createdBy: runId,
      }),
    );

    // ttl (issue 13): ChangeTtl reads the schedule (GetSchedule) and moves it to now + 2h.
    const ttlRunId = 'emulated-ttl-1';
    const ttl = await scenario.waitFor(
      await scenario.start('ttl', ttlRunId, environment, { ttlSeconds: 7200 }),
    );
    expectEnded(ttl, 'SUCCEEDED');
    expect(ttl.entered).toEqual([
      'PrepareRun',
      'LockEnvironment',
      'ChangeTtl',
      ...outcomeTail('TtlChanged'),
    ]);
    expect(await scenario.phasesOf(ttlRunId)).toEqual(['ttl_changed']);
    expect(await scenario.locksOf(environment)).toEqual([]);
    const [moved] = (await scenario.itemsOfType('environment')).filter(
      (i) => i.environment === environment,
    );
    expect(moved).toMatchObject({ status: 'active', lastRunId: runId });
    const movedAt = moved!.ttlExpiresAt as string;
    expect(Date.parse(movedAt) - Date.now()).toBeGreaterThan(7_000_000);
    const rescheduled = await scenario.scheduler.send(
      new GetScheduleCommand({ GroupName: group, Name: name }),
    );
    expect(rescheduled.ScheduleExpression).toBe(atExpression(movedAt));
    const input = scheduledExecution(rescheduled.Target).input as Record<string, unknown>;
    expect(input).toEqual(
      scheduledDestroyRun({
        environment,
        projectDir: PROJECT,
        repository: GITHUB_URL,
        commit,
        fireAt: movedAt,
        createdBy: ttlRunId,
      }),
    );

    // command (issue 13): state list under the lock, its output kept with the run.
    const commandRunId = 'emulated-command-1';
    const command = await scenario.waitFor(
      await scenario.start('command', commandRunId, environment, { args: ['state', 'list'] }),
    );
    expectEnded(command, 'SUCCEEDED');
    expect(command.entered).toEqual([
      'PrepareRun',
      'LockEnvironment',
      'NotifyStarted',
      'NeedsApproval',
      'RunCommandJob',
      'CollectCommand',
      ...outcomeTail('CommandCompleted'),
    ]);
    expect(await scenario.phasesOf(commandRunId)).toEqual(['started', 'command_completed']);
    expect(await scenario.locksOf(environment)).toEqual([]);
    const [commandRun] = (await scenario.itemsOfType('run')).filter(
      (i) => i.runId === commandRunId,
    );
    const details = commandRun?.details as
      { command?: { name: string; output: string } } | undefined;
    const ran = details?.command;
    expect(ran?.name).toBe('state list');
    expect(ran?.output.trim().split('\n').sort()).toEqual(HELLO_RESOURCES);

    // The TTL runs out: Scheduler starts the target, an execution named by its run id.
    const destroyRunId = input.runId as string;
    const fired = await scenario.fire(rescheduled.Target);
    expect(fired.name).toBe(destroyRunId);
    const destroy = await scenario.waitFor(fired.arn);
    expectEnded(destroy, 'SUCCEEDED');
    expect(destroy.entered).toEqual([
      'PrepareRun',
      'LockEnvironment',
      'NeedsApproval',
      'NotifyDestroying',
      'StartDestroying',
      'NextDestroyLayer',
      'DestroyNext',
      // Its one project, in DestroyLayer's one iteration.
      'DestroyLayer',
      'RunDestroyJob',
      'CollectDestroy',
      'DeleteSchedule',
      'ProjectDestroyed',
      'NextDestroyLayer',
      'DestroyNext',
      'DeleteRunSchedule',
      ...outcomeTail('Destroyed'),
    ]);
    expect(await scenario.phasesOf(destroyRunId)).toEqual(['destroying', 'destroyed']);
    expect(await scenario.locksOf(environment)).toEqual([]);
    expect(await scenario.stateResources(environment, PROJECT)).toEqual([]);
    await expect(
      scenario.scheduler.send(new GetScheduleCommand({ GroupName: group, Name: name })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    expect(
      (await scenario.itemsOfType('environment')).filter((i) => i.environment === environment),
    ).toEqual([expect.objectContaining({ status: 'destroyed', lastRunId: destroyRunId })]);
  });
});

describe('plan-apply whose Record step fails on emulated AWS', () => {
  it('stays Applied when the outcome cannot be recorded, and still releases the lock', async () => {
    const runId = 'emulated-record-fails-1';
    // The Record function's DynamoDB write throttled: its uncaught error, not one of the
    // Lambda.* errors RecordOutcome retries.
    aws.failingFunctions.set('RecordFunction', 'ProvisionedThroughputExceededException');
    try {
      const { arn } = await scenario.startAwaitingApproval(runId, 'qa');
      await decide(runId, 'approve');
      const execution = await scenario.waitFor(arn);
      // The one failure of the run is Record's.
      expect({ status: execution.status, failed: Scenario.failures(execution) }).toEqual({
        status: 'SUCCEEDED',
        failed: ['LambdaFunctionFailed ProvisionedThroughputExceededException'],
      });
      const applied = appliedPlanApplyStates(true);
      expect(execution.entered).toEqual([
        ...applied.slice(0, applied.indexOf('RecordOutcome') + 1),
        'RecordFailureFailsRun',
        ...applied.slice(applied.indexOf('RecordOutcome') + 1),
      ]);
      const records = aws.invocations.filter(
        (i) => i.logicalId.includes('RecordFunction') && JSON.stringify(i.event).includes(runId),
      );
      expect(records.map((i) => i.outcome)).toEqual([
        {
          errorType: 'ProvisionedThroughputExceededException',
          errorMessage: expect.any(String),
        },
      ]);
      // The applied status event was sent before RecordOutcome; nothing was recorded after.
      expect(await scenario.phasesOf(runId)).toEqual(APPROVED_APPLY_PHASES);
      expect(await scenario.itemsOfType('lock')).toEqual([]);
      expect(
        (await scenario.itemsOfType('environment')).filter((e) => e.environment === 'qa'),
      ).toEqual([]);
      expect(await scenario.stateResources('qa', PROJECT)).toEqual(HELLO_RESOURCES);
    } finally {
      aws.failingFunctions.delete('RecordFunction');
    }
  });
});

describe('plan-apply while another run holds the lock on emulated AWS', () => {
  // LockEnvironment retries LockHeld up to 30 times (10 s, backoff 1.5, at most 60 s): this
  // suite's definition retries it twice after a second (LOCK_HELD_RETRY), the same path.
  it('fails with LockHeld naming the holder after its retries, runs no job and leaves the lock', async () => {
    const runId = 'emulated-lock-held-1';
    const acquiredAt = new Date(Date.now() - 60_000).toISOString();
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const holder = {
      environment: 'prod',
      project: PROJECT,
      owner: 'another-run-1',
      acquiredAt,
      expiresAt,
    };
    // The lock item as DynamoLockPort.acquire writes it.
    await scenario.dynamo.send(
      new PutItemCommand({
        TableName: aws.ref('AWS::DynamoDB::Table', 'Table'),
        Item: marshall({
          ...keys.lock('prod', PROJECT),
          type: 'lock',
          ...holder,
          expiresAtEpoch: epochSeconds(expiresAt, 'expiresAt'),
        }),
      }),
    );
    const jobsBefore = aws.jobs.size;
    const arn = await scenario.start('plan-apply', runId, 'prod');
    const execution = await scenario.waitFor(arn);
    expectEnded(execution, 'FAILED');
    // A retry runs the state's task again without entering the state again.
    expect(execution.entered).toEqual([
      'PrepareRun',
      'LockEnvironment',
      'NotifyLockFailed',
      'LockFailed',
    ]);
    const lockFailures = execution.history.flatMap((e) =>
      e.lambdaFunctionFailedEventDetails ? [e.lambdaFunctionFailedEventDetails] : [],
    );
    expect(lockFailures).toHaveLength(1 + LOCK_HELD_RETRY.MaxAttempts);
    for (const failure of lockFailures) {
      expect(failure.error).toBe('LockHeld');
      expect(failure.cause).toContain(`locked by run another-run-1 until ${expiresAt}`);
    }
    expect(Scenario.failures(execution).at(-1)).toBe('ExecutionFailed LockHeld');
    expect(aws.jobs.size - jobsBefore).toBe(0);
    expect(await scenario.phasesOf(runId)).toEqual(['failed']);
    expect(await scenario.locksOf('prod')).toEqual([expect.objectContaining(holder)]);
    expect(await scenario.s3Keys('StateBucket', 'stepform/state/prod')).toEqual([]);
  });
});

describe('a blocking policy on emulated AWS (issue 16)', () => {
  /** A plan-apply of the guarded commit in a protected environment, where the policy denies. */
  async function startBlocked(runId: string, environment: string, extra = {}) {
    const arn = await scenario.start('plan-apply', runId, environment, {
      commit: guarded,
      protectedEnvironment: true,
      policies: [guardrails(['alice'])],
      ...extra,
    });
    const waiting = await scenario.waitFor(arn, (e) => e.entered.includes('RequestPolicyOverride'));
    expect(waiting.entered).toContain('RequestPolicyOverride');
    return arn;
  }

  it('ends PolicyFailed when no owner overrides in time: nothing applied, the lock released', async () => {
    const runId = 'emulated-override-expired-1';
    const arn = await startBlocked(runId, 'guarded', { approvalTimeoutSeconds: 4 });
    const [approval] = await scenario.waitForItems('approval', runId);
    expect(approval).toMatchObject({
      subject: {
        kind: 'policy_override',
        policy: { blockedBy: ['guardrails'], owners: ['alice'] },
      },
    });
    const execution = await scenario.waitFor(arn);
    expectEnded(execution, 'FAILED');
    expect(execution.entered).toEqual(POLICY_REFUSED_PLAN_APPLY_STATES);
    expect(Scenario.failures(execution)).toEqual([
      'TaskTimedOut States.Timeout',
      'ExecutionFailed PolicyBlocked',
    ]);
    expect(await scenario.phasesOf(runId)).toEqual([
      'started',
      'awaiting_policy_override',
      'policy_failed',
    ]);
    expect(await scenario.locksOf('guarded')).toEqual([]);
    expect(await scenario.s3Keys('StateBucket', 'stepform/state/guarded')).toEqual([]);
  });

  it('ends Failed when the override cannot be requested: retried, then caught; nothing applied', async () => {
    const runId = 'emulated-override-fails-1';
    aws.failingFunctions.set('RequestApproval', 'Lambda.ServiceException');
    try {
      const arn = await startBlocked(runId, 'guarded');
      const execution = await scenario.waitFor(arn);
      expectEnded(execution, 'FAILED');
      expect(execution.entered).toEqual(OVERRIDE_FAILED_PLAN_APPLY_STATES);
      // Three retries (the file's Retry), then the Catch: four failed invokes in all.
      const failed = Scenario.failures(execution);
      expect(failed.filter((f) => f.endsWith('Lambda.ServiceException'))).toHaveLength(4);
      expect(failed.at(-1)).toBe('ExecutionFailed JobFailed');
      expect(await scenario.phasesOf(runId)).toEqual(['started', 'failed']);
      expect(await scenario.locksOf('guarded')).toEqual([]);
      expect(await scenario.itemsOfType('approval')).not.toContainEqual(
        expect.objectContaining({ runId }),
      );
    } finally {
      aws.failingFunctions.delete('RequestApproval');
    }
  });
});

describe('plan-apply with approvers and Slack interactivity on emulated AWS', () => {
  // The stack as deployed with `-c approvers=… -c slackInteractivity=true`: its own template
  // (synthesized without bundling, 2 s instead of 8: the functions' sources are the default
  // stack's, so its bundles are), its own moto and harness.
  const APPROVER = 'UAPPROVER1';
  const SIGNING_SECRET = 'emulated-slack-signing-secret';
  let approversAws: EmulatedAws;
  let slack: Scenario;

  beforeAll(async () => {
    const outdir = join(scratch, 'cdk-approvers.out');
    const template = synthesize(outdir, {
      context: { approvers: APPROVER, slackInteractivity: true },
      bundling: false,
    });
    approversAws = new EmulatedAws(template, outdir, scratch, { bundles });
    slack = await startStack(approversAws);
    // What docs/deploy.md asks of the operator: the Slack app's signing secret in its secret.
    await slack.secrets.send(
      new PutSecretValueCommand({
        SecretId: approversAws.ref('AWS::SecretsManager::Secret', 'SlackSigning'),
        SecretString: SIGNING_SECRET,
      }),
    );
  }, 60_000);

  afterAll(async () => {
    await stopStack(approversAws, slack);
  });

  /**
   * A click on a message's button, as Slack POSTs it (form-encoded, v0-signed): the approve
   * button unless said; its answers go to response_url (here the fake Slack).
   */
  async function click(
    user: { id: string; username: string },
    value: string,
    actionId = APPROVE_ACTION_ID,
  ) {
    const payload = {
      type: 'block_actions',
      user,
      actions: [{ action_id: actionId, value }],
      response_url: `${approversAws.harnessUrl}/slack`,
    };
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const timestamp = String(Math.floor(Date.now() / 1000));
    const response = await fetch(`${approversAws.harnessUrl}/slack/actions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': timestamp,
        'x-slack-signature': slackSignature(timestamp, body, SIGNING_SECRET),
      },
      body,
    });
    return { status: response.status, body: await response.text() };
  }

  it('refuses a non-approver’s click, applies on the approver’s, and records the Slack user', async () => {
    const runId = 'emulated-approvers-1';
    const { arn, approval } = await slack.startAwaitingApproval(runId, 'live');
    // The shared channel gets the buttons (the approval id), never a link anyone could follow.
    const value = `${approval.id as string}.approve`;
    const messages = await slack.waitForSlack(runId, (text) => text.includes(value));
    expect(messages.filter((text) => text.includes('/approvals/'))).toEqual([]);

    const refused = await click({ id: 'UINTRUDER1', username: 'mallory' }, value);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('not on the approver list');
    // Time for a wrongly resumed task to leave RequestApproval, had the click resumed it.
    await sleep(1_000);
    const still = await slack.waitFor(arn, () => true);
    expect(still.status).toBe('RUNNING');
    expect(still.entered.at(-1)).toBe('RequestApproval');
    expect((await slack.itemsOfType('approval')).filter((i) => i.runId === runId)).toEqual([
      expect.objectContaining({ status: 'pending' }),
    ]);

    const approved = await click({ id: APPROVER, username: 'alice' }, value);
    expect(approved).toEqual({
      status: 200,
      body: JSON.stringify({ text: `Run ${runId} approved.` }),
    });
    const execution = await slack.waitFor(arn);
    expectEnded(execution, 'SUCCEEDED', slack);
    expect(execution.entered).toEqual(appliedPlanApplyStates(true));
    expect(await slack.phasesOf(runId)).toEqual(APPROVED_APPLY_PHASES);
    expect((await slack.itemsOfType('approval')).filter((i) => i.runId === runId)).toEqual([
      expect.objectContaining({ status: 'approved', decidedBy: APPROVER }),
    ]);
    // What the waiting task was resumed with: the Slack user who clicked.
    const resumed = execution.history.find(
      (e) => e.taskSucceededEventDetails?.resource === 'invoke.waitForTaskToken',
    );
    expect(JSON.parse(resumed?.taskSucceededEventDetails?.output ?? '{}')).toMatchObject({
      approvedBy: APPROVER,
    });
    expect(await slack.locksOf('live')).toEqual([]);
    expect(await slack.stateResources('live', PROJECT)).toEqual(HELLO_RESOURCES);
  });

  it('a blocking policy: an owner’s click sends them their own links; they override with a reason on the page, then the plans are approved and apply', async () => {
    const runId = 'emulated-override-1';
    const OWNER = { id: 'UOWNER0001', username: 'olivia' };
    const reason = 'the greeting is allowed here';
    const arn = await slack.start('plan-apply', runId, 'sealed', {
      commit: guarded,
      protectedEnvironment: true,
      policies: [guardrails([OWNER.id])],
    });
    const [override] = await slack.waitForItems('approval', runId);
    if (!override) throw new Error(`${runId} stored no override request`);
    // The channel gets one button that asks for links, never a link, approve or reject.
    const overrideId = override.id as string;
    const asked = await slack.waitForSlack(runId, (text) =>
      text.includes(OVERRIDE_LINKS_ACTION_ID),
    );
    expect(asked.filter((text) => text.includes('/approvals/'))).toEqual([]);
    expect(asked.filter((text) => text.includes(`${overrideId}.approve`))).toEqual([]);

    /** The messages only the user who clicked sees (ephemeral, at the click's response_url). */
    const ephemeral = () =>
      approversAws.slack
        .filter((m) => (m as { response_type?: string }).response_type === 'ephemeral')
        .map((m) => JSON.stringify(m).replaceAll('&amp;', '&'));

    // Neither the deployment's approver nor anyone else may ask: told so, only them.
    const refused = await click(
      { id: APPROVER, username: 'alice' },
      overrideId,
      OVERRIDE_LINKS_ACTION_ID,
    );
    expect(refused.status).toBe(403);
    expect(ephemeral()).toEqual([
      expect.stringContaining(
        `Stepform: alice may not override guardrails: only ${OWNER.id} may (the owners of every blocking policy)`,
      ),
    ]);

    // The owner's click: their own links, in a message only they see.
    const sent = await click(OWNER, overrideId, OVERRIDE_LINKS_ACTION_ID);
    expect(sent).toEqual({
      status: 200,
      body: JSON.stringify({ text: `Links sent to ${OWNER.id}.` }),
    });
    const links = [
      ...(ephemeral().at(-1) ?? '').matchAll(/http:\/\/127\.0\.0\.1:\d+\/approvals\/[^"\s]+/g),
    ].map((m) => new URL(m[0]));
    expect(
      links.map((l) => [l.pathname, l.searchParams.get('action'), l.searchParams.get('approver')]),
    ).toEqual([
      [`/approvals/${overrideId}`, 'approve', OWNER.id],
      [`/approvals/${overrideId}`, 'reject', OWNER.id],
    ]);

    // On the page: what blocks it, and a reason required to override.
    const withoutReason = await decideThroughPage(links[0]!.toString());
    expect(withoutReason.page).toContain('name="reason"');
    expect(withoutReason.status).toBe(400);
    const overridden = await decideThroughPage(links[0]!.toString(), { reason });
    expect({ page: overridden.pageStatus, post: overridden.status }).toEqual({
      page: 200,
      post: 200,
    });

    // Then the plans' own approval, by the deployment's approver.
    const awaiting = await slack.waitFor(arn, (e) => e.entered.includes('RequestApproval'));
    expect(awaiting.entered).toContain('NotifyPolicyOverridden');
    const [approval] = await slack.waitForItems(
      'approval',
      runId,
      (item) => item.id !== overrideId,
    );
    expect(approval).toMatchObject({ status: 'pending', subject: { kind: 'plan' } });
    const approved = await click(
      { id: APPROVER, username: 'alice' },
      `${approval?.id as string}.approve`,
    );
    expect(approved.status).toBe(200);

    const execution = await slack.waitFor(arn);
    expectEnded(execution, 'SUCCEEDED', slack);
    expect(execution.entered).toEqual(OVERRIDDEN_PLAN_APPLY_STATES);
    const events = (await slack.drainStatusEvents()).filter((e) => e.runId === runId);
    expect(events.map((e) => e.phase)).toEqual(OVERRIDDEN_APPLY_PHASES);
    // Who overrode, where and why, on the override's event.
    expect(events[2]?.actor).toEqual({
      name: OWNER.id,
      at: expect.any(String),
      channel: 'web',
      reason,
    });
    expect((await slack.itemsOfType('approval')).find((i) => i.id === overrideId)).toMatchObject({
      status: 'approved',
      decidedBy: OWNER.id,
      reason,
    });
    expect(await slack.locksOf('sealed')).toEqual([]);
    expect(await slack.stateResources('sealed', PROJECT)).toEqual(HELLO_RESOURCES);
  });
});
