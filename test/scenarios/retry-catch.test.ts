// Every Retry and Catch path of the workflows, driven through the embedded engine with real
// OpenTofu/Terraform jobs and injected failures: a fault makes a state's adapter throw an
// Error with that name N times, then work, exactly as a flaky Lambda or Batch call would.
// Each scenario asserts the outcome, the retried/caught events, the lock, the status events
// and what the environment holds afterwards.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type PolicySet, stateKey } from '../../core/contracts/job-input.ts';
import { DEFAULT_LOCK_TTL_MS } from '../../core/locks.ts';
import type { RunContext, Workflow } from '../../core/contracts/workflow-input.ts';
import { type AslDefinition, allStates, readAslText } from '../../state-machines/workflows.ts';
import type { FaultInjection, RunOutcome, StateProgress } from '../../local/engine/engine.ts';
import { LocalEngine } from '../../local/engine/local-engine.ts';
import type { ApprovalRequest } from '../../local/engine/handlers.ts';
import { localPorts } from '../../local/engine/local-ports.ts';
import { decideStep } from '../../core/steps.ts';
import { scheduledDestroyRun } from '../../core/ttl.ts';
import type { LockRecord } from '../../core/locks.ts';
import { runExecutorProcess } from '../../local/executor-process.ts';
import {
  HELLO_EXAMPLE,
  REPO_ROOT,
  type TestRepo,
  helloWithFailingRollback,
  makeRepo,
  tempDir,
} from '../support/repo.ts';
import {
  OVERRIDDEN_APPLY_PHASES,
  OVERRIDDEN_PLAN_APPLY_STATES,
  OVERRIDE_FAILED_PLAN_APPLY_STATES,
  POLICY_REFUSED_PLAN_APPLY_STATES,
  refusedPlanApplyStates,
  rollbackFailedPlanApplyStates,
  rolledBackPlanApplyStates,
  stateNamed,
} from '../support/workflow-paths.ts';

const PROJECT = 'stack';

let repo: TestRepo;
/** The hello example. */
let commitA: string;
/**
 * A with the blocking policies under policy/: test/fixtures/policies/guardrails.rego (no
 * terraform_data created in a protected environment) and KEEP (none destroyed there).
 */
let commitGuarded: string;
/** The same with another greeting: one update and one replace on top of A. */
let commitB: string;
/** A module whose plan succeeds and whose apply really fails (test/fixtures/failing-apply). */
let commitFailing: string;
/** Hello plus test/fixtures/failing-rollback/last-good: a resource whose destroy fails. */
let commitFragile: string;
/**
 * Hello plus test/fixtures/failing-rollback/failing: its apply replaces that resource and
 * fails, and rolling back to commitFragile must replace it again, which fails.
 */
let commitUnrollable: string;

const engines: LocalEngine[] = [];

/** The integration tests' blocking set: alice and bob may override it. */
const POLICY_SET: PolicySet = {
  name: 'guardrails',
  path: 'policy',
  on_failure: 'block',
  owners: ['alice', 'bob'],
};
const GUARDRAILS = readFileSync(
  join(REPO_ROOT, 'test', 'fixtures', 'policies', 'guardrails.rego'),
  'utf8',
);
const KEEP = readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'policies', 'keep.rego'), 'utf8');

beforeAll(async () => {
  repo = await makeRepo();
  commitA = await repo.commitDir(HELLO_EXAMPLE, PROJECT, 'add hello');
  const main = readFileSync(join(HELLO_EXAMPLE, 'main.tf'), 'utf8');
  commitGuarded = await repo.commitFiles(
    { [`${POLICY_SET.path}/guardrails.rego`]: GUARDRAILS, [`${POLICY_SET.path}/keep.rego`]: KEEP },
    'policies that deny creating or destroying terraform_data in a protected environment',
  );
  commitB = await repo.commitFiles(
    { [`${PROJECT}/main.tf`]: main.replace('default     = "hello"', 'default     = "bonjour"') },
    'say bonjour',
  );
  commitFailing = await repo.commitDir(
    join(REPO_ROOT, 'test', 'fixtures', 'failing-apply'),
    PROJECT,
    'an apply that fails',
  );
  commitFragile = await repo.commitFiles(
    helloWithFailingRollback('last-good', PROJECT),
    'a resource whose destroy fails',
  );
  commitUnrollable = await repo.commitFiles(
    helloWithFailingRollback('failing', PROJECT),
    'replace it, then fail',
  );
});

afterAll(async () => {
  for (const engine of engines) {
    engine.close();
    await rm(engine.home.root, { recursive: true, force: true });
  }
  await rm(repo.dir, { recursive: true, force: true });
});

/** An engine over a fresh home; Slack stays printed (and silenced), never posted. */
async function newEngine(): Promise<LocalEngine> {
  const engine = new LocalEngine({
    home: await tempDir('scenario'),
    env: { ...process.env, SLACK_WEBHOOK_URL: undefined, STEPFORM_APPROVAL_URL: undefined },
    print: () => undefined,
  });
  engines.push(engine);
  return engine;
}

interface Scenario {
  readonly workflow: Workflow;
  readonly commit: string;
  readonly environment: string;
  readonly faults?: Record<string, FaultInjection>;
  /** States whose retries wait 0 ms although no fault is injected on them. */
  readonly fastRetries?: readonly string[];
  readonly ttlSeconds?: number;
  readonly projectDir?: string;
  readonly now?: () => Date;
  readonly onProgress?: (progress: StateProgress) => void;
  /**
   * Asks for an approval instead of auto-approving: this runs while the run waits for it, and
   * then the run is approved (as `stepform approve` does).
   */
  readonly whileAwaitingApproval?: () => Promise<void>;
  /** What is decided once whileAwaitingApproval is done (approve unless said). */
  readonly decision?: 'approve' | 'reject';
  /**
   * Who decides each request, an owner's override as well as an approval, and how: given, the
   * run waits for every approval and this decides each as soon as it is asked.
   */
  readonly decide?: (request: ApprovalRequest) => Decision;
  /** More of the run input (a ttl run's cancelTtl, a command run's args). */
  readonly extra?: Partial<RunContext>;
}

interface Decision {
  readonly action: 'approve' | 'reject';
  readonly by: string;
  /** Required to override a blocking policy. */
  readonly reason?: string;
}

interface Ran {
  readonly runId: string;
  readonly outcome: RunOutcome;
  readonly progress: StateProgress[];
  /** Status event phases, in order. */
  readonly phases: string[];
  /** States entered, in order. */
  readonly entered: string[];
  count(type: StateProgress['type'], state: string): number;
  /** `failed` events of a state: "ErrorName: cause". */
  failures(state: string): string[];
}

async function run(engine: LocalEngine, scenario: Scenario): Promise<Ran> {
  const runId = LocalEngine.newRunId();
  const faults = scenario.faults ?? {};
  const retryIntervalOverrides = Object.fromEntries(
    [...Object.keys(faults), ...(scenario.fastRetries ?? [])].map((state) => [state, 0]),
  );
  const context: RunContext = {
    runId,
    workflow: scenario.workflow,
    repository: repo.dir,
    commit: scenario.commit,
    projectDir: scenario.projectDir ?? PROJECT,
    environment: scenario.environment,
    autoApprove: scenario.whileAwaitingApproval === undefined && scenario.decide === undefined,
    approvalTimeoutSeconds: 60,
    ...(scenario.ttlSeconds === undefined ? {} : { ttlSeconds: scenario.ttlSeconds }),
    ...scenario.extra,
  };
  const progress: StateProgress[] = [];
  const decisions: Promise<unknown>[] = [];
  const onApprovalRequested = (request: ApprovalRequest) => {
    const { whileAwaitingApproval, decide } = scenario;
    if (!whileAwaitingApproval && !decide) return;
    const decision = decide?.(request) ?? {
      action: scenario.decision ?? 'approve',
      by: 'scenario',
    };
    decisions.push(
      (whileAwaitingApproval?.() ?? Promise.resolve()).then(() =>
        decideStep(
          {
            approvalId: request.approvalId,
            action: decision.action,
            by: decision.by,
            now: new Date(),
            via: 'cli',
            ...(decision.reason === undefined ? {} : { reason: decision.reason }),
          },
          localPorts(engine.stores),
        ),
      ),
    );
  };
  const outcome = await engine.run(context, {
    onApprovalRequested,
    faults,
    retryIntervalOverrides,
    onProgress: (p) => {
      progress.push(p);
      scenario.onProgress?.(p);
    },
    ...(scenario.now ? { now: scenario.now } : {}),
  });
  await Promise.all(decisions);
  const events = engine.stores.runs.listEvents(runId);
  return {
    runId,
    outcome,
    progress,
    phases: engine.stores.outbox.list(runId).map((o) => o.phase),
    // A Map iteration's states by their name alone (the engine labels them with the project).
    entered: events.filter((e) => e.type === 'entered').map((e) => stateNamed(e.state)),
    count: (type, state) =>
      events.filter((e) => e.type === type && stateNamed(e.state) === state).length,
    failures: (state) =>
      events
        .filter((e) => e.type === 'failed' && stateNamed(e.state) === state)
        .map((e) => e.detail ?? ''),
  };
}

const definitions = new Map<Workflow, AslDefinition>();
/** MaxAttempts of the retrier of `state` that matches `error`, read from the ASL file. */
async function maxAttempts(workflow: Workflow, state: string, error: string): Promise<number> {
  let definition = definitions.get(workflow);
  if (!definition) {
    definition = JSON.parse(await readAslText(workflow)) as AslDefinition;
    definitions.set(workflow, definition);
  }
  const found = allStates(definition).find(([name]) => name === state)?.[1];
  const retrier = (found?.Retry ?? []).find((r) => r.ErrorEquals.includes(error)) as
    { MaxAttempts?: number } | undefined;
  if (!retrier) throw new Error(`${workflow}: ${state} does not retry ${error}`);
  return retrier.MaxAttempts ?? 3;
}

interface TfState {
  serial?: number;
  resources: { mode: string; type: string; name: string }[];
  outputs: Record<string, { value: unknown; type?: unknown }>;
}
/** The environment's Terraform state, read from the local backend (undefined: never applied). */
async function tfState(engine: LocalEngine, environment: string): Promise<TfState | undefined> {
  const path = join(engine.home.state, stateKey(environment, PROJECT));
  if (!existsSync(path)) return undefined;
  return JSON.parse(await readFile(path, 'utf8')) as TfState;
}
async function resources(engine: LocalEngine, environment: string): Promise<string[]> {
  const state = await tfState(engine, environment);
  return (state?.resources ?? [])
    .filter((r) => r.mode === 'managed')
    .map((r) => `${r.type}.${r.name}`)
    .sort();
}
/** The status events' messages of a run, in order ('' for an event without one). */
function messagesOf(engine: LocalEngine, runId: string): string[] {
  return engine.stores.outbox
    .list(runId)
    .map((row) => (row.body as { message?: string }).message ?? '');
}
const HELLO_RESOURCES = [
  'terraform_data.greeting',
  'terraform_data.secret_holder',
  'time_static.greeted_at',
];

