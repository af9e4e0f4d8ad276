import { describe, expect, it } from '@jest/globals';
import type { PolicyResult, PolicyViolation } from './policy.ts';
import type { ProjectPolicy } from './project-results.ts';
import {
  VIOLATIONS_SHOWN,
  policyChecks,
  policyField,
  policyHtml,
  policyMarkdown,
  setVerdict,
} from './policy-view.ts';

const HOSTILE =
  'bad <script>alert(1)</script> ``` </details> [x](https://evil.example) @here\n# heading';

function violation(rule: 'deny' | 'warn', message: string, resource?: string): PolicyViolation {
  return {
    policy: 'guardrails',
    rule,
    message,
    ...(resource === undefined ? {} : { resource }),
  };
}

function result(
  policy: string,
  onFailure: 'block' | 'warn',
  violations: readonly PolicyViolation[],
): PolicyResult {
  return {
    policy,
    project: 'app',
    onFailure,
    passed: violations.every((v) => v.rule !== 'deny'),
    violations: violations.map((v) => ({ ...v, policy })),
  };
}

const BLOCKING = result('guardrails', 'block', [
  violation(
    'deny',
    'terraform_data.greeting may not be created in prod',
    'terraform_data.greeting',
  ),
  violation('warn', 'time_static is deprecated'),
]);
const WARNING = result('tags', 'warn', [violation('warn', 'no owner tag', 'aws_s3_bucket.logs')]);
const SOFT_FAIL = result('cost', 'warn', [violation('deny', 'too big')]);
const CLEAN = result('naming', 'block', []);

describe('setVerdict', () => {
  it('tells a blocking failure from a warn-only failure, a warning and a pass', () => {
    expect([BLOCKING, SOFT_FAIL, WARNING, CLEAN].map(setVerdict)).toEqual([
      'blocking',
      'failed',
      'warned',
      'passed',
    ]);
  });
});

describe('policyField', () => {
  const counts: ProjectPolicy = { outcome: 'warned', blockedBy: [], deny: 0, warn: 1 };

  it('prefers the sets read from result.json, falls back to the counts, and is empty when none ran', () => {
    expect(policyField('planned', [WARNING], counts)).toEqual({
      policy: { kind: 'sets', results: [WARNING] },
    });
    expect(policyField('awaiting_approval', undefined, counts)).toEqual({
      policy: { kind: 'counts', counts },
    });
    expect(policyField('policy_failed', [], undefined)).toEqual({});
  });

  it('shows nothing after the plans are past (an apply, a rollback)', () => {
    expect(policyField('applied', [WARNING], counts)).toEqual({});
    expect(policyField('rolled_back', [WARNING], counts)).toEqual({});
  });
});

