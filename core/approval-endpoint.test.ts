import { describe, expect, it } from '@jest/globals';
import { type ApprovalSubject, renderConfirmationPage } from './approval.ts';
import { PAGE_DIFF_BUDGET, planDiffSections, planPolicySection } from './approval-endpoint.ts';
import type { PolicyResult } from './policy.ts';
import { fixtureDiff as fixture, manyResources } from '../test/support/plan-fixtures.ts';
import { jobResult } from '../test/support/run-fixtures.ts';

const SUBJECT: ApprovalSubject = {
  kind: 'plan',
  projects: [
    { name: 'network', dir: 'infra/network', planLocation: '/run/project-network/plan' },
    { name: 'app', dir: 'infra/app', planLocation: '/run/project-app/plan' },
    { name: 'old', dir: 'infra/old', planLocation: '/run/project-old/plan' },
    // A project without changes whose record predates plan locations: nothing to read.
    { name: 'dns', dir: 'infra/dns' },
  ],
};

describe('planDiffSections', () => {
  it('renders each planned project’s diff in the subject’s order, and says when it cannot', async () => {
    const read: string[] = [];
    const sections = await planDiffSections(SUBJECT, {
      readPlanDiff: async (location) => {
        read.push(location);
        if (location.includes('network')) return Promise.resolve(fixture('update-nested'));
        if (location.includes('app')) return Promise.reject(new Error('AccessDenied'));
        return Promise.resolve(undefined);
      },
    });
    expect(read).toEqual([
      '/run/project-network/plan',
      '/run/project-app/plan',
      '/run/project-old/plan',
    ]);
    expect(sections.map((s) => s.name)).toEqual(['network', 'app', 'old']);
    expect(sections[0]?.html).toContain(
      '<td><code>input.settings.image</code></td><td><code>&quot;app:1.0&quot;</code></td><td><code>&quot;app:1.1&quot;</code></td>',
    );
    // Why a read failed is ours to log, not the page's to show.
    expect(sections[1]?.html).toContain('could not be read');
    expect(sections[1]?.html).not.toContain('AccessDenied');
    expect(sections[2]?.html).toContain('left no diff');
  });

  it('shows nothing for a destroy, a command, or without a store to read from', async () => {
    const readPlanDiff = async () => Promise.resolve(fixture('create'));
    expect(await planDiffSections({ ...SUBJECT, kind: 'destroy' }, { readPlanDiff })).toEqual([]);
    expect(await planDiffSections(undefined, { readPlanDiff })).toEqual([]);
    expect(await planDiffSections(SUBJECT, undefined)).toEqual([]);
  });

  it('shares the page’s budget between the projects, cutting between resources', async () => {
    const many = manyResources('create', 4000);
    const sections = await planDiffSections(SUBJECT, {
      readPlanDiff: async () => Promise.resolve(many),
    });
    const total = sections.reduce((sum, s) => sum + s.html.length, 0);
    expect(total).toBeLessThanOrEqual(PAGE_DIFF_BUDGET);
    expect(sections[0]?.html).toMatch(/not shown/);
  });
});

describe('the confirmation page with the plans', () => {
  it('shows each plan’s diff under its project’s name, before the form', () => {
    const html = renderConfirmationPage({
      record: {
        id: 'a',
        runId: 'r',
        environment: 'prod',
        projectDir: 'infra',
        commit: 'c'.repeat(40),
        planSha256: 'b'.repeat(64),
        requestedAt: '2030-01-01T00:00:00.000Z',
        expiresAt: '2030-01-01T01:00:00.000Z',
        status: 'pending',
        subject: SUBJECT,
      },
      action: 'approve',
      link: { id: 'a', action: 'approve', expires: '1', sig: 's' },
      postUrl: '/approvals/a',
      plans: [{ name: 'net<work>', html: '<p class="plan-line">Plan: 1 to add</p>' }],
    });
    expect(html).toContain('<h2>What the plan of <code>net&lt;work&gt;</code> changes</h2>');
    expect(html.indexOf('Plan: 1 to add')).toBeLessThan(html.indexOf('<form'));
    expect(html.indexOf('<caption>Each project’s changes</caption>')).toBeLessThan(
      html.indexOf('Plan: 1 to add'),
    );
  });
});

describe('planPolicySection', () => {
  const tags: PolicyResult = {
    policy: 'tags',
    project: 'network',
    onFailure: 'warn',
    passed: true,
    violations: [
      {
        policy: 'tags',
        rule: 'warn',
        message: '<img src=x onerror=alert(1)> no owner',
        resource: 'aws_s3_bucket.logs',
      },
    ],
  };

  it('lists each plan’s warnings from its result.json, escaped, and says when one cannot be read', async () => {
    const read: string[] = [];
    const html = await planPolicySection(SUBJECT, {
      readResult: async (location) => {
        read.push(location);
        if (location.includes('network')) return Promise.resolve(jobResult({ policy: [tags] }));
        if (location.includes('app')) return Promise.reject(new Error('AccessDenied'));
        return Promise.resolve(jobResult());
      },
    });
    expect(read).toEqual([
      '/run/project-network/plan',
      '/run/project-app/plan',
      '/run/project-old/plan',
    ]);
    expect(html).toContain('<h3>Policies on <code>network</code></h3>');
    expect(html).toContain(
      '<li><strong>warn</strong> <code>aws_s3_bucket.logs</code>: &lt;img src=x onerror=alert(1)&gt; no owner</li>',
    );
    expect(html).not.toContain('<img');
    expect(html).toContain('<h3>Policies on <code>app</code></h3>');
    expect(html).not.toContain('AccessDenied');
    // `old` checked nothing: nothing to say of it.
    expect(html).not.toContain('<code>old</code>');
  });

  it('shows nothing for a destroy, or without a store to read from', async () => {
    const readResult = async () => Promise.resolve(jobResult({ policy: [tags] }));
    expect(await planPolicySection({ ...SUBJECT, kind: 'destroy' }, { readResult })).toBe('');
    expect(await planPolicySection(SUBJECT, undefined)).toBe('');
  });

  it('puts the section on the confirmation page after the counts and before the form', async () => {
    const policies = await planPolicySection(SUBJECT, {
      readResult: async () => Promise.resolve(jobResult({ policy: [tags] })),
    });
    const html = renderConfirmationPage({
      record: {
        id: 'a',
        runId: 'r',
        environment: 'prod',
        projectDir: 'infra',
        commit: 'c'.repeat(40),
        planSha256: 'b'.repeat(64),
        requestedAt: '2030-01-01T00:00:00.000Z',
        expiresAt: '2030-01-01T01:00:00.000Z',
        status: 'pending',
        subject: SUBJECT,
      },
      action: 'approve',
      link: { id: 'a', action: 'approve', expires: '1', sig: 's' },
      postUrl: '/approvals/a',
      policies,
    });
    const section = html.indexOf('<h2>Policy checks</h2>');
    expect(section).toBeGreaterThan(html.indexOf('<caption>Each project’s changes</caption>'));
    expect(section).toBeLessThan(html.indexOf('<form'));
  });
});