describe('transient service errors are retried and the run succeeds', () => {
  let engine: LocalEngine;
  beforeAll(async () => {
    engine = await newEngine();
  });

  it('retries Lambda errors on PrepareRun, LockEnvironment, CollectPlan and RecordOutcome', async () => {
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitA,
      environment: 'transient',
      faults: {
        PrepareRun: { times: 1, error: 'Lambda.AWSLambdaException' },
        LockEnvironment: { times: 2, error: 'Lambda.ServiceException' },
        CollectPlan: { times: 2, error: 'Lambda.ServiceException' },
        RecordOutcome: { times: 2, error: 'Lambda.TooManyRequestsException' },
      },
    });
    expect(ran.outcome.status).toBe('succeeded');
    expect(ran.count('retried', 'PrepareRun')).toBe(1);
    expect(ran.count('retried', 'LockEnvironment')).toBe(2);
    expect(ran.count('retried', 'CollectPlan')).toBe(2);
    expect(ran.count('retried', 'RecordOutcome')).toBe(2);
    expect(ran.failures('LockEnvironment')).toEqual([
      expect.stringMatching(/^Lambda\.ServiceException: injected failure 1 of 2/),
      expect.stringMatching(/^Lambda\.ServiceException: injected failure 2 of 2/),
    ]);
    expect(ran.progress.filter((p) => p.type === 'caught')).toEqual([]);
    expect(ran.phases).toEqual(['started', 'planned', 'applying', 'applied']);
    expect(engine.stores.locks.locksOf('transient')).toEqual([]);
    expect((await engine.stores.records.getLastGood('transient', PROJECT))?.commit).toBe(commitA);
    expect(await resources(engine, 'transient')).toEqual(HELLO_RESOURCES);
  });

  it('retries Batch errors on RunPlanJob and RunApplyJob, running each job once', async () => {
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitB,
      environment: 'transient',
      faults: {
        RunPlanJob: { times: 1, error: 'Batch.AWSBatchException' },
        RunApplyJob: { times: 2, error: 'Batch.ServerException' },
      },
    });
    expect(ran.outcome.status).toBe('succeeded');
    expect(ran.count('retried', 'RunPlanJob')).toBe(1);
    expect(ran.count('retried', 'RunApplyJob')).toBe(2);
    expect(ran.count('exited', 'RunPlanJob')).toBe(1);
    expect(ran.count('exited', 'RunApplyJob')).toBe(1);
    expect(ran.phases).toEqual(['started', 'planned', 'applying', 'applied']);
    expect(engine.stores.locks.locksOf('transient')).toEqual([]);
    expect((await engine.stores.records.getLastGood('transient', PROJECT))?.commit).toBe(commitB);
    expect((await tfState(engine, 'transient'))?.outputs.greeting?.value).toBe('bonjour, world');
  });
});

describe('a held environment lock', () => {
  let engine: LocalEngine;
  beforeAll(async () => {
    engine = await newEngine();
  });

  it('is waited for: LockHeld three times, then the lock is free and the run succeeds', async () => {
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitA,
      environment: 'contended',
      faults: { LockEnvironment: { times: 3, error: 'LockHeld' } },
    });
    expect(ran.outcome.status).toBe('succeeded');
    expect(ran.count('retried', 'LockEnvironment')).toBe(3);
    expect(ran.count('caught', 'LockEnvironment')).toBe(0);
    expect(ran.phases).toEqual(['started', 'planned', 'applying', 'applied']);
    expect(engine.stores.locks.locksOf('contended')).toEqual([]);
  });

  it('fails the run with LockHeld once the retries are spent, taking and leaving no lock', async () => {
    const attempts = await maxAttempts('plan-apply', 'LockEnvironment', 'LockHeld');
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitA,
      environment: 'contended',
      faults: { LockEnvironment: { times: attempts + 1, error: 'LockHeld' } },
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('LockHeld');
    expect(ran.count('retried', 'LockEnvironment')).toBe(attempts);
    expect(ran.count('caught', 'LockEnvironment')).toBe(1);
    expect(ran.entered).not.toContain('RunPlanJob');
    expect(ran.entered.filter((s) => s.startsWith('Unlock'))).toEqual([]);
    expect(ran.phases).toEqual(['failed']);
    expect(engine.stores.locks.locksOf('contended')).toEqual([]);
  });

  it('held for real by another run: fails with LockHeld and leaves the other run its lock', async () => {
    const other = await engine.stores.locks.acquire(
      'contended',
      PROJECT,
      'other-run',
      new Date(),
      600_000,
    );
    try {
      const ran = await run(engine, {
        workflow: 'destroy',
        commit: commitA,
        environment: 'contended',
        fastRetries: ['LockEnvironment'],
      });
      expect(ran.outcome.status).toBe('failed');
      expect(ran.outcome.error?.name).toBe('LockHeld');
      expect(ran.outcome.error?.message).toContain('locked by run other-run');
      expect(ran.entered).not.toContain('RunDestroyJob');
      expect(ran.phases).toEqual(['failed']);
      expect(engine.stores.locks.locksOf('contended')).toEqual([other]);
      expect(await resources(engine, 'contended')).toEqual(HELLO_RESOURCES);
    } finally {
      await engine.stores.locks.release('contended', PROJECT, 'other-run', new Date());
    }
  });
});

describe('notifications never fail a run', () => {
  it('goes on when NotifyStarted and NotifyOutcome (applied) fail after all their retries', async () => {
    const engine = await newEngine();
    const notificationRetries = await maxAttempts(
      'plan-apply',
      'NotifyStarted',
      'NotificationFailed',
    );
    const lambdaRetries = await maxAttempts(
      'plan-apply',
      'NotifyOutcome',
      'Lambda.ServiceException',
    );
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitA,
      environment: 'quiet',
      faults: {
        NotifyStarted: { times: notificationRetries + 1, error: 'NotificationFailed' },
        NotifyOutcome: { times: lambdaRetries + 1, error: 'Lambda.ServiceException' },
      },
    });
    expect(ran.outcome.status).toBe('succeeded');
    expect(ran.count('retried', 'NotifyStarted')).toBe(notificationRetries);
    expect(ran.count('caught', 'NotifyStarted')).toBe(1);
    expect(ran.count('retried', 'NotifyOutcome')).toBe(lambdaRetries);
    expect(ran.count('caught', 'NotifyOutcome')).toBe(1);
    // The lost notifications are missing, everything else happened.
    expect(ran.phases).toEqual(['planned', 'applying']);
    expect(ran.entered).toContain('RunApplyJob');
    expect(ran.entered[ran.entered.length - 1]).toBe('Applied');
    expect((await engine.stores.records.getLastGood('quiet', PROJECT))?.commit).toBe(commitA);
    expect(engine.stores.locks.locksOf('quiet')).toEqual([]);
    expect(await resources(engine, 'quiet')).toEqual(HELLO_RESOURCES);
  });
});

describe('bad input', () => {
  let engine: LocalEngine;
  beforeAll(async () => {
    engine = await newEngine();
  });

  it('ends on the InvalidInput path when PrepareRun fails with a non-retryable error', async () => {
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitA,
      environment: 'invalid',
      faults: { PrepareRun: { times: 1, error: 'InvalidInput', message: 'input.commit: bad' } },
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error).toEqual({ name: 'InvalidInput', message: 'input.commit: bad' });
    expect(ran.count('retried', 'PrepareRun')).toBe(0);
    expect(ran.count('caught', 'PrepareRun')).toBe(1);
    expect(ran.entered).toEqual(['PrepareRun', 'InvalidInput']);
    expect(ran.phases).toEqual([]);
    expect(engine.stores.locks.locksOf('invalid')).toEqual([]);
  });

  it('ends on the InvalidInput path for a real invalid input: an ephemeral run without a TTL', async () => {
    const ran = await run(engine, {
      workflow: 'ephemeral',
      commit: commitA,
      environment: 'invalid',
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('InvalidInput');
    expect(ran.outcome.error?.message).toContain('ttlSeconds');
    expect(ran.entered).toEqual(['PrepareRun', 'InvalidInput']);
    expect(ran.phases).toEqual([]);
  });
});

describe('a plan that fails', () => {
  let engine: LocalEngine;
  beforeAll(async () => {
    engine = await newEngine();
  });

  it('RunPlanJob fails permanently (States.TaskFailed): not retried, JobLost, lock released', async () => {
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitA,
      environment: 'planfail',
      faults: { RunPlanJob: { times: 1, error: 'States.TaskFailed' } },
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('JobFailed');
    expect(ran.outcome.error?.message).toContain('ended without a result');
    expect(ran.count('retried', 'RunPlanJob')).toBe(0);
    expect(ran.count('caught', 'RunPlanJob')).toBe(1);
    expect(ran.failures('CollectPlan')).toEqual([expect.stringMatching(/^JobLost: /)]);
    expect(ran.entered).toContain('UnlockEnvironment');
    expect(ran.phases).toEqual(['started', 'failed']);
    expect(engine.stores.locks.locksOf('planfail')).toEqual([]);
    expect(engine.stores.runs.get(ran.runId)?.details).toMatchObject({ outcome: 'failed' });
  });

  it('RunPlanJob fails for real (a project folder missing at that commit): JobFailed', async () => {
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitA,
      environment: 'planfail',
      projectDir: 'no/such/project',
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('JobFailed');
    expect(ran.outcome.error?.message).toContain('ProjectDirInvalid');
    expect(ran.failures('RunPlanJob')).toEqual([expect.stringMatching(/^States\.TaskFailed: /)]);
    expect(ran.count('retried', 'RunPlanJob')).toBe(0);
    expect(ran.phases).toEqual(['started', 'failed']);
    expect(engine.stores.locks.locksOf('planfail')).toEqual([]);
  });

  it('CollectPlan fails with JobFailed: not retried, the run fails, lock released', async () => {
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitA,
      environment: 'planfail',
      faults: { CollectPlan: { times: 1, error: 'JobFailed', message: 'plan failed: boom' } },
    });
    expect(ran.outcome).toMatchObject({
      status: 'failed',
      error: { name: 'JobFailed', message: 'plan failed: boom' },
    });
    expect(ran.count('retried', 'CollectPlan')).toBe(0);
    expect(ran.phases).toEqual(['started', 'failed']);
    expect(ran.entered).not.toContain('RunApplyJob');
    expect(engine.stores.locks.locksOf('planfail')).toEqual([]);
    expect(await engine.stores.records.getLastGood('planfail', PROJECT)).toBeUndefined();
    expect(await resources(engine, 'planfail')).toEqual([]);
  });

  it('CollectPlan outlasts its Lambda retries and NotifyOutcome fails too: still JobFailed, unlocked', async () => {
    const retries = await maxAttempts('plan-apply', 'CollectPlan', 'Lambda.ServiceException');
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitA,
      environment: 'planfail',
      faults: {
        CollectPlan: { times: retries + 1, error: 'Lambda.ServiceException' },
        NotifyOutcome: { times: 10, error: 'NotificationFailed' },
      },
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('JobFailed');
    expect(ran.count('retried', 'CollectPlan')).toBe(retries);
    expect(ran.count('caught', 'CollectPlan')).toBe(1);
    expect(ran.count('caught', 'NotifyOutcome')).toBe(1);
    expect(ran.phases).toEqual(['started']);
    expect(ran.entered.slice(-3)).toEqual(['UnlockEnvironment', 'EndForOutcome', 'Failed']);
    expect(engine.stores.locks.locksOf('planfail')).toEqual([]);
  });
});