describe('policyMarkdown', () => {
  it('gives each set its verdict and each violation its rule, resource and message', () => {
    const checks = policyChecks([BLOCKING, WARNING, SOFT_FAIL, CLEAN], undefined);
    expect(checks).toBeDefined();
    expect(policyMarkdown(checks!, 10_000)).toBe(
      [
        '##### Policy checks',
        '',
        '- ⛔ `guardrails`: failed \\(blocks the run\\)',
        '  - **deny** `terraform_data.greeting`: terraform\\_data\\.greeting may not be created in prod',
        '  - **warn** time\\_static is deprecated',
        '- ⚠️ `tags`: passed with warnings',
        '  - **warn** `aws_s3_bucket.logs`: no owner tag',
        '- ❌ `cost`: failed \\(on\\_failure\\: warn\\)',
        '  - **deny** too big',
        '- ✅ `naming`: passed',
      ].join('\n'),
    );
  });

  it('escapes a hostile message and resource: no HTML, link, heading or code fence survives', () => {
    const hostile = result('guardrails', 'block', [
      violation('deny', HOSTILE, 'aws_s3_bucket.x["``` <img src=x>"]'),
    ]);
    const markdown = policyMarkdown({ kind: 'sets', results: [hostile] }, 10_000);
    expect(markdown).not.toContain('<script>');
    expect(markdown).not.toContain('</details>');
    expect(markdown).not.toContain('](');
    expect(markdown).not.toMatch(/\n# /);
    expect(markdown).toContain('\\<script\\>alert\\(1\\)\\<\\/script\\>');
    expect(markdown).toContain('\\`\\`\\`');
    // The resource is a code span whose fence is longer than the backticks inside.
    expect(markdown).toContain('````aws_s3_bucket.x["``` <img src=x>"]````');
    expect(markdown.split('\n')).toHaveLength(4);
  });

  it('lists at most VIOLATIONS_SHOWN violations a set and counts the rest', () => {
    const many = result(
      'tags',
      'warn',
      Array.from({ length: 25 }, (_, i) => violation('warn', `missing tag ${i}`)),
    );
    const markdown = policyMarkdown({ kind: 'sets', results: [many] }, 10_000);
    expect(markdown.match(/\*\*warn\*\*/g)).toHaveLength(VIOLATIONS_SHOWN);
    expect(markdown).toContain('missing tag 9');
    expect(markdown).not.toContain('missing tag 10');
    expect(markdown).toContain('15 more not shown (in the plan job’s result.json)');
  });

  it('keeps within its limit: every verdict first, then the violations that fit, with a note', () => {
    const results = Array.from({ length: 16 }, (_, i) =>
      result(
        `set${i}`,
        'warn',
        Array.from({ length: 10 }, (_, j) => violation('warn', `${'x'.repeat(250)} ${i}.${j}`)),
      ),
    );
    const markdown = policyMarkdown({ kind: 'sets', results }, 2_000);
    expect(markdown.length).toBeLessThanOrEqual(2_000);
    for (let i = 0; i < 16; i += 1) expect(markdown).toContain(`\`set${i}\`: passed with warnings`);
    expect(markdown).toMatch(
      /> \d+ policy lines not shown; every violation is in the plan job’s result\.json$/,
    );
  });

  it('falls back to the counts and the blocking sets when the results could not be read', () => {
    const markdown = policyMarkdown(
      {
        kind: 'counts',
        counts: { outcome: 'blocked', blockedBy: ['guardrails'], deny: 2, warn: 1 },
      },
      10_000,
    );
    expect(markdown).toBe(
      '##### Policy checks\n\n- ⛔ blocked · blocked by `guardrails` · 2 deny, 1 warn \\(the sets’ details could not be read\\)',
    );
  });
});

describe('policyHtml', () => {
  it('lists the sets that fired with their violations, counts the clean ones, and escapes everything', () => {
    const hostile = result('tags', 'warn', [violation('warn', HOSTILE, '<b>res</b>')]);
    const html = policyHtml([
      { name: 'app<i>', checks: { kind: 'sets', results: [BLOCKING, hostile, CLEAN] } },
    ]);
    expect(html).toContain('<h2>Policy checks</h2>');
    expect(html).toContain('<h3>Policies on <code>app&lt;i&gt;</code></h3>');
    expect(html).toContain(
      '<li><code>guardrails</code>: <span class="fail">failed (blocks the run)</span>',
    );
    expect(html).toContain(
      '<li><strong class="fail">deny</strong> <code>terraform_data.greeting</code>: terraform_data.greeting may not be created in prod</li>',
    );
    expect(html).toContain('<li><code>tags</code>: <span>passed with warnings</span>');
    expect(html).toContain(
      '<li><strong>warn</strong> <code>&lt;b&gt;res&lt;/b&gt;</code>: bad &lt;script&gt;alert(1)&lt;/script&gt;',
    );
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<b>');
    expect(html).toContain('<p>1 other set passed.</p>');
    expect(html).not.toContain('<code>naming</code>');
  });

  it('caps a set at 50 violations on the page', () => {
    const many = result(
      'tags',
      'warn',
      Array.from({ length: 60 }, (_, i) => violation('warn', `missing tag ${i}`)),
    );
    const html = policyHtml([{ name: 'app', checks: { kind: 'sets', results: [many] } }]);
    expect(html.match(/<strong>warn<\/strong>/g)).toHaveLength(50);
    expect(html).toContain('<li>… and 10 more (in the plan job’s result.json)</li>');
  });

  it('says when a result could not be read, and shows nothing when every set passed', () => {
    expect(policyHtml([{ name: 'app', checks: 'unreadable' }])).toContain(
      'This plan’s policy results could not be read',
    );
    expect(policyHtml([{ name: 'app', checks: { kind: 'sets', results: [CLEAN] } }])).toBe('');
    expect(policyHtml([{ name: 'app', checks: undefined }])).toBe('');
  });
});
