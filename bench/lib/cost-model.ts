// What one workflow run would cost on AWS: its usage (state transitions, Lambda invocations
// and their durations, executor seconds on Fargate) read from the local engine's event log,
// priced with AWS's published on-demand rates. Pure: no clock, no I/O.

/** Published on-demand rates, US East (N. Virginia). Free tiers are left out on purpose. */
export interface Rates {
  /** Step Functions Standard, per state transition. */
  readonly sfnPerTransition: number;
  /** Lambda, per request. */
  readonly lambdaPerRequest: number;
  /** Lambda on Arm (Graviton), per GB-second, first pricing tier. */
  readonly lambdaArmPerGbSecond: number;
  /** Fargate Linux/ARM, per vCPU-hour. */
  readonly fargateArmPerVcpuHour: number;
  /** Fargate Linux/ARM, per GB-hour. */
  readonly fargateArmPerGbHour: number;
  /** EventBridge Scheduler, per invocation (the TTL schedule that starts a destroy). */
  readonly schedulerPerInvocation: number;
}

export interface RateSource {
  readonly rate: keyof Rates;
  readonly published: string;
  readonly source: string;
  readonly asOf: string;
}

/**
 * As published on the AWS pricing pages named below, for us-east-1, taken as of 2026-11:
 * - Step Functions Standard: $0.025 per 1,000 state transitions
 *   (https://aws.amazon.com/step-functions/pricing/).
 * - Lambda: $0.20 per 1M requests; Arm $0.0000133334 per GB-second, first tier
 *   (https://aws.amazon.com/lambda/pricing/).
 * - Fargate Linux/ARM: $0.03238 per vCPU-hour and $0.00356 per GB-hour, billed per second
 *   with a one-minute minimum (https://aws.amazon.com/fargate/pricing/).
 * - EventBridge Scheduler: $1.00 per million invocations after the free tier
 *   (https://aws.amazon.com/eventbridge/pricing/).
 */
export const RATES_US_EAST_1: Rates = {
  sfnPerTransition: 0.025 / 1000,
  lambdaPerRequest: 0.2 / 1_000_000,
  lambdaArmPerGbSecond: 0.0000133334,
  fargateArmPerVcpuHour: 0.03238,
  fargateArmPerGbHour: 0.00356,
  schedulerPerInvocation: 1 / 1_000_000,
};

export const RATE_SOURCES: readonly RateSource[] = [
  {
    rate: 'sfnPerTransition',
    published: '$0.025 per 1,000 state transitions (Standard)',
    source: 'https://aws.amazon.com/step-functions/pricing/',
    asOf: '2026-11',
  },
  {
    rate: 'lambdaPerRequest',
    published: '$0.20 per 1M requests',
    source: 'https://aws.amazon.com/lambda/pricing/',
    asOf: '2026-11',
  },
  {
    rate: 'lambdaArmPerGbSecond',
    published: '$0.0000133334 per GB-second (Arm, first tier)',
    source: 'https://aws.amazon.com/lambda/pricing/',
    asOf: '2026-11',
  },
  {
    rate: 'fargateArmPerVcpuHour',
    published: '$0.03238 per vCPU-hour (Linux/ARM)',
    source: 'https://aws.amazon.com/fargate/pricing/',
    asOf: '2026-11',
  },
  {
    rate: 'fargateArmPerGbHour',
    published: '$0.00356 per GB-hour (Linux/ARM)',
    source: 'https://aws.amazon.com/fargate/pricing/',
    asOf: '2026-11',
  },
  {
    rate: 'schedulerPerInvocation',
    published: '$1.00 per million invocations',
    source: 'https://aws.amazon.com/eventbridge/pricing/',
    asOf: '2026-11',
  },
];