describe('a failed apply is rolled back to the last good commit', () => {
  let engine: LocalEngine;
  beforeAll(async () => {
    engine = await newEngine();
  });

  it('applies A first, the last good commit', async () => {
    const ran = await run(engine, { workflow: 'plan-apply', commit: commitA, environment: 'prod' });
    expect(ran.outcome.status).toBe('succeeded');
    expect((await engine.stores.records.getLastGood('prod', PROJECT))?.commit).toBe(commitA);
  });

  it('B fails after its apply (CollectApply: JobFailed): re-applies A and fails the run', async () => {
    const lastGoodBefore = await engine.stores.records.getLastGood('prod', PROJECT);
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitB,
      environment: 'prod',
      faults: { CollectApply: { times: 1, error: 'JobFailed', message: 'apply failed: boom' } },
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('JobFailed');
    expect(ran.outcome.error?.message).toContain(`rolled back to the last good commit ${commitA}`);
    expect(ran.count('caught', 'CollectApply')).toBe(1);
    expect(ran.entered).toEqual(
      expect.arrayContaining(['DecideRollback', 'RunRollbackJob', 'CollectRollback']),
    );
    const details = engine.stores.runs.get(ran.runId)?.details;
    expect(details).toMatchObject({
      outcome: 'rolled_back',
      rollback: { commit: commitA, failedCommit: commitB },
    });
    expect(await engine.stores.records.getLastGood('prod', PROJECT)).toEqual(lastGoodBefore);
    expect(ran.phases).toEqual(['started', 'planned', 'applying', 'rolling_back', 'rolled_back']);
    expect(engine.stores.locks.locksOf('prod')).toEqual([]);
    expect(engine.stores.records.getEnvironment('prod', PROJECT)?.status).toBe('rolled_back');
    // B's apply had gone through; the rollback put A's greeting back.
    expect((await tfState(engine, 'prod'))?.outputs.greeting?.value).toBe('hello, world');
  });

  it('a real Terraform apply failure takes the same path, and the state is A again', async () => {
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitFailing,
      environment: 'prod',
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.message).toContain(`rolled back to the last good commit ${commitA}`);
    expect(ran.failures('RunApplyJob')).toEqual([expect.stringMatching(/^States\.TaskFailed: /)]);
    expect(ran.entered).toEqual(rolledBackPlanApplyStates(false));
    expect(ran.count('retried', 'RunApplyJob')).toBe(0);
    expect(ran.failures('CollectApply')).toEqual([
      expect.stringMatching(/^JobFailed: [\s\S]*Deliberate apply failure/),
    ]);
    expect(engine.stores.runs.get(ran.runId)?.details).toMatchObject({
      rollback: { commit: commitA, failedCommit: commitFailing },
    });
    expect(ran.phases).toEqual(['started', 'planned', 'applying', 'rolling_back', 'rolled_back']);
    expect((await engine.stores.records.getLastGood('prod', PROJECT))?.commit).toBe(commitA);
    expect(engine.stores.locks.locksOf('prod')).toEqual([]);
    expect(await resources(engine, 'prod')).toEqual(HELLO_RESOURCES);
  });

  it('a plan refused as stale (a hotfix applied while it awaited approval) fails without rollback', async () => {
    const path = join(engine.home.state, stateKey('prod', PROJECT));
    let hotfix: TfState | undefined;
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitB,
      environment: 'prod',
      // Someone applies a hotfix to prod by hand while the plan of B waits for its approval.
      whileAwaitingApproval: async () => {
        const state = JSON.parse(await readFile(path, 'utf8')) as Required<TfState>;
        hotfix = {
          ...state,
          serial: state.serial + 1,
          outputs: { ...state.outputs, greeting: { value: 'hotfix', type: 'string' } },
        };
        await writeFile(path, JSON.stringify(hotfix));
      },
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('JobFailed');
    expect(ran.outcome.error?.message).toMatch(/^apply failed: StalePlan: the state changed/);
    expect(ran.failures('CollectApply')).toEqual([
      expect.stringMatching(/^NothingApplied: apply failed: StalePlan: /),
    ]);
    expect(ran.entered).toEqual(refusedPlanApplyStates(true));
    expect(ran.phases).toEqual([
      'started',
      'planned',
      'awaiting_approval',
      'approved',
      'applying',
      'failed',
    ]);
    const failed = messagesOf(engine, ran.runId).at(-1);
    expect(failed).toContain('NothingApplied: apply failed: StalePlan: ');
    expect(engine.stores.runs.get(ran.runId)?.details).toMatchObject({ outcome: 'failed' });
    expect(engine.stores.runs.get(ran.runId)?.details).not.toHaveProperty('rollback');
    // The hotfix stands: nothing was applied or rolled back over it.
    expect(hotfix?.outputs.greeting?.value).toBe('hotfix');
    expect(await tfState(engine, 'prod')).toEqual(hotfix);
    expect((await engine.stores.records.getLastGood('prod', PROJECT))?.commit).toBe(commitA);
    expect(engine.stores.locks.locksOf('prod')).toEqual([]);
  });

  it('a rollback that fails ends rollback_failed with its own error, not "rolled back"', async () => {
    const first = await run(engine, {
      workflow: 'plan-apply',
      commit: commitFragile,
      environment: 'qa',
    });
    expect(first.outcome.status).toBe('succeeded');
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitUnrollable,
      environment: 'qa',
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('RollbackFailed');
    expect(ran.outcome.error?.message).toMatch(
      /^plan-apply failed: TerraformFailed: [\s\S]*deliberate-destroy-failure/,
    );
    expect(ran.failures('CollectApply')).toEqual([
      expect.stringMatching(/^JobFailed: [\s\S]*Deliberate apply failure/),
    ]);
    expect(ran.failures('CollectRollback')).toEqual([
      expect.stringMatching(/^JobFailed: [\s\S]*deliberate-destroy-failure/),
    ]);
    expect(ran.entered).toEqual(rollbackFailedPlanApplyStates(false));
    expect(ran.phases).toEqual([
      'started',
      'planned',
      'applying',
      'rolling_back',
      'rollback_failed',
    ]);
    const messages = messagesOf(engine, ran.runId);
    expect(messages.at(-2)).toContain(
      `Deliberate apply failure (test fixture).; rolling back to the last good commit ${commitFragile}`,
    );
    // The plan's counts, then the rollback's own failure.
    expect(messages.at(-1)).toContain(
      `rollback_failed — +2 ~0 -1 — the rollback to the last good commit ${commitFragile} failed: JobFailed: plan-apply failed: TerraformFailed: `,
    );
    expect(messages.at(-1)).toContain('deliberate-destroy-failure');
    for (const message of messages) expect(message).not.toContain('rolled back');
    expect(engine.stores.runs.get(ran.runId)?.details).toMatchObject({
      outcome: 'rollback_failed',
      rollback: {
        commit: commitFragile,
        failedCommit: commitUnrollable,
        applyError: {
          Error: 'JobFailed',
          Cause: expect.stringContaining('Deliberate apply failure'),
        },
      },
      error: { Error: 'JobFailed', Cause: expect.stringContaining('deliberate-destroy-failure') },
    });
    expect(engine.stores.records.getEnvironment('qa', PROJECT)?.status).toBe('rollback_failed');
    expect((await engine.stores.records.getLastGood('qa', PROJECT))?.commit).toBe(commitFragile);
    expect(engine.stores.locks.locksOf('qa')).toEqual([]);
    // The resource whose destroy failed is still there.
    expect(await resources(engine, 'qa')).toContain('terraform_data.fragile');
  });

  it('with no last good commit: NoRollbackTarget, the run fails cleanly and unlocks', async () => {
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitB,
      environment: 'fresh',
      faults: { CollectApply: { times: 1, error: 'JobFailed', message: 'apply failed: boom' } },
    });
    expect(ran.outcome).toMatchObject({
      status: 'failed',
      error: { name: 'JobFailed', message: 'apply failed: boom' },
    });
    expect(ran.failures('DecideRollback')).toEqual([expect.stringMatching(/^NoRollbackTarget: /)]);
    expect(ran.count('caught', 'DecideRollback')).toBe(1);
    expect(ran.entered).not.toContain('RunRollbackJob');
    expect(ran.phases).toEqual(['started', 'planned', 'applying', 'failed']);
    expect(await engine.stores.records.getLastGood('fresh', PROJECT)).toBeUndefined();
    expect(engine.stores.locks.locksOf('fresh')).toEqual([]);
  });
});

