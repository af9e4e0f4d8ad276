import { describe, expect, it } from '@jest/globals';
import { planSummary } from '../test/support/run-fixtures.ts';
import { MASK } from './masking.ts';
import {
  PLAN_JSON,
  classifyActions,
  sensitiveLeaves,
  sensitiveValuesInPlan,
  summarizePlan,
} from './plan-summary.ts';

const change = (actions: string[], extra: Record<string, unknown> = {}) => ({ actions, ...extra });

const PLAN = PLAN_JSON.parse({
  format_version: '1.2',
  resource_changes: [
    { address: 'a.created', change: change(['create']) },
    { address: 'a.updated', change: change(['update']) },
    { address: 'a.deleted', change: change(['delete']) },
    { address: 'a.replaced', change: change(['delete', 'create']) },
    { address: 'a.replaced_cbd', change: change(['create', 'delete']) },
    { address: 'a.unchanged', change: change(['no-op']) },
    { address: 'a.imported', change: change(['no-op'], { importing: { id: 'i-123' } }) },
    { address: 'a.imported_updated', change: change(['update'], { importing: { id: 'i-456' } }) },
    { address: 'data.a.read', change: change(['read']) },
    { address: 'a.forgotten', change: change(['forget']) },
  ],
  output_changes: {
    plain: change(['create'], { after: 'value', after_unknown: false, after_sensitive: false }),
    later: change(['create'], { after_unknown: true, after_sensitive: false }),
    secret: change(['update'], {
      after: 'top-secret',
      after_unknown: false,
      after_sensitive: true,
    }),
    gone: change(['delete'], { after: null }),
  },
  planned_values: {
    outputs: {
      secret: { sensitive: true, value: 'top-secret' },
      plain: { sensitive: false, value: 'value' },
    },
  },
  prior_state: { values: { outputs: { secret: { sensitive: true, value: 'old-secret' } } } },
  variables: { password: { value: 'var-secret' }, region: { value: 'eu-west-1' } },
  configuration: { root_module: { variables: { password: { sensitive: true }, region: {} } } },
});

describe('summarizePlan', () => {
  it('counts as Terraform does, with replaces in both add and destroy', () => {
    expect(summarizePlan(PLAN)).toMatchObject({
      add: 3,
      change: 2,
      destroy: 3,
      replace: 2,
      import: 2,
      forget: 1,
    });
  });

  it('lists each changed resource with its action, and skips no-ops', () => {
    expect(summarizePlan(PLAN).resources).toEqual([
      { address: 'a.created', action: 'create', importing: false },
      { address: 'a.updated', action: 'update', importing: false },
      { address: 'a.deleted', action: 'delete', importing: false },
      { address: 'a.replaced', action: 'replace', importing: false },
      { address: 'a.replaced_cbd', action: 'replace', importing: false },
      { address: 'a.imported', action: 'no-op', importing: true },
      { address: 'a.imported_updated', action: 'update', importing: true },
      { address: 'data.a.read', action: 'read', importing: false },
      { address: 'a.forgotten', action: 'forget', importing: false },
    ]);
  });

  it('shows known outputs, hides unknown ones and masks sensitive ones', () => {
    expect(summarizePlan(PLAN).outputs).toEqual([
      { name: 'plain', action: 'create', sensitive: false, value: 'value' },
      { name: 'later', action: 'create', sensitive: false },
      { name: 'secret', action: 'update', sensitive: true, value: MASK },
      { name: 'gone', action: 'delete', sensitive: false },
    ]);
  });

  it('summarizes an empty plan as no changes', () => {
    expect(summarizePlan(PLAN_JSON.parse({}))).toEqual(planSummary());
  });
});

describe('sensitiveValuesInPlan', () => {
  it('finds sensitive outputs, prior sensitive outputs and sensitive variables, and nothing else', () => {
    const values = sensitiveValuesInPlan(PLAN);
    expect(values).toEqual(expect.arrayContaining(['top-secret', 'old-secret', 'var-secret']));
    expect(values).not.toContain('value');
    expect(values).not.toContain('eu-west-1');
  });
});

describe('sensitiveValuesInPlan, where resources and modules mark values sensitive', () => {
  // As `terraform show -json` prints a first apply: no prior state, every secret known only
  // from the plan, marked by markers that mirror the value's shape.
  const FIRST_APPLY = PLAN_JSON.parse({
    planned_values: {
      root_module: {
        resources: [
          {
            address: 'terraform_data.credentials',
            values: { input: { token: 'attr-secret', user: 'app' }, list: ['a-plain', 'b-secret'] },
            sensitive_values: { input: { token: true }, list: [false, true], output: {} },
          },
        ],
        child_modules: [
          {
            address: 'module.db',
            resources: [
              {
                values: { password: 'module-secret', name: 'db-name' },
                sensitive_values: { password: true },
              },
            ],
          },
        ],
      },
    },
    resource_changes: [
      {
        address: 'terraform_data.rotated',
        change: {
          actions: ['update'],
          before: { input: 'before-secret', tag: 'old-tag' },
          before_sensitive: { input: true },
          after: { input: 'after-secret', tag: 'new-tag' },
          after_sensitive: { input: true },
        },
      },
    ],
    resource_drift: [
      {
        address: 'terraform_data.drifted',
        change: { after: { input: 'drift-secret' }, after_sensitive: { input: true } },
      },
    ],
    output_changes: {
      password: {
        actions: ['update'],
        before: 'old-output-secret',
        before_sensitive: true,
        after: { nested: ['new-output-secret'] },
        after_sensitive: true,
      },
    },
    prior_state: {
      values: {
        root_module: {
          resources: [{ values: { key: 'prior-secret' }, sensitive_values: { key: true } }],
        },
      },
    },
  });

  it('finds every marked leaf, nested or whole, and nothing unmarked', () => {
    const values = sensitiveValuesInPlan(FIRST_APPLY);
    expect([...new Set(values)].sort()).toEqual(
      [
        'after-secret',
        'attr-secret',
        'b-secret',
        'before-secret',
        'drift-secret',
        'module-secret',
        'new-output-secret',
        'old-output-secret',
        'prior-secret',
      ].sort(),
    );
  });

  it('walks markers along the value, ignoring markers with no value under them', () => {
    expect(sensitiveLeaves({ a: { b: ['x-one', 'x-two'] } }, { a: { b: [false, true] } })).toEqual([
      'x-two',
    ]);
    expect(sensitiveLeaves({ a: 'whole' }, true)).toEqual(['whole']);
    expect(sensitiveLeaves({ a: 'kept' }, { missing: true, a: false })).toEqual([]);
    expect(sensitiveLeaves(null, { a: true })).toEqual([]);
    expect(sensitiveLeaves('text', {})).toEqual([]);
  });
});

describe('classifyActions', () => {
  it.each([
    [['create'], 'create'],
    [['delete', 'create'], 'replace'],
    [['create', 'delete'], 'replace'],
    [['no-op'], 'no-op'],
    [['something-new'], 'no-op'],
  ])('%j is %s', (actions, action) => {
    expect(classifyActions(actions)).toBe(action);
  });
});