/** What the model assumes about the deployment (stated in the results). */
export interface Assumptions {
  /** Memory of every Lambda function. */
  readonly lambdaMemoryGb: number;
  /**
   * Locally a Lambda step is a SQLite write that takes a few milliseconds; on AWS the same
   * step makes DynamoDB, S3, Slack or GitHub calls. Each invocation is billed at least this.
   */
  readonly lambdaMinBilledMs: number;
  readonly executorVcpu: number;
  readonly executorMemoryGb: number;
  /** Fargate bills a task for at least this long. */
  readonly fargateMinimumSeconds: number;
  /** Image pull and container start, billed by Fargate before the executor runs. */
  readonly fargateStartupSeconds: number;
}

/**
 * Arm64 Lambdas of 512 MB and executor jobs of 1 vCPU / 2 GiB on Fargate ARM64: the defaults
 * of the CDK app (infra/lib/stepform-pipeline.ts) when these benchmarks were written.
 */
export const ASSUMPTIONS: Assumptions = {
  lambdaMemoryGb: 0.5,
  lambdaMinBilledMs: 400,
  executorVcpu: 1,
  executorMemoryGb: 2,
  fargateMinimumSeconds: 60,
  fargateStartupSeconds: 20,
};

/** How a state of a workflow is billed. */
export type StateKind = 'batch' | 'lambda' | 'callback' | 'other';

/** The part of an ASL state this model reads. */
export interface StateShape {
  readonly Type: string;
  readonly Resource?: string;
}

const BATCH_SYNC = 'arn:aws:states:::batch:submitJob.sync';
const LAMBDA_CALLBACK = 'arn:aws:states:::lambda:invoke.waitForTaskToken';

/** Batch job, Lambda (invoked directly), Lambda with a task token, or a state with no compute. */
export function stateKinds(
  states: Readonly<Record<string, StateShape>>,
): Record<string, StateKind> {
  return Object.fromEntries(
    Object.entries(states).map(([name, state]): [string, StateKind] => {
      if (state.Type !== 'Task') return [name, 'other'];
      if (state.Resource === BATCH_SYNC) return [name, 'batch'];
      if (state.Resource === LAMBDA_CALLBACK) return [name, 'callback'];
      return [name, 'lambda'];
    }),
  );
}

/**
 * The state an event names: the local engine labels a Map iteration's states with the project
 * they work on (`RunPlanJob [network]`).
 */
export function stateOfLabel(label: string | null): string {
  return (label ?? '').replace(/ \[[^\]]*\]$/, '');
}

/** One event of the local engine's log (a row of run_events). */
export interface EngineEvent {
  readonly type: string;
  readonly state: string | null;
  readonly durationMs: number | null;
}

export interface Usage {
  readonly transitions: number;
  /** Milliseconds of each Lambda invocation. */
  readonly lambdaMs: readonly number[];
  /** Seconds of each executor job. */
  readonly executorSeconds: readonly number[];
  readonly schedulerInvocations: number;
}

/**
 * A run's usage from its events: one state transition per StateEntered (retries enter
 * again), one Lambda invocation per Task state that ends and is not a Batch job, one
 * executor job per Batch state that ends. A callback state's duration includes the wait for
 * the decision, which Lambda does not bill: give the invocation's own duration in
 * `callbackMs` (by state name).
 */
export function usageFromEvents(
  events: readonly EngineEvent[],
  kinds: Readonly<Record<string, StateKind>>,
  callbackMs: Readonly<Record<string, number>> = {},
): Usage {
  let transitions = 0;
  const lambdaMs: number[] = [];
  const executorSeconds: number[] = [];
  for (const event of events) {
    const state = stateOfLabel(event.state);
    if (event.type === 'entered') {
      transitions += 1;
      continue;
    }
    if (event.type !== 'exited' && event.type !== 'failed') continue;
    const duration = event.durationMs ?? 0;
    switch (kinds[state]) {
      case 'batch':
        executorSeconds.push(duration / 1000);
        break;
      case 'lambda':
        lambdaMs.push(duration);
        break;
      case 'callback':
        lambdaMs.push(callbackMs[state] ?? duration);
        break;
      default:
        break;
    }
  }
  return { transitions, lambdaMs, executorSeconds, schedulerInvocations: 0 };
}