describe('an outcome that cannot be recorded', () => {
  let engine: LocalEngine;
  beforeAll(async () => {
    engine = await newEngine();
  });

  // RecordOutcome's Catch goes to RecordFailureFailsRun: a planned or no_changes run whose
  // record failed ends failed (through the tail again, as failed); any other outcome stands.
  it('an applied run stays applied and unlocks; only its last good commit is missing', async () => {
    const retries = await maxAttempts('plan-apply', 'RecordOutcome', 'Lambda.ServiceException');
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitA,
      environment: 'unrecorded',
      faults: { RecordOutcome: { times: retries + 1, error: 'Lambda.ServiceException' } },
    });
    expect(ran.outcome.status).toBe('succeeded');
    expect(ran.count('retried', 'RecordOutcome')).toBe(retries);
    expect(ran.count('caught', 'RecordOutcome')).toBe(1);
    expect(ran.entered).not.toContain('OutcomeRecordFailed');
    expect(ran.entered.slice(-4)).toEqual([
      'RecordFailureFailsRun',
      'UnlockEnvironment',
      'EndForOutcome',
      'Applied',
    ]);
    expect(ran.phases).toEqual(['started', 'planned', 'applying', 'applied']);
    expect(await engine.stores.records.getLastGood('unrecorded', PROJECT)).toBeUndefined();
    expect(engine.stores.locks.locksOf('unrecorded')).toEqual([]);
    expect(await resources(engine, 'unrecorded')).toEqual(HELLO_RESOURCES);
  });

  it('a no_changes run fails with the record error, is recorded as failed, and unlocks', async () => {
    // A, applied and recorded (whether by this run or the one above): the next run of A has
    // no changes.
    const recorded = await run(engine, {
      workflow: 'plan-apply',
      commit: commitA,
      environment: 'unrecorded',
    });
    expect(recorded.outcome.status).toBe('succeeded');
    const lastGood = await engine.stores.records.getLastGood('unrecorded', PROJECT);
    expect(lastGood?.runId).toBe(recorded.runId);

    const retries = await maxAttempts('plan-apply', 'RecordOutcome', 'Lambda.ServiceException');
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitA,
      environment: 'unrecorded',
      faults: { RecordOutcome: { times: retries + 1, error: 'Lambda.ServiceException' } },
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('JobFailed');
    expect(ran.outcome.error?.message).toContain(
      `injected failure ${retries + 1} of ${retries + 1}`,
    );
    expect(ran.count('caught', 'RecordOutcome')).toBe(1);
    // The tail runs twice: as no_changes (its record fails), then as failed.
    expect(ran.count('entered', 'NotifyOutcome')).toBe(2);
    expect(ran.entered).toContain('OutcomeRecordFailed');
    expect(ran.entered.slice(-3)).toEqual(['UnlockEnvironment', 'EndForOutcome', 'Failed']);
    expect(ran.phases).toEqual(['started', 'no_changes', 'failed']);
    expect(engine.stores.runs.get(ran.runId)?.details).toMatchObject({ outcome: 'failed' });
    expect(await engine.stores.records.getLastGood('unrecorded', PROJECT)).toEqual(lastGood);
    expect(engine.stores.locks.locksOf('unrecorded')).toEqual([]);
  });

  it('a planned pull request run fails with the record error, recorded as failed', async () => {
    const retries = await maxAttempts('plan', 'RecordOutcome', 'Lambda.ServiceException');
    const ran = await run(engine, {
      workflow: 'plan',
      commit: commitB,
      environment: 'unrecorded',
      faults: { RecordOutcome: { times: retries + 1, error: 'Lambda.ServiceException' } },
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('JobFailed');
    expect(ran.outcome.error?.message).toContain(
      `injected failure ${retries + 1} of ${retries + 1}`,
    );
    expect(ran.count('caught', 'RecordOutcome')).toBe(1);
    expect(ran.entered).toContain('OutcomeRecordFailed');
    expect(ran.entered.slice(-2)).toEqual(['EndForOutcome', 'Failed']);
    expect(ran.phases).toEqual(['started', 'planned', 'failed']);
    expect(engine.stores.runs.get(ran.runId)?.details).toMatchObject({ outcome: 'failed' });
  });
});

describe('an unlock that fails for good', () => {
  let engine: LocalEngine;
  beforeAll(async () => {
    engine = await newEngine();
  });

  /** The lock as it is when `state`'s Catch is taken: the execution's own last word on it. */
  function lockWhenCaught(environment: string, state: string) {
    const seen: { lock?: LockRecord | undefined } = {};
    return {
      seen,
      onProgress: (p: StateProgress) => {
        if (p.type === 'caught' && p.state === state)
          seen.lock = engine.stores.locks.getLock(environment, PROJECT);
      },
    };
  }

  // By design the Unlock states' Catch goes on to the run's own end: a release that fails
  // never changes the outcome. The lock row keeps its expiry (DEFAULT_LOCK_TTL_MS), the
  // backstop on AWS; locally the engine also releases what the execution left, and says so.
  it('leaves a succeeded run succeeded; the execution ends with the lock held until its expiry', async () => {
    const retries = await maxAttempts('plan-apply', 'UnlockEnvironment', 'Lambda.ServiceException');
    const watch = lockWhenCaught('stuck', 'UnlockEnvironment');
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitA,
      environment: 'stuck',
      faults: { UnlockEnvironment: { times: retries + 1, error: 'Lambda.ServiceException' } },
      onProgress: watch.onProgress,
    });
    expect(ran.outcome.status).toBe('succeeded');
    expect(ran.count('retried', 'UnlockEnvironment')).toBe(retries);
    expect(ran.count('caught', 'UnlockEnvironment')).toBe(1);
    expect(ran.entered[ran.entered.length - 1]).toBe('Applied');
    expect(ran.phases).toEqual(['started', 'planned', 'applying', 'applied']);
    const held = watch.seen.lock;
    expect(held?.owner).toBe(ran.runId);
    expect(Date.parse(held?.expiresAt ?? '')).toBe(
      Date.parse(held?.acquiredAt ?? '') + DEFAULT_LOCK_TTL_MS,
    );
    expect(Date.parse(held?.expiresAt ?? '')).toBeGreaterThan(Date.now());
    // The local engine's safety net, after the execution: released, and recorded.
    expect(ran.failures('Engine')).toEqual([
      expect.stringContaining('lock released by the engine'),
    ]);
    expect(engine.stores.locks.locksOf('stuck')).toEqual([]);
    expect(engine.stores.locks.lockHistory('stuck').map((h) => h.owner)).toContain(ran.runId);
  });

  it('leaves a failed run failed with its own error', async () => {
    const retries = await maxAttempts('plan-apply', 'UnlockEnvironment', 'Lambda.ServiceException');
    const watch = lockWhenCaught('stuck', 'UnlockEnvironment');
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitA,
      environment: 'stuck',
      faults: {
        CollectPlan: { times: 1, error: 'JobFailed', message: 'plan failed: boom' },
        UnlockEnvironment: { times: retries + 1, error: 'Lambda.ServiceException' },
      },
      onProgress: watch.onProgress,
    });
    expect(ran.outcome).toMatchObject({
      status: 'failed',
      error: { name: 'JobFailed', message: 'plan failed: boom' },
    });
    expect(ran.count('caught', 'UnlockEnvironment')).toBe(1);
    expect(ran.entered[ran.entered.length - 1]).toBe('Failed');
    expect(ran.phases).toEqual(['started', 'failed']);
    expect(watch.seen.lock?.owner).toBe(ran.runId);
    expect(Date.parse(watch.seen.lock?.expiresAt ?? '')).toBeGreaterThan(Date.now());
    expect(ran.failures('Engine')).toHaveLength(1);
    expect(engine.stores.locks.locksOf('stuck')).toEqual([]);
  });

  it('the expiry is the backstop: a lock left behind holds off runs until then, then is taken over', async () => {
    // As on AWS, where nothing releases the lock of a run whose unlock failed.
    const left = await engine.stores.locks.acquire(
      'stuck',
      PROJECT,
      'run-whose-unlock-failed',
      new Date(),
      DEFAULT_LOCK_TTL_MS,
    );
    const blocked = await run(engine, {
      workflow: 'plan-apply',
      commit: commitA,
      environment: 'stuck',
      fastRetries: ['LockEnvironment'],
    });
    expect(blocked.outcome.error?.name).toBe('LockHeld');
    expect(blocked.entered).not.toContain('RunPlanJob');
    expect(engine.stores.locks.locksOf('stuck')).toEqual([left]);

    const afterExpiry = new Date(Date.parse(left.expiresAt) + 1000);
    const later = await run(engine, {
      workflow: 'plan-apply',
      commit: commitA,
      environment: 'stuck',
      now: () => afterExpiry,
    });
    expect(later.outcome.status).toBe('succeeded');
    expect(later.count('retried', 'LockEnvironment')).toBe(0);
    expect(later.phases).toEqual(['started', 'no_changes']);
    expect(later.failures('Engine')).toEqual([]);
    expect(engine.stores.locks.locksOf('stuck')).toEqual([]);
  });
});

