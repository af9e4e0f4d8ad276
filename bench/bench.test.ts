// The benchmarks' pure helpers: statistics, lock-hold intervals and the cost model's
// arithmetic. No timing is measured or asserted here.
import { describe, expect, it } from '@jest/globals';
import {
  ASSUMPTIONS,
  RATES_US_EAST_1,
  addUsage,
  alwaysOnMonthly,
  billedFargateSeconds,
  monthlyCost,
  priceUsage,
  stateKinds,
  stateOfLabel,
  usageFromEvents,
} from './lib/cost-model.ts';
import { maxConcurrent, overlappingPairs } from './lib/intervals.ts';
import { table } from './lib/report.ts';
import { dollars, median, medianByKey, percentile, ratio, summarize } from './lib/stats.ts';

describe('stats', () => {
  it('takes the median of odd and even counts, in any order', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it('summarizes and refuses empty or non-finite samples', () => {
    expect(summarize([5, 1, 3])).toEqual({ n: 3, median: 3, min: 1, max: 5, mean: 3 });
    expect(() => median([])).toThrow('no samples');
    expect(() => median([1, Number.NaN])).toThrow('not a finite sample');
  });

  it('interpolates percentiles and divides only by a positive number', () => {
    expect(percentile([1, 2, 3, 4, 5], 50)).toBe(3);
    expect(percentile([0, 10], 95)).toBe(9.5);
    expect(ratio(3, 2)).toBe(1.5);
    expect(() => ratio(1, 0)).toThrow();
  });

  it('takes medians key by key, a missing key counting as 0', () => {
    expect(medianByKey([{ a: 1, b: 4 }, { a: 3 }, { a: 2, b: 2 }])).toEqual({ a: 2, b: 2 });
  });

  it('formats dollars with enough digits for fractions of a cent', () => {
    expect(dollars(7.2124)).toBe('$7.21');
    expect(dollars(0.0512)).toBe('$0.0512');
    expect(dollars(0.000848)).toBe('$0.000848');
    expect(dollars(0)).toBe('$0');
  });
});

describe('lock holds', () => {
  const hold = (owner: string, from: number, to: number) => ({
    owner,
    acquiredAt: new Date(from).toISOString(),
    releasedAt: new Date(to).toISOString(),
  });

  it('finds overlapping holds, but not one that starts as another ends', () => {
    expect(overlappingPairs([hold('a', 0, 10), hold('b', 10, 20)])).toEqual([]);
    const pairs = overlappingPairs([hold('a', 0, 10), hold('b', 5, 20), hold('c', 30, 40)]);
    expect(pairs.map(([x, y]) => `${x.owner}${y.owner}`)).toEqual(['ab']);
  });

  it('counts the most holds in force at once', () => {
    expect(maxConcurrent([])).toBe(0);
    expect(maxConcurrent([hold('a', 0, 10), hold('b', 10, 20)])).toBe(1);
    expect(maxConcurrent([hold('a', 0, 10), hold('b', 2, 8), hold('c', 5, 20)])).toBe(3);
  });
});

describe('cost model', () => {
  const kinds = stateKinds({
    PrepareRun: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:1:function:Prepare' },
    RunPlanJob: { Type: 'Task', Resource: 'arn:aws:states:::batch:submitJob.sync' },
    RequestApproval: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
    },
    HasChanges: { Type: 'Choice' },
    Done: { Type: 'Succeed' },
  });

  it('classifies states by how they are billed', () => {
    expect(kinds).toEqual({
      PrepareRun: 'lambda',
      RunPlanJob: 'batch',
      RequestApproval: 'callback',
      HasChanges: 'other',
      Done: 'other',
    });
  });

  it('reads transitions, Lambda durations and executor seconds from the events', () => {
    const events = [
      { type: 'entered', state: 'PrepareRun', durationMs: null },
      { type: 'exited', state: 'PrepareRun', durationMs: 12 },
      { type: 'entered', state: 'RunPlanJob', durationMs: null },
      { type: 'exited', state: 'RunPlanJob', durationMs: 4500 },
      { type: 'entered', state: 'RequestApproval', durationMs: null },
      { type: 'exited', state: 'RequestApproval', durationMs: 90_000 },
      { type: 'entered', state: 'HasChanges', durationMs: null },
      { type: 'exited', state: 'HasChanges', durationMs: 0 },
      { type: 'entered', state: 'Done', durationMs: null },
    ];
    expect(usageFromEvents(events, kinds, { RequestApproval: 30 })).toEqual({
      transitions: 5,
      lambdaMs: [12, 30],
      executorSeconds: [4.5],
      schedulerInvocations: 0,
    });
  });

  it('counts a Map iteration’s states, which the engine labels with their project', () => {
    const events = [
      { type: 'entered', state: 'RunPlanJob [network]', durationMs: null },
      { type: 'exited', state: 'RunPlanJob [network]', durationMs: 2000 },
      { type: 'entered', state: 'RunPlanJob [app]', durationMs: null },
      { type: 'exited', state: 'RunPlanJob [app]', durationMs: 3000 },
    ];
    expect(usageFromEvents(events, kinds).executorSeconds).toEqual([2, 3]);
    expect(stateOfLabel('RunPlanJob [network]')).toBe('RunPlanJob');
    expect(stateOfLabel('PrepareRun')).toBe('PrepareRun');
  });

  it('bills Fargate at least a minute, startup included', () => {
    expect(billedFargateSeconds(5, ASSUMPTIONS)).toBe(60);
    expect(billedFargateSeconds(50.2, ASSUMPTIONS)).toBe(71);
  });

  it('prices usage with the published rates', () => {
    const usage = addUsage(
      { transitions: 1000, lambdaMs: [], executorSeconds: [], schedulerInvocations: 0 },
      { transitions: 0, lambdaMs: [100, 1000], executorSeconds: [3600], schedulerInvocations: 1 },
    );
    const assumptions = { ...ASSUMPTIONS, fargateStartupSeconds: 0, lambdaMinBilledMs: 400 };
    const cost = priceUsage(usage, RATES_US_EAST_1, assumptions);
    expect(cost.stepFunctions).toBeCloseTo(0.025, 10);
    expect(cost.lambdaRequests).toBeCloseTo(0.4e-6, 12);
    // 0.4 s + 1 s at 0.5 GB = 0.7 GB-s.
    expect(cost.billedLambdaGbSeconds).toBeCloseTo(0.7, 10);
    expect(cost.lambdaDuration).toBeCloseTo(0.7 * 0.0000133334, 12);
    // One hour of 1 vCPU and 2 GB.
    expect(cost.fargate).toBeCloseTo(0.03238 + 2 * 0.00356, 10);
    expect(cost.scheduler).toBeCloseTo(1e-6, 12);
    expect(cost.total).toBeCloseTo(
      cost.stepFunctions + cost.lambdaRequests + cost.lambdaDuration + cost.fargate + 1e-6,
      12,
    );
  });

  it('adds up a month of runs and a month of an always-on task', () => {
    expect(monthlyCost(0.001, 0.002, { plansPerDay: 100, appliesPerDay: 20 }, 30)).toBeCloseTo(
      30 * (0.1 + 0.04),
      10,
    );
    // 0.25 vCPU and 0.5 GB for 730 hours.
    expect(alwaysOnMonthly(0.25, 0.5, RATES_US_EAST_1)).toBeCloseTo(
      730 * (0.25 * 0.03238 + 0.5 * 0.00356),
      10,
    );
  });
});

describe('markdown table', () => {
  it('aligns the named columns right and escapes pipes', () => {
    expect(table(['a', 'b'], [['x|y', 1]], [1])).toBe('| a | b |\n| --- | ---: |\n| x\\|y | 1 |');
  });
});
