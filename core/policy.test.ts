// The pure half of policy checks: OPA's JSON output (as OPA 1.22 prints it) read into
// violations, and what on_failure makes of the results. executor-image/src/policy.test.ts
// runs the real OPA.
import { describe, expect, it } from '@jest/globals';
import { caught } from '../test/support/caught.ts';
import { PolicyInvalid } from './errors.ts';
import {
  POLICY_RESULT,
  POLICY_SUMMARY,
  type PolicyQuery,
  type PolicyResult,
  mayOverride,
  overrideOwners,
  parseOpaEval,
  policyDataDocument,
  policyOutcome,
  policyQueries,
  policyResult,
  summarizePolicies,
} from './policy.ts';
import { parseInput } from './validation.ts';

const DENY: PolicyQuery = { namespace: 'main', rule: 'deny', text: 'data.main.deny' };
const WARN: PolicyQuery = { namespace: 'main', rule: 'warn', text: 'data.main.warn' };
const CONTEXT = { policy: 'guardrails', root: '/work/checkout' };

/** What `opa eval --format json` prints for a defined query. */
const evaluated = (value: unknown, text = 'data.main.deny'): string =>
  JSON.stringify({
    result: [{ expressions: [{ value, text, location: { row: 1, col: 1 } }] }],
  });

describe('policyQueries', () => {
  it('asks deny then warn in package main by default', () => {
    expect(policyQueries({}).map((q) => q.text)).toEqual(['data.main.deny', 'data.main.warn']);
  });

  it('asks each configured namespace', () => {
    expect(policyQueries({ namespaces: ['terraform.aws', 'tags'] }).map((q) => q.text)).toEqual([
      'data.terraform.aws.deny',
      'data.terraform.aws.warn',
      'data.tags.deny',
      'data.tags.warn',
    ]);
  });
});

describe('parseOpaEval', () => {
  it('reads a set of messages (`deny contains msg if`)', () => {
    expect(parseOpaEval(evaluated(['a is bad', 'b is bad']), DENY, CONTEXT)).toEqual([
      { policy: 'guardrails', rule: 'deny', message: 'a is bad' },
      { policy: 'guardrails', rule: 'deny', message: 'b is bad' },
    ]);
  });

  it('reads conftest objects with msg and our resource', () => {
    const value = [{ msg: 'no tags', resource: 'aws_s3_bucket.logs', details: { x: 1 } }];
    expect(parseOpaEval(evaluated(value, 'data.main.warn'), WARN, CONTEXT)).toEqual([
      { policy: 'guardrails', rule: 'warn', message: 'no tags', resource: 'aws_s3_bucket.logs' },
    ]);
  });

  it('reads `deny[msg] if` (an object keyed by message) and complete rules', () => {
    expect(parseOpaEval(evaluated({ 'x is bad': true }), DENY, CONTEXT)).toEqual([
      { policy: 'guardrails', rule: 'deny', message: 'x is bad' },
    ]);
    expect(parseOpaEval(evaluated('one message'), DENY, CONTEXT)).toEqual([
      { policy: 'guardrails', rule: 'deny', message: 'one message' },
    ]);
    expect(parseOpaEval(evaluated({ msg: 'one', resource: 'r.a' }), DENY, CONTEXT)).toEqual([
      { policy: 'guardrails', rule: 'deny', message: 'one', resource: 'r.a' },
    ]);
    expect(parseOpaEval(evaluated(true), DENY, CONTEXT)).toEqual([
      { policy: 'guardrails', rule: 'deny', message: 'data.main.deny is true' },
    ]);
    expect(parseOpaEval(evaluated(false), DENY, CONTEXT)).toEqual([]);
  });

  it('finds nothing when the rule or namespace is not defined (OPA prints {})', () => {
    expect(parseOpaEval('{}', DENY, CONTEXT)).toEqual([]);
    expect(parseOpaEval(evaluated([]), DENY, CONTEXT)).toEqual([]);
  });

  it('turns a compile error into PolicyInvalid naming the file, relative, and the line', () => {
    const stdout = JSON.stringify({
      errors: [
        {
          message: 'var x is unsafe',
          code: 'rego_unsafe_var_error',
          location: { file: '/work/checkout/policy/bad.rego', row: 4, col: 3 },
        },
      ],
    });
    const error = caught(() => parseOpaEval(stdout, DENY, CONTEXT));
    expect(error).toBeInstanceOf(PolicyInvalid);
    expect(error).toMatchObject({
      name: 'PolicyInvalid',
      file: 'policy/bad.rego',
      line: 4,
      message:
        'policy guardrails: OPA refused it:\npolicy/bad.rego:4: rego_unsafe_var_error: var x is unsafe',
    });
  });

  it('lists at most five of many errors', () => {
    const errors = Array.from({ length: 7 }, (_, i) => ({
      message: `error ${i}`,
      location: { file: `/elsewhere/p${i}.rego`, row: i + 1 },
    }));
    const error = caught(() => parseOpaEval(JSON.stringify({ errors }), DENY, CONTEXT));
    expect((error as Error).message.split('\n')).toEqual([
      'policy guardrails: OPA refused it:',
      '/elsewhere/p0.rego:1: error 0',
      '/elsewhere/p1.rego:2: error 1',
      '/elsewhere/p2.rego:3: error 2',
      '/elsewhere/p3.rego:4: error 3',
      '/elsewhere/p4.rego:5: error 4',
      '… and 2 more',
    ]);
  });

  it('refuses a rule that yields something other than messages, naming the element', () => {
    const error = caught(() =>
      parseOpaEval(evaluated(['ok', { message: 'no msg' }]), DENY, CONTEXT),
    );
    expect(error).toBeInstanceOf(PolicyInvalid);
    expect((error as Error).message).toMatch(/^policy guardrails: data\.main\.deny\[1\]/);
    const badResource = caught(() =>
      parseOpaEval(evaluated([{ msg: 'm', resource: 7 }]), DENY, CONTEXT),
    );
    expect((badResource as Error).message).toMatch(/data\.main\.deny\[0\]\.resource/);
    expect(() => parseOpaEval(evaluated(3), DENY, CONTEXT)).toThrow(
      'data.main.deny must be a set of messages, not number',
    );
  });

  it('refuses output that is not OPA JSON', () => {
    expect(() => parseOpaEval('panic: boom', DENY, CONTEXT)).toThrow(PolicyInvalid);
    expect(() => parseOpaEval('{"result": [{"expressions": []}]}', DENY, CONTEXT)).toThrow(
      /result\.0\.expressions/,
    );
  });
});