describe('an ephemeral environment whose destroy cannot be scheduled', () => {
  it('destroys what it created, and fails', async () => {
    const engine = await newEngine();
    const retries = await maxAttempts('ephemeral', 'ScheduleDestroy', 'Lambda.ServiceException');
    const ran = await run(engine, {
      workflow: 'ephemeral',
      commit: commitA,
      environment: 'preview',
      ttlSeconds: 3600,
      faults: { ScheduleDestroy: { times: retries + 1, error: 'Lambda.ServiceException' } },
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('JobFailed');
    expect(ran.count('retried', 'ScheduleDestroy')).toBe(retries);
    expect(ran.count('caught', 'ScheduleDestroy')).toBe(1);
    expect(ran.count('exited', 'CollectEphemeral')).toBe(1);
    expect(ran.count('exited', 'CollectCleanup')).toBe(1);
    expect(ran.phases).toEqual(['started', 'destroying', 'failed']);
    expect(engine.stores.locks.locksOf('preview')).toEqual([]);
    expect(engine.stores.schedules.list('preview')).toEqual([]);

    // Ask Terraform itself, through the executor's command verb, what the state still holds.
    const list = await runExecutorProcess({
      runId: `${ran.runId}-check`,
      verb: 'command',
      args: ['state', 'list'],
      repository: repo.dir,
      commit: commitA,
      projectDir: PROJECT,
      environment: 'preview',
      backend: { type: 'local', stateDir: engine.home.state },
      artifactsDir: join(engine.home.root, 'check-artifacts'),
    });
    expect(list.exitCode).toBe(0);
    expect(list.result?.command?.output.trim()).toBe('');
  });
});

describe('a destroy that fails', () => {
  let engine: LocalEngine;
  beforeAll(async () => {
    engine = await newEngine();
    const created = await run(engine, {
      workflow: 'ephemeral',
      commit: commitA,
      environment: 'doomed',
      ttlSeconds: 3600,
    });
    expect(created.outcome.status).toBe('succeeded');
  });

  it('marks the environment failed-destroy, keeps the schedule, and unlocks', async () => {
    const ran = await run(engine, {
      workflow: 'destroy',
      commit: commitA,
      environment: 'doomed',
      faults: { RunDestroyJob: { times: 1, error: 'States.TaskFailed' } },
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('JobFailed');
    expect(ran.count('retried', 'RunDestroyJob')).toBe(0);
    expect(ran.count('caught', 'RunDestroyJob')).toBe(1);
    expect(ran.phases).toEqual(['destroying', 'failed']);
    expect(engine.stores.records.getEnvironment('doomed', PROJECT)?.status).toBe('failed-destroy');
    expect(engine.stores.runs.get(ran.runId)?.details).toMatchObject({ outcome: 'destroy_failed' });
    expect(engine.stores.locks.locksOf('doomed')).toEqual([]);
    // The TTL schedule stays, so the scheduled destroy still tries again.
    expect(engine.stores.schedules.list('doomed').map((s) => s.status)).toEqual(['pending']);
    expect(await resources(engine, 'doomed')).toEqual(HELLO_RESOURCES);
  });

  it('a later destroy with a transient Batch error is retried and succeeds', async () => {
    const ran = await run(engine, {
      workflow: 'destroy',
      commit: commitA,
      environment: 'doomed',
      faults: { RunDestroyJob: { times: 1, error: 'Batch.AWSBatchException' } },
    });
    expect(ran.outcome.status).toBe('succeeded');
    expect(ran.count('retried', 'RunDestroyJob')).toBe(1);
    expect(ran.phases).toEqual(['destroying', 'destroyed']);
    expect(engine.stores.records.getEnvironment('doomed', PROJECT)?.status).toBe('destroyed');
    expect(engine.stores.schedules.list('doomed').map((s) => s.status)).toEqual(['deleted']);
    expect(engine.stores.locks.locksOf('doomed')).toEqual([]);
    expect(await resources(engine, 'doomed')).toEqual([]);
  });
});

describe('a destroy that waits for its approval (issue 14)', () => {
  let engine: LocalEngine;
  const environment = 'guarded';
  beforeAll(async () => {
    engine = await newEngine();
    const created = await run(engine, {
      workflow: 'ephemeral',
      commit: commitA,
      environment,
      ttlSeconds: 3600,
    });
    expect(created.outcome.status).toBe('succeeded');
  });

  /** Nothing was destroyed: the resources, the record, the schedule stay; the lock is free. */
  async function expectUntouched(): Promise<void> {
    expect(await resources(engine, environment)).toEqual(HELLO_RESOURCES);
    expect(engine.stores.records.getEnvironment(environment, PROJECT)?.status).toBe('active');
    expect(engine.stores.schedules.list(environment).map((s) => s.status)).toEqual(['pending']);
    expect(engine.stores.locks.getLock(environment, PROJECT)).toBeUndefined();
  }

  it('rejected: ends Rejected (ApprovalRejected) and destroys nothing', async () => {
    const ran = await run(engine, {
      workflow: 'destroy',
      commit: commitA,
      environment,
      whileAwaitingApproval: async () => Promise.resolve(),
      decision: 'reject',
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('ApprovalRejected');
    expect(ran.count('caught', 'RequestApproval')).toBe(1);
    expect(ran.entered).toContain('OutcomeRejected');
    expect(ran.entered).not.toContain('RunDestroyJob');
    expect(ran.phases).toEqual(['started', 'awaiting_approval', 'rejected']);
    expect(engine.stores.runs.get(ran.runId)?.details).toMatchObject({ outcome: 'rejected' });
    await expectUntouched();
  });

  it('timed out: ends Expired (ApprovalExpired) and destroys nothing', async () => {
    const ran = await run(engine, {
      workflow: 'destroy',
      commit: commitA,
      environment,
      extra: { autoApprove: false },
      faults: { RequestApproval: { times: 1, error: 'States.Timeout' } },
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('ApprovalExpired');
    expect(ran.count('retried', 'RequestApproval')).toBe(0);
    expect(ran.count('caught', 'RequestApproval')).toBe(1);
    expect(ran.entered).toContain('OutcomeExpired');
    expect(ran.entered).not.toContain('RunDestroyJob');
    expect(ran.phases).toEqual(['started', 'expired']);
    await expectUntouched();
  });

  it('whose approval cannot be requested: retried, then fails and destroys nothing', async () => {
    const retries = await maxAttempts('destroy', 'RequestApproval', 'Lambda.ServiceException');
    const ran = await run(engine, {
      workflow: 'destroy',
      commit: commitA,
      environment,
      extra: { autoApprove: false },
      faults: { RequestApproval: { times: retries + 1, error: 'Lambda.ServiceException' } },
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('Lambda.ServiceException');
    expect(ran.count('retried', 'RequestApproval')).toBe(retries);
    expect(ran.count('caught', 'RequestApproval')).toBe(1);
    expect(ran.entered).toContain('OutcomeApprovalFailed');
    expect(ran.entered).not.toContain('RunDestroyJob');
    expect(ran.phases).toEqual(['started', 'failed']);
    expect(engine.stores.runs.get(ran.runId)?.details).toMatchObject({ outcome: 'failed' });
    await expectUntouched();
  });

  it('in a protected environment even when auto-approved; approved, it destroys', async () => {
    const ran = await run(engine, {
      workflow: 'destroy',
      commit: commitA,
      environment,
      whileAwaitingApproval: async () => {
        // Still waiting: nothing destroyed yet, the lock held for this run.
        expect(await resources(engine, environment)).toEqual(HELLO_RESOURCES);
        expect(engine.stores.locks.getLock(environment, PROJECT)).toBeDefined();
      },
      extra: { autoApprove: true, protectedEnvironment: true },
    });
    expect(ran.outcome.status).toBe('succeeded');
    expect(ran.entered.slice(0, 7)).toEqual([
      'PrepareRun',
      'LockEnvironment',
      'NeedsApproval',
      'NotifyStarted',
      'RequestApproval',
      'NotifyDestroying',
      'StartDestroying',
    ]);
    expect(ran.entered).toContain('RunDestroyJob');
    expect(ran.phases).toEqual(['started', 'awaiting_approval', 'destroying', 'destroyed']);
    expect(await resources(engine, environment)).toEqual([]);
    expect(engine.stores.records.getEnvironment(environment, PROJECT)?.status).toBe('destroyed');
    expect(engine.stores.schedules.list(environment).map((s) => s.status)).toEqual(['deleted']);
    expect(engine.stores.locks.getLock(environment, PROJECT)).toBeUndefined();
  });
});

describe('a blocking policy and its owners’ override (issue 16)', () => {
  let engine: LocalEngine;
  beforeAll(async () => {
    engine = await newEngine();
  });

  /** A protected environment, where the policy denies the hello example's creates. */
  const guarded = (environment: string): Scenario => ({
    workflow: 'plan-apply',
    commit: commitGuarded,
    environment,
    extra: { policies: [POLICY_SET], protectedEnvironment: true, autoApprove: false },
  });

  /** Nothing applied, nothing recorded, the lock released. */
  async function expectNothingApplied(environment: string): Promise<void> {
    expect(await resources(engine, environment)).toEqual([]);
    expect(await engine.stores.records.getLastGood(environment, PROJECT)).toBeUndefined();
    expect(engine.stores.locks.locksOf(environment)).toEqual([]);
  }

  it('overridden by an owner with a reason: told, then the plans wait for their own approval and apply', async () => {
    const asked: ApprovalRequest[] = [];
    const reason = 'the greeting is allowed in this environment';
    const ran = await run(engine, {
      ...guarded('override'),
      decide: (request) => {
        asked.push(request);
        return request.policyOverride
          ? { action: 'approve', by: 'alice', reason }
          : { action: 'approve', by: 'carol' };
      },
    });
    expect(ran.outcome.status).toBe('succeeded');
    expect(ran.entered).toEqual(OVERRIDDEN_PLAN_APPLY_STATES);
    // First the override, which only the set's owners may decide; then the plans' approval.
    expect(asked.map((r) => r.policyOverride)).toEqual([
      { blockedBy: ['guardrails'], owners: ['alice', 'bob'] },
      undefined,
    ]);
    expect(ran.phases).toEqual(OVERRIDDEN_APPLY_PHASES);
    expect(messagesOf(engine, ran.runId)[2]).toContain(`Policy overridden by alice`);
    expect(engine.stores.runs.get(ran.runId)?.details).toMatchObject({
      outcome: 'applied',
      policyOverride: { approvedBy: 'alice', via: 'cli', reason },
    });
    expect(await resources(engine, 'override')).toEqual(HELLO_RESOURCES);
    expect(engine.stores.locks.locksOf('override')).toEqual([]);
  });

  it('refused by an owner: ends PolicyFailed (phase policy_failed) and applies nothing', async () => {
    const ran = await run(engine, {
      ...guarded('refused'),
      decide: () => ({ action: 'reject', by: 'bob', reason: 'not in this environment' }),
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.count('caught', 'RequestPolicyOverride')).toBe(1);
    expect(ran.failures('RequestPolicyOverride')).toEqual([
      expect.stringMatching(/^ApprovalRejected: /),
    ]);
    expect(ran.entered).toEqual(POLICY_REFUSED_PLAN_APPLY_STATES);
    expect(ran.phases).toEqual(['started', 'awaiting_policy_override', 'policy_failed']);
    await expectNothingApplied('refused');
  });

  it('timed out: States.Timeout is caught into PolicyFailed, not Expired, and nothing applies', async () => {
    const ran = await run(engine, {
      ...guarded('overtime'),
      faults: { RequestPolicyOverride: { times: 1, error: 'States.Timeout' } },
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.count('retried', 'RequestPolicyOverride')).toBe(0);
    expect(ran.count('caught', 'RequestPolicyOverride')).toBe(1);
    expect(ran.entered).toEqual(POLICY_REFUSED_PLAN_APPLY_STATES);
    expect(ran.phases).toEqual(['started', 'policy_failed']);
    expect(engine.stores.runs.get(ran.runId)?.details).toMatchObject({
      outcome: 'policy_failed',
    });
    await expectNothingApplied('overtime');
  });

  it('whose request fails past its Lambda retries: ends Failed with that error and applies nothing', async () => {
    const retries = await maxAttempts(
      'plan-apply',
      'RequestPolicyOverride',
      'Lambda.ServiceException',
    );
    const ran = await run(engine, {
      ...guarded('overfail'),
      faults: {
        RequestPolicyOverride: { times: retries + 1, error: 'Lambda.ServiceException' },
      },
    });
    expect(ran.outcome.status).toBe('failed');
    // plan-apply's Failed end names JobFailed and keeps the cause (as a CollectPlan's would).
    expect(ran.outcome.error?.name).toBe('JobFailed');
    expect(ran.outcome.error?.message).toContain(
      `injected failure ${retries + 1} of ${retries + 1}`,
    );
    expect(ran.count('retried', 'RequestPolicyOverride')).toBe(retries);
    expect(ran.count('caught', 'RequestPolicyOverride')).toBe(1);
    expect(ran.entered).toEqual(OVERRIDE_FAILED_PLAN_APPLY_STATES);
    expect(ran.phases).toEqual(['started', 'failed']);
    expect(engine.stores.runs.get(ran.runId)?.details).toMatchObject({ outcome: 'failed' });
    await expectNothingApplied('overfail');
  });
});

describe('a blocking policy in a job that plans and applies at once (issue 16)', () => {
  let engine: LocalEngine;
  beforeAll(async () => {
    engine = await newEngine();
  });
  const policies = { policies: [POLICY_SET], protectedEnvironment: true };

  it('an ephemeral environment: its create job stops before the apply; nothing created or scheduled', async () => {
    const ran = await run(engine, {
      workflow: 'ephemeral',
      commit: commitGuarded,
      environment: 'preview',
      ttlSeconds: 3600,
      extra: policies,
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.message).toContain(
      'PolicyBlocked: policy checks failed, nothing was applied: blocked by guardrails',
    );
    // The state is as it was: NothingApplied, so nothing is cleaned up either.
    expect(ran.failures('CollectEphemeral')).toEqual([
      'NothingApplied: plan-apply failed: PolicyBlocked: policy checks failed, nothing was applied: blocked by guardrails',
    ]);
    expect(ran.entered).not.toContain('ScheduleDestroy');
    expect(ran.phases.at(-1)).toBe('failed');
    expect(await resources(engine, 'preview')).toEqual([]);
    expect(engine.stores.schedules.list('preview')).toEqual([]);
    expect(engine.stores.locks.locksOf('preview')).toEqual([]);
  });

  it('a destroy: approved, its job still stops before destroying what a policy keeps', async () => {
    // Created without policies, then destroyed with them in the same protected environment.
    const created = await run(engine, {
      workflow: 'plan-apply',
      commit: commitGuarded,
      environment: 'kept',
    });
    expect(created.outcome.status).toBe('succeeded');
    const ran = await run(engine, {
      workflow: 'destroy',
      commit: commitGuarded,
      environment: 'kept',
      extra: policies,
      decide: () => ({ action: 'approve', by: 'carol' }),
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.failures('CollectDestroy')).toEqual([
      'NothingApplied: destroy failed: PolicyBlocked: policy checks failed, nothing was applied: blocked by guardrails',
    ]);
    // Nothing was destroyed: failed, not destroy_failed (which says a destroy broke midway).
    expect(ran.phases).toEqual(['started', 'awaiting_approval', 'destroying', 'failed']);
    expect(ran.outcome.error?.message).toContain('PolicyBlocked: policy checks failed');
    expect(await resources(engine, 'kept')).toEqual(HELLO_RESOURCES);
    expect(engine.stores.locks.locksOf('kept')).toEqual([]);
  });
});

describe('ttl (issue 13)', () => {
  let engine: LocalEngine;
  beforeAll(async () => {
    engine = await newEngine();
    const created = await run(engine, {
      workflow: 'ephemeral',
      commit: commitA,
      environment: 'short',
      ttlSeconds: 3600,
    });
    expect(created.outcome.status).toBe('succeeded');
    const applied = await run(engine, {
      workflow: 'plan-apply',
      commit: commitA,
      environment: 'kept',
    });
    expect(applied.outcome.status).toBe('succeeded');
  });

  it('retries ChangeTtl on Lambda errors and moves the schedule: ttl_changed, unlocked', async () => {
    const attempts = await maxAttempts('ttl', 'ChangeTtl', 'Lambda.ServiceException');
    const before = engine.stores.schedules.list('short')[0]!;
    const ran = await run(engine, {
      workflow: 'ttl',
      commit: commitA,
      environment: 'short',
      ttlSeconds: 7200,
      faults: { ChangeTtl: { times: attempts, error: 'Lambda.ServiceException' } },
    });
    expect(ran.outcome.status).toBe('succeeded');
    expect(ran.count('retried', 'ChangeTtl')).toBe(attempts);
    expect(ran.entered).toEqual([
      'PrepareRun',
      'LockEnvironment',
      'ChangeTtl',
      'OutcomeTtlChanged',
      'NotifyOutcome',
      'RecordOutcome',
      'UnlockEnvironment',
      'EndForOutcome',
      'TtlChanged',
    ]);
    expect(ran.phases).toEqual(['ttl_changed']);
    const after = engine.stores.schedules.list('short')[0]!;
    expect(after).toMatchObject({ status: 'pending', createdBy: ran.runId });
    expect(Date.parse(after.fireAt)).toBeGreaterThan(Date.parse(before.fireAt));
    expect(engine.stores.records.getEnvironment('short', PROJECT)?.ttlExpiresAt).toBe(after.fireAt);
    expect(engine.stores.locks.locksOf('short')).toEqual([]);
  });

  it('refuses an environment that is not ephemeral: fails with InvalidInput, changes nothing, unlocks', async () => {
    const recordBefore = engine.stores.records.getEnvironment('kept', PROJECT);
    const ran = await run(engine, {
      workflow: 'ttl',
      commit: commitA,
      environment: 'kept',
      ttlSeconds: 7200,
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('InvalidInput');
    expect(ran.outcome.error?.message).toContain('is not ephemeral');
    expect(ran.count('caught', 'ChangeTtl')).toBe(1);
    expect(ran.phases).toEqual(['failed']);
    expect(engine.stores.records.getEnvironment('kept', PROJECT)).toEqual(recordBefore);
    expect(engine.stores.schedules.list('kept')).toEqual([]);
    expect(engine.stores.locks.locksOf('kept')).toEqual([]);
  });

  it('refuses an environment with no record: NotFound', async () => {
    const ran = await run(engine, {
      workflow: 'ttl',
      commit: commitA,
      environment: 'never',
      extra: { cancelTtl: true },
    });
    expect(ran.outcome.error?.name).toBe('NotFound');
    expect(ran.phases).toEqual(['failed']);
    expect(engine.stores.locks.locksOf('never')).toEqual([]);
  });

  it('fails with LockHeld once the lock retries are spent, changing nothing', async () => {
    const attempts = await maxAttempts('ttl', 'LockEnvironment', 'LockHeld');
    const before = engine.stores.schedules.list('short');
    const ran = await run(engine, {
      workflow: 'ttl',
      commit: commitA,
      environment: 'short',
      extra: { cancelTtl: true },
      faults: { LockEnvironment: { times: attempts + 1, error: 'LockHeld' } },
    });
    expect(ran.outcome.error?.name).toBe('LockHeld');
    expect(ran.count('retried', 'LockEnvironment')).toBe(attempts);
    expect(ran.entered).not.toContain('ChangeTtl');
    expect(ran.entered).not.toContain('UnlockEnvironment');
    expect(ran.phases).toEqual(['failed']);
    expect(engine.stores.schedules.list('short')).toEqual(before);
  });

  it('cancels: the schedule is deleted and the environment kept with no expiry', async () => {
    const ran = await run(engine, {
      workflow: 'ttl',
      commit: commitA,
      environment: 'short',
      extra: { cancelTtl: true },
    });
    expect(ran.outcome.status).toBe('succeeded');
    expect(engine.stores.schedules.list('short').map((s) => s.status)).toEqual(['deleted']);
    expect(engine.stores.records.getEnvironment('short', PROJECT)).toMatchObject({
      status: 'active',
      ttlExpiresAt: null,
    });
    expect(engine.stores.runs.get(ran.runId)?.details).toMatchObject({
      outcome: 'ttl_changed',
      schedule: { fireAt: null },
    });
  });
});

describe('command (issue 13)', () => {
  let engine: LocalEngine;
  beforeAll(async () => {
    engine = await newEngine();
    const applied = await run(engine, {
      workflow: 'plan-apply',
      commit: commitA,
      environment: 'ops',
    });
    expect(applied.outcome.status).toBe('succeeded');
  });

  const commandStates = [
    'PrepareRun',
    'LockEnvironment',
    'NotifyStarted',
    'NeedsApproval',
    'RunCommandJob',
    'CollectCommand',
    'OutcomeCommandCompleted',
    'NotifyOutcome',
    'RecordOutcome',
    'UnlockEnvironment',
    'EndForOutcome',
    'CommandCompleted',
  ];

  it('retries a Batch error on RunCommandJob and lists the state, keeping the output', async () => {
    const ran = await run(engine, {
      workflow: 'command',
      commit: commitA,
      environment: 'ops',
      extra: { args: ['state', 'list'] },
      faults: { RunCommandJob: { times: 1, error: 'Batch.AWSBatchException' } },
    });
    expect(ran.outcome.status).toBe('succeeded');
    expect(ran.count('retried', 'RunCommandJob')).toBe(1);
    expect(ran.entered.filter((s) => s !== 'RunCommandJob')).toEqual(
      commandStates.filter((s) => s !== 'RunCommandJob'),
    );
    expect(ran.phases).toEqual(['started', 'command_completed']);
    const details = engine.stores.runs.get(ran.runId)?.details as {
      command?: { name: string; output: string };
    };
    expect(details.command?.name).toBe('state list');
    expect(details.command?.output.trim().split('\n').sort()).toEqual(HELLO_RESOURCES);
    expect(engine.stores.locks.locksOf('ops')).toEqual([]);
  });

  it('a job that fails for good (States.TaskFailed): not retried, no rollback, the run fails, unlocked', async () => {
    const ran = await run(engine, {
      workflow: 'command',
      commit: commitA,
      environment: 'ops',
      extra: { args: ['state', 'list'] },
      faults: { RunCommandJob: { times: 1, error: 'States.TaskFailed' } },
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('JobFailed');
    expect(ran.count('retried', 'RunCommandJob')).toBe(0);
    expect(ran.count('caught', 'RunCommandJob')).toBe(1);
    expect(ran.count('caught', 'CollectCommand')).toBe(1);
    expect(ran.phases).toEqual(['started', 'failed']);
    expect(engine.stores.locks.locksOf('ops')).toEqual([]);
  });

  it('a command that fails in Terraform (show of no such address): JobFailed with its error', async () => {
    const ran = await run(engine, {
      workflow: 'command',
      commit: commitA,
      environment: 'ops',
      extra: { args: ['state', 'show', 'terraform_data.nothing'] },
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('JobFailed');
    expect(ran.phases).toEqual(['started', 'failed']);
    expect(await resources(engine, 'ops')).toEqual(HELLO_RESOURCES);
  });

  it('state rm waits for its approval; rejected, it ends Rejected and the state is untouched', async () => {
    const ran = await run(engine, {
      workflow: 'command',
      commit: commitA,
      environment: 'ops',
      extra: { args: ['state', 'rm', 'terraform_data.greeting'] },
      whileAwaitingApproval: async () => Promise.resolve(),
      decision: 'reject',
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('ApprovalRejected');
    expect(ran.entered).not.toContain('RunCommandJob');
    expect(ran.phases).toEqual(['started', 'awaiting_approval', 'rejected']);
    expect(await resources(engine, 'ops')).toEqual(HELLO_RESOURCES);
    expect(engine.stores.locks.locksOf('ops')).toEqual([]);
  });

  it('state rm, approved: removes the address from the state', async () => {
    const ran = await run(engine, {
      workflow: 'command',
      commit: commitA,
      environment: 'ops',
      extra: { args: ['state', 'rm', 'terraform_data.greeting'] },
      whileAwaitingApproval: async () => Promise.resolve(),
    });
    expect(ran.outcome.status).toBe('succeeded');
    expect(ran.phases).toEqual(['started', 'awaiting_approval', 'approved', 'command_completed']);
    expect(await resources(engine, 'ops')).toEqual(
      HELLO_RESOURCES.filter((r) => r !== 'terraform_data.greeting'),
    );
  });

  it('fails with LockHeld once the lock retries are spent, running no job', async () => {
    const attempts = await maxAttempts('command', 'LockEnvironment', 'LockHeld');
    const ran = await run(engine, {
      workflow: 'command',
      commit: commitA,
      environment: 'ops',
      extra: { args: ['state', 'list'] },
      faults: { LockEnvironment: { times: attempts + 1, error: 'LockHeld' } },
    });
    expect(ran.outcome.error?.name).toBe('LockHeld');
    expect(ran.entered).not.toContain('RunCommandJob');
    expect(ran.phases).toEqual(['failed']);
  });
});

describe('a plan of several projects (a Map state, issue 14)', () => {
  let engine: LocalEngine;
  /** The golden monorepo at mono/: network and dns in layer 0, app in layer 1. */
  let commitMono: string;
  /** The same with app's dev var file giving replicas a string: app's plan fails. */
  let commitBrokenApp: string;
  const monoProject = (name: string, layer: number) => ({
    name,
    dir: `mono/infra/${name}`,
    layer,
    varFiles: [`mono/infra/${name}/envs/dev.tfvars`],
  });
  const projects = [monoProject('network', 0), monoProject('dns', 0), monoProject('app', 1)];
  const extra = { projectDir: 'mono/infra', projects, maxParallel: 2 };
  /** Events of a state in every iteration (`RunPlanJob [network]`…), by type. */
  const inIterations = (ran: Ran, type: StateProgress['type'], state: string) =>
    ran.progress.filter((p) => p.type === type && p.state.startsWith(`${state} [`));

  beforeAll(async () => {
    engine = await newEngine();
    commitMono = await repo.commitDir(
      join(REPO_ROOT, 'test', 'golden', 'monorepo'),
      'mono',
      'mono',
    );
    commitBrokenApp = await repo.commitFiles(
      { 'mono/infra/app/envs/dev.tfvars': 'environment = "dev"\nreplicas = "many"\n' },
      'break app',
    );
  });

  it('retries a Batch error of one project’s RunPlanJob and a Lambda error of CollectPlans, and plans all', async () => {
    const ran = await run(engine, {
      workflow: 'plan',
      commit: commitMono,
      environment: 'dev',
      extra,
      faults: {
        RunPlanJob: { times: 1, error: 'Batch.AWSBatchException' },
        CollectPlans: { times: 2, error: 'Lambda.ServiceException' },
      },
    });
    expect(ran.outcome.status).toBe('succeeded');
    expect(inIterations(ran, 'retried', 'RunPlanJob')).toHaveLength(1);
    expect(
      inIterations(ran, 'exited', 'RunPlanJob')
        .map((p) => p.state)
        .sort(),
    ).toEqual(['RunPlanJob [app]', 'RunPlanJob [dns]', 'RunPlanJob [network]']);
    expect(ran.count('retried', 'CollectPlans')).toBe(2);
    expect(ran.phases).toEqual(['started', 'planned']);
    const details = engine.stores.runs.get(ran.runId)?.details as {
      projects: { name: string; status: string; summary: { add: number } }[];
    };
    expect(details.projects.map((p) => [p.name, p.status, p.summary.add])).toEqual([
      ['network', 'planned', 1],
      ['dns', 'planned', 1],
      ['app', 'planned', 1],
    ]);
  });

  it('runs at most maxParallel iterations at once', async () => {
    let running = 0;
    let most = 0;
    await run(engine, {
      workflow: 'plan',
      commit: commitMono,
      environment: 'dev',
      extra: { ...extra, maxParallel: 1 },
      onProgress: (p) => {
        if (!p.state.startsWith('RunPlanJob [')) return;
        if (p.type === 'entered') most = Math.max(most, (running += 1));
        if (p.type === 'exited' || p.type === 'failed') running -= 1;
      },
    });
    expect(most).toBe(1);
  });

  it('a project whose plan fails (Terraform) is reported failed, the others planned, and the run fails', async () => {
    const ran = await run(engine, {
      workflow: 'plan',
      commit: commitBrokenApp,
      environment: 'dev',
      extra,
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('JobFailed');
    expect(ran.outcome.error?.message).toMatch(/^app: plan failed: TerraformFailed: /);
    expect(inIterations(ran, 'caught', 'CollectPlan').map((p) => p.state)).toEqual([
      'CollectPlan [app]',
    ]);
    expect(ran.entered).toContain('OutcomePlanFailed');
    expect(ran.entered.slice(-2)).toEqual(['EndForOutcome', 'Failed']);
    expect(ran.phases).toEqual(['started', 'failed']);
    const details = engine.stores.runs.get(ran.runId)?.details as {
      projects: { name: string; status: string }[];
    };
    expect(details.projects.map((p) => [p.name, p.status])).toEqual([
      ['network', 'planned'],
      ['dns', 'planned'],
      ['app', 'failed'],
    ]);
  });

  it('a RunPlanJob that fails for good (States.TaskFailed): not retried, that project JobLost', async () => {
    const ran = await run(engine, {
      workflow: 'plan',
      commit: commitMono,
      environment: 'dev',
      extra: { ...extra, projects: [monoProject('network', 0)], projectDir: 'mono/infra/network' },
      faults: { RunPlanJob: { times: 1, error: 'States.TaskFailed' } },
    });
    expect(ran.outcome.status).toBe('failed');
    expect(inIterations(ran, 'retried', 'RunPlanJob')).toHaveLength(0);
    expect(inIterations(ran, 'caught', 'RunPlanJob')).toHaveLength(1);
    expect(inIterations(ran, 'failed', 'CollectPlan').map((p) => p.error)).toEqual([
      expect.stringMatching(/^JobLost: /),
    ]);
    // One project: its error is the run's, as it was before runs had projects.
    expect(ran.outcome.error?.message).toMatch(/^the plan job of run .* ended without a result/);
  });

  it('a CollectPlans that fails for good: caught, the run fails and says why', async () => {
    const retries = await maxAttempts('plan', 'CollectPlans', 'Lambda.ServiceException');
    const ran = await run(engine, {
      workflow: 'plan',
      commit: commitMono,
      environment: 'dev',
      extra,
      faults: { CollectPlans: { times: retries + 1, error: 'Lambda.ServiceException' } },
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.count('caught', 'CollectPlans')).toBe(1);
    expect(ran.entered).toContain('OutcomeFailed');
    expect(ran.outcome.error?.message).toContain(
      `injected failure ${retries + 1} of ${retries + 1}`,
    );
    expect(ran.phases).toEqual(['started', 'failed']);
  });
});

describe('a plan-apply of several projects (layers, issue 14)', () => {
  let engine: LocalEngine;
  /** The golden monorepo at layers/: network and dns in layer 0, app in layer 1. */
  let commitA: string;
  /** The same with every project's dev values changed: each has a change to apply. */
  let commitB: string;
  const layersProject = (name: string, layer: number) => ({
    name,
    dir: `layers/infra/${name}`,
    layer,
    varFiles: [`layers/infra/${name}/envs/dev.tfvars`],
  });
  const projects = [layersProject('network', 0), layersProject('dns', 0), layersProject('app', 1)];
  /** One at a time: the layer's projects apply in their order (network before dns). */
  const extra = { projectDir: 'layers/infra', projects, maxParallel: 1 };
  const environment = 'staging';
  const startOf = (ran: Ran, label: string) =>
    ran.progress.findIndex((p) => p.type === 'entered' && p.state === label);
  const endOf = (ran: Ran, label: string) =>
    ran.progress.findIndex((p) => p.type === 'exited' && p.state === label);
  const detailsOf = (ran: Ran) =>
    engine.stores.runs.get(ran.runId)?.details as {
      outcome: string;
      projects: { name: string; status: string; error?: { message: string } }[];
    };

  beforeAll(async () => {
    engine = await newEngine();
    commitA = await repo.commitDir(
      join(REPO_ROOT, 'test', 'golden', 'monorepo'),
      'layers',
      'layers',
    );
    commitB = await repo.commitFiles(
      {
        'layers/infra/network/envs/dev.tfvars': 'environment = "dev"\ncidr = "10.9.0.0/16"\n',
        'layers/infra/dns/envs/dev.tfvars': 'zone = "b.example.internal"\n',
        'layers/infra/app/envs/dev.tfvars': 'environment = "dev"\nreplicas = 2\n',
      },
      'change every project',
    );
  });

  it('applies layer by layer, retrying a Lambda error of NextLayer: app only after network and dns', async () => {
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitA,
      environment,
      extra,
      faults: { NextLayer: { times: 2, error: 'Lambda.ServiceException' } },
    });
    expect(ran.outcome.status).toBe('succeeded');
    expect(ran.count('retried', 'NextLayer')).toBe(2);
    // NextLayer: before layer 0, before layer 1, and once more to find none left.
    expect(ran.entered.filter((state) => state === 'NextLayer')).toHaveLength(3);
    expect(ran.entered.filter((state) => state === 'ApplyLayer')).toHaveLength(2);
    const appStarts = startOf(ran, 'RunApplyJob [app]');
    expect(appStarts).toBeGreaterThan(endOf(ran, 'ProjectApplied [network]'));
    expect(appStarts).toBeGreaterThan(endOf(ran, 'ProjectApplied [dns]'));
    expect(ran.phases).toEqual(['started', 'planned', 'applying', 'applied']);
    expect(detailsOf(ran).projects.map((p) => [p.name, p.status])).toEqual([
      ['network', 'applied'],
      ['dns', 'applied'],
      ['app', 'applied'],
    ]);
    for (const project of projects) {
      expect((await engine.stores.records.getLastGood(environment, project.dir))?.commit).toBe(
        commitA,
      );
    }
  });

  it('a failed apply rolls back that project only; the rest of its layer applies; later layers never start', async () => {
    const ran = await run(engine, {
      workflow: 'plan-apply',
      commit: commitB,
      environment,
      extra,
      // The first CollectApply is network's (maxParallel 1, in order).
      faults: { CollectApply: { times: 1, error: 'JobFailed' } },
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.name).toBe('JobFailed');
    // The run's message is the rollback's, naming the project it rolled back.
    expect(ran.outcome.error?.message).toMatch(
      new RegExp(
        `^network: apply of ${commitB} failed; rolled back to the last good commit ${commitA}`,
      ),
    );
    expect(inProject(ran, 'caught', 'CollectApply')).toEqual(['CollectApply [network]']);
    expect(inProject(ran, 'exited', 'RunRollbackJob')).toEqual(['RunRollbackJob [network]']);
    expect(inProject(ran, 'entered', 'RunApplyJob')).toEqual([
      'RunApplyJob [network]',
      'RunApplyJob [dns]',
    ]);
    expect(ran.entered.slice(-6)).toEqual([
      'OutcomeRolledBack',
      'NotifyOutcome',
      'RecordOutcome',
      'UnlockEnvironment',
      'EndForOutcome',
      'RolledBack',
    ]);
    expect(ran.phases).toEqual(['started', 'planned', 'applying', 'rolling_back', 'rolled_back']);
    expect(detailsOf(ran).projects.map((p) => [p.name, p.status])).toEqual([
      ['network', 'rolled_back'],
      ['dns', 'applied'],
      ['app', 'not_started'],
    ]);
    // Each project's last good commit is its own: dns moved on, network and app did not.
    const lastGood = async (name: string) =>
      (await engine.stores.records.getLastGood(environment, `layers/infra/${name}`))?.commit;
    expect([await lastGood('network'), await lastGood('dns'), await lastGood('app')]).toEqual([
      commitA,
      commitB,
      commitA,
    ]);
    expect(engine.stores.locks.locksOf(environment)).toEqual([]);
  });

  it('destroys layer by layer in reverse; a failed destroy starts no lower layer, and a retry finishes', async () => {
    const failed = await run(engine, {
      workflow: 'destroy',
      commit: commitB,
      environment,
      extra,
      // app, alone in the last layer, is destroyed first: its destroy fails.
      faults: { CollectDestroy: { times: 1, error: 'JobFailed' } },
    });
    expect(failed.outcome.status).toBe('failed');
    expect(failed.outcome.error?.message).toMatch(/^app: /);
    expect(inProject(failed, 'entered', 'RunDestroyJob')).toEqual(['RunDestroyJob [app]']);
    expect(failed.entered).toContain('OutcomeProjectDestroyFailed');
    expect(detailsOf(failed).projects.map((p) => [p.name, p.status])).toEqual([
      ['network', 'not_started'],
      ['dns', 'not_started'],
      ['app', 'destroy_failed'],
    ]);
    const statusOf = async (name: string) =>
      (await engine.stores.records.readEnvironment(environment, `layers/infra/${name}`))?.status;
    expect(await statusOf('app')).toBe('failed-destroy');
    expect(await statusOf('network')).not.toBe('destroyed');

    const done = await run(engine, {
      workflow: 'destroy',
      commit: commitB,
      environment,
      extra,
      faults: { NextDestroyLayer: { times: 1, error: 'Lambda.ServiceException' } },
    });
    expect(done.outcome.status).toBe('succeeded');
    expect(done.count('retried', 'NextDestroyLayer')).toBe(1);
    expect(inProject(done, 'entered', 'RunDestroyJob')).toEqual([
      'RunDestroyJob [app]',
      'RunDestroyJob [network]',
      'RunDestroyJob [dns]',
    ]);
    expect(detailsOf(done).projects.map((p) => [p.name, p.status])).toEqual([
      ['network', 'destroyed'],
      ['dns', 'destroyed'],
      ['app', 'destroyed'],
    ]);
    for (const name of ['network', 'dns', 'app']) expect(await statusOf(name)).toBe('destroyed');
    expect(done.phases).toEqual(['destroying', 'destroyed']);
    expect(await engine.stores.locks.environmentLocks(environment)).toEqual([]);
  });
});

describe('an ephemeral environment of several projects (layers, issue 14)', () => {
  let engine: LocalEngine;
  let commit: string;
  const names = ['network', 'dns', 'app'];
  const projects = names.map((name) => ({
    name,
    dir: `ephemeral/infra/${name}`,
    layer: name === 'app' ? 1 : 0,
    varFiles: [`ephemeral/infra/${name}/envs/dev.tfvars`],
  }));
  const extra = { projectDir: 'ephemeral/infra', projects, maxParallel: 1 };
  const detailsOf = (runId: string) =>
    engine.stores.runs.get(runId)?.details as {
      outcome: string;
      projects: { name: string; status: string }[];
    };
  const statuses = (runId: string) => detailsOf(runId).projects.map((p) => [p.name, p.status]);
  const recordOf = (environment: string, name: string) =>
    engine.stores.records.getEnvironment(environment, `ephemeral/infra/${name}`);
  /** The managed resources Terraform's state of a project holds ([] when it has no state). */
  const stateOf = async (environment: string, name: string) => {
    const path = join(engine.home.state, stateKey(environment, `ephemeral/infra/${name}`));
    if (!existsSync(path)) return [];
    const state = JSON.parse(await readFile(path, 'utf8')) as TfState;
    return state.resources.filter((r) => r.mode === 'managed').map((r) => `${r.type}.${r.name}`);
  };

  beforeAll(async () => {
    engine = await newEngine();
    commit = await repo.commitDir(
      join(REPO_ROOT, 'test', 'golden', 'monorepo'),
      'ephemeral',
      'the monorepo, for ephemeral environments',
    );
  });

  /** An ephemeral run of the three projects (an hour's TTL) in `environment`, with faults. */
  const createEphemeral = async (environment: string, faults: Record<string, FaultInjection>) =>
    run(engine, { workflow: 'ephemeral', commit, environment, ttlSeconds: 3600, extra, faults });

  it('creates layer by layer; its one schedule destroys every project, layers in reverse', async () => {
    const environment = 'pr-layers';
    const ran = await createEphemeral(environment, {
      NextCreateLayer: { times: 1, error: 'Lambda.ServiceException' },
    });
    expect(ran.outcome.status).toBe('succeeded');
    expect(ran.count('retried', 'NextCreateLayer')).toBe(1);
    const appStarts = ran.progress.findIndex(
      (p) => p.type === 'entered' && p.state === 'RunEphemeralJob [app]',
    );
    for (const name of ['network', 'dns']) {
      const created = ran.progress.findIndex(
        (p) => p.type === 'exited' && p.state === `ProjectCreated [${name}]`,
      );
      expect(created).toBeGreaterThan(-1);
      expect(appStarts).toBeGreaterThan(created);
    }
    expect(ran.phases).toEqual(['started', 'applied']);
    expect(statuses(ran.runId)).toEqual(names.map((name) => [name, 'applied']));
    // One schedule for the run, under the folder its projects share, covering each of them.
    const schedules = engine.stores.schedules.list(environment);
    expect(schedules).toEqual([
      expect.objectContaining({ projectDir: 'ephemeral/infra', status: 'pending', projects }),
    ]);
    const [schedule] = schedules;
    for (const name of names) {
      expect(recordOf(environment, name)).toMatchObject({
        status: 'active',
        ttlExpiresAt: schedule?.fireAt,
      });
      // A live ephemeral environment is no rollback target (as for a run of one project).
      expect(await engine.stores.records.getLastGood(environment, `ephemeral/infra/${name}`)).toBe(
        undefined,
      );
      expect(await stateOf(environment, name)).not.toEqual([]);
    }

    // The TTL runs out: the schedule's own destroy run, as serve's scheduler starts it.
    if (schedule === undefined) throw new Error('no schedule');
    const destroy = scheduledDestroyRun(schedule);
    const destroyed = await engine.run(destroy);
    expect(destroyed.status).toBe('succeeded');
    const started = engine.stores.runs
      .listEvents(destroy.runId)
      .filter((e) => e.type === 'entered' && e.state?.startsWith('RunDestroyJob ['))
      .map((e) => e.state);
    expect(started).toEqual([
      'RunDestroyJob [app]',
      'RunDestroyJob [network]',
      'RunDestroyJob [dns]',
    ]);
    expect(statuses(destroy.runId)).toEqual(names.map((name) => [name, 'destroyed']));
    for (const name of names) {
      expect(recordOf(environment, name)?.status).toBe('destroyed');
      expect(await stateOf(environment, name)).toEqual([]);
    }
    expect(engine.stores.schedules.list(environment).map((s) => s.status)).toEqual(['deleted']);
    expect(engine.stores.locks.locksOf(environment)).toEqual([]);
  });

  it('a project that fails: every project whose apply started is destroyed again; none left', async () => {
    const environment = 'pr-failing';
    // network's apply works, but its result says it failed; dns applies; app never starts.
    const ran = await createEphemeral(environment, {
      CollectEphemeral: { times: 1, error: 'JobFailed' },
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.message).toMatch(/^network: /);
    expect(inProject(ran, 'entered', 'RunEphemeralJob')).toEqual([
      'RunEphemeralJob [network]',
      'RunEphemeralJob [dns]',
    ]);
    expect(inProject(ran, 'entered', 'RunCleanupJob')).toEqual([
      'RunCleanupJob [network]',
      'RunCleanupJob [dns]',
    ]);
    expect(ran.entered).toContain('CleanUpStarted');
    expect(ran.phases).toEqual(['started', 'destroying', 'failed']);
    expect(statuses(ran.runId)).toEqual([
      ['network', 'destroyed'],
      ['dns', 'destroyed'],
    ]);
    for (const name of names) expect(await stateOf(environment, name)).toEqual([]);
    expect(recordOf(environment, 'network')?.status).toBe('destroyed');
    expect(recordOf(environment, 'app')).toBeUndefined();
    expect(engine.stores.schedules.list(environment)).toEqual([]);
    expect(engine.stores.locks.locksOf(environment)).toEqual([]);
  });

  it('a cleanup that fails: that project and those below it stay marked failed-destroy', async () => {
    const environment = 'pr-stuck';
    // app (the third) fails; its cleanup, the first, fails too.
    const ran = await createEphemeral(environment, {
      CollectEphemeral: { times: 1, error: 'JobFailed', after: 2 },
      CollectCleanup: { times: 1, error: 'JobFailed' },
    });
    expect(ran.outcome.status).toBe('failed');
    expect(ran.outcome.error?.message).toMatch(/^app: /);
    expect(inProject(ran, 'entered', 'RunCleanupJob')).toEqual(['RunCleanupJob [app]']);
    expect(ran.entered).toContain('OutcomeCleanupFailed');
    expect(detailsOf(ran.runId).outcome).toBe('destroy_failed');
    for (const name of names) {
      expect(recordOf(environment, name)?.status).toBe('failed-destroy');
    }
    // network and dns were never cleaned up: what they created is still there.
    expect(await stateOf(environment, 'network')).not.toEqual([]);
    expect(engine.stores.locks.locksOf(environment)).toEqual([]);
  });
});

/** The labels of a state's events in Map iterations (`RunApplyJob [network]`…), in order. */
function inProject(ran: Ran, type: StateProgress['type'], state: string): string[] {
  return ran.progress
    .filter((p) => p.type === type && p.state.startsWith(`${state} [`))
    .map((p) => p.state);
}