/** Usage of several runs (or extra invocations) added together. */
export function addUsage(...usages: readonly Usage[]): Usage {
  return {
    transitions: usages.reduce((sum, u) => sum + u.transitions, 0),
    lambdaMs: usages.flatMap((u) => u.lambdaMs),
    executorSeconds: usages.flatMap((u) => u.executorSeconds),
    schedulerInvocations: usages.reduce((sum, u) => sum + u.schedulerInvocations, 0),
  };
}

export interface Cost {
  readonly stepFunctions: number;
  readonly lambdaRequests: number;
  readonly lambdaDuration: number;
  readonly fargate: number;
  readonly scheduler: number;
  readonly total: number;
  readonly billedLambdaGbSeconds: number;
  readonly billedFargateSeconds: number;
}

/** Fargate seconds billed for one task: startup plus run time, at least the minimum. */
export function billedFargateSeconds(runSeconds: number, assumptions: Assumptions): number {
  return Math.max(
    assumptions.fargateMinimumSeconds,
    Math.ceil(runSeconds + assumptions.fargateStartupSeconds),
  );
}

/** Cost of running a Fargate task of this size for `seconds`. */
export function fargateCost(seconds: number, vcpu: number, memoryGb: number, rates: Rates): number {
  return (
    (seconds / 3600) * (vcpu * rates.fargateArmPerVcpuHour + memoryGb * rates.fargateArmPerGbHour)
  );
}

export function priceUsage(usage: Usage, rates: Rates, assumptions: Assumptions): Cost {
  const billedMs = usage.lambdaMs.map((ms) =>
    Math.ceil(Math.max(ms, assumptions.lambdaMinBilledMs)),
  );
  const gbSeconds = billedMs.reduce((sum, ms) => sum + (ms / 1000) * assumptions.lambdaMemoryGb, 0);
  const fargateSeconds = usage.executorSeconds.reduce(
    (sum, s) => sum + billedFargateSeconds(s, assumptions),
    0,
  );
  const parts = {
    stepFunctions: usage.transitions * rates.sfnPerTransition,
    lambdaRequests: usage.lambdaMs.length * rates.lambdaPerRequest,
    lambdaDuration: gbSeconds * rates.lambdaArmPerGbSecond,
    fargate: fargateCost(
      fargateSeconds,
      assumptions.executorVcpu,
      assumptions.executorMemoryGb,
      rates,
    ),
    scheduler: usage.schedulerInvocations * rates.schedulerPerInvocation,
  };
  return {
    ...parts,
    total:
      parts.stepFunctions +
      parts.lambdaRequests +
      parts.lambdaDuration +
      parts.fargate +
      parts.scheduler,
    billedLambdaGbSeconds: gbSeconds,
    billedFargateSeconds: fargateSeconds,
  };
}

/** AWS prices a month as 730 hours. */
export const HOURS_PER_MONTH = 730;
export const DAYS_PER_MONTH = HOURS_PER_MONTH / 24;

/** A month of `plansPerDay` plans and `appliesPerDay` approved applies. */
export function monthlyCost(
  perPlan: number,
  perApply: number,
  volume: { plansPerDay: number; appliesPerDay: number },
  days = DAYS_PER_MONTH,
): number {
  return days * (volume.plansPerDay * perPlan + volume.appliesPerDay * perApply);
}

/** An always-on Fargate task (such as an Atlantis server) for a month. */
export function alwaysOnMonthly(
  vcpu: number,
  memoryGb: number,
  rates: Rates,
  hours = HOURS_PER_MONTH,
): number {
  return fargateCost(hours * 3600, vcpu, memoryGb, rates);
}