describe('results and outcome', () => {
  const blocking = { name: 'guardrails', on_failure: 'block' as const };
  const advisory = { name: 'tags', on_failure: 'warn' as const };
  const deny = { policy: 'guardrails', rule: 'deny' as const, message: 'no' };
  const warn = { policy: 'tags', rule: 'warn' as const, message: 'hm' };

  it('passes a set when no deny fired, whatever warned', () => {
    expect(policyResult(blocking, 'app', [warn]).passed).toBe(true);
    expect(policyResult(blocking, 'app', [deny, warn])).toEqual({
      policy: 'guardrails',
      project: 'app',
      onFailure: 'block',
      passed: false,
      violations: [deny, warn],
    });
  });

  it('blocks on a failed block set only', () => {
    expect(policyOutcome([])).toEqual({ outcome: 'passed' });
    expect(policyOutcome([policyResult(blocking, 'app', [])])).toEqual({ outcome: 'passed' });
    expect(policyOutcome([policyResult(blocking, 'app', [warn])])).toEqual({ outcome: 'warned' });
    // warn: a deny is reported, never fails the run.
    const denyInAdvisory = { ...deny, policy: 'tags' };
    expect(policyOutcome([policyResult(advisory, 'app', [denyInAdvisory])])).toEqual({
      outcome: 'warned',
    });
    expect(
      policyOutcome([
        policyResult(blocking, 'app', [deny]),
        policyResult(blocking, 'db', [deny]),
        policyResult(advisory, 'app', [denyInAdvisory]),
      ]),
    ).toEqual({ outcome: 'blocked', blockedBy: ['guardrails'] });
  });

  it('lets only an owner of every blocking set override', () => {
    const policies = [
      { name: 'guardrails', owners: ['alice', 'bob'] },
      { name: 'tags', owners: ['alice'] },
      { name: 'unowned', owners: [] },
    ];
    expect(mayOverride(policies, ['guardrails'], 'bob')).toBe(true);
    expect(mayOverride(policies, ['guardrails', 'tags'], 'bob')).toBe(false);
    expect(mayOverride(policies, ['guardrails', 'tags'], 'alice')).toBe(true);
    expect(mayOverride(policies, ['unowned'], 'alice')).toBe(false);
    expect(mayOverride(policies, ['missing'], 'alice')).toBe(false);
    expect(overrideOwners(policies, ['guardrails'])).toEqual(['alice', 'bob']);
    expect(overrideOwners(policies, ['guardrails', 'tags'])).toEqual(['alice']);
    expect(overrideOwners(policies, ['tags', 'unowned'])).toEqual([]);
    expect(overrideOwners(policies, [])).toEqual([]);
  });

  it('summarizes for --json in the shape the schema accepts', () => {
    const results: PolicyResult[] = [
      policyResult(blocking, 'app', [deny]),
      policyResult(advisory, 'app', [warn]),
    ];
    for (const result of results) expect(POLICY_RESULT.parse(result)).toEqual(result);
    const summary = summarizePolicies(results);
    expect(summary).toEqual({ passed: false, violations: [deny, warn] });
    expect(POLICY_SUMMARY.parse(summary)).toEqual(summary);
  });

  it('names the bad field of a result read back', () => {
    const bad = { ...policyResult(blocking, 'app', [deny]), violations: [{ ...deny, rule: 'x' }] };
    expect(() => parseInput(POLICY_RESULT, bad, 'policy')).toThrow(/^policy\.violations\.0\.rule/);
  });
});

describe('policyDataDocument', () => {
  it('puts the run under data.stepform', () => {
    const data = { environment: 'prod', project: 'app', commit: 'a'.repeat(40), protected: true };
    expect(policyDataDocument(data)).toEqual({ stepform: data });
  });
});
