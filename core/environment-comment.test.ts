import { describe, expect, it } from '@jest/globals';
import { MASK } from './masking.ts';
import { type ResourceAction, summaryOf } from './plan-summary.ts';
import {
  type EnvironmentCommentInput,
  type ProjectCommentInput,
  environmentCommentMarker,
  renderEnvironmentComment,
} from './environment-comment.ts';
import { GITHUB_COMMENT_LIMIT, commentMarker } from './pr-comment.ts';
import { fixtureDiff, manyResources } from '../test/support/plan-fixtures.ts';

const COMMIT = '0123456789abcdef0123456789abcdef01234567';

const resource = (address: string, action: ResourceAction) => ({
  address,
  action,
  importing: false,
});

const BASE: Omit<EnvironmentCommentInput, 'projects'> = {
  workflow: 'plan',
  environment: 'dev',
  commit: COMMIT,
  runId: 'run-1',
  status: 'planned',
};

const project = (
  name: string,
  actions: readonly ResourceAction[],
  extra: Partial<ProjectCommentInput> = {},
): ProjectCommentInput => ({
  name,
  dir: `infra/${name}`,
  layer: 0,
  status: 'planned',
  summary: summaryOf(actions.map((action, index) => resource(`${name}_r.r${index}`, action))),
  ...extra,
});

/** The `####` status lines, in order. */
const statusLines = (comment: string) =>
  comment.split('\n').filter((line) => line.startsWith('#### '));

describe('environmentCommentMarker', () => {
  it('names the environment alone, apart from every per-project marker', () => {
    // Act
    const marker = environmentCommentMarker('dev');

    // Assess: the code host finds a comment by prefix, so neither may start with the other
    expect(marker).toBe('<!-- stepform:comment environment=dev -->');
    const project = commentMarker('dev', 'infra/app');
    expect(project.startsWith(marker)).toBe(false);
    expect(marker.startsWith(project)).toBe(false);
    expect(environmentCommentMarker('dev2').startsWith(marker)).toBe(false);
    expect(environmentCommentMarker('a -->b')).toBe(
      '<!-- stepform:comment environment=a%20--%3Eb -->',
    );
  });
});

describe('renderEnvironmentComment', () => {
  it('renders one project: marker, headline with totals, status line, changes folded', () => {
    // Act
    const comment = renderEnvironmentComment({
      ...BASE,
      url: 'https://example.com/runs/1',
      projects: [project('app', ['create', 'delete'], { layer: 1 })],
    });

    // Assess
    expect(comment).toBe(
      [
        '<!-- stepform:comment environment=dev -->',
        '### 📋 Stepform: planned · environment `dev` · workflow `plan` · commit `0123456` · run `run-1`',
        '',
        '**1 project**: +1 to add, ~0 to change, -1 to destroy, 0 to replace · [run details](<https://example.com/runs/1>)',
        '',
        '#### 📋 `app` · `infra/app` · layer 1 · planned · **+1 ~0 -1 · 0 to replace** ⚠️',
        '',
        '<details><summary>Resource changes (2)</summary>',
        '',
        '- **delete** `app_r.r1`',
        '- **create** `app_r.r0`',
        '',
        '</details>',
        '',
      ].join('\n'),
    );
  });

  it('puts the projects that destroy or replace first, the others in the given order', () => {
    // Act
    const comment = renderEnvironmentComment({
      ...BASE,
      projects: [
        project('network', ['create']),
        project('dns', ['update']),
        project('app', ['replace'], { layer: 1 }),
        project('db', ['delete'], { layer: 1 }),
      ],
    });

    // Assess
    expect(statusLines(comment).map((line) => /`(\w+)`/.exec(line)?.[1])).toEqual([
      'app',
      'db',
      'network',
      'dns',
    ]);
    expect(comment).toContain(
      '**4 projects**: +2 to add, ~1 to change, -2 to destroy, 1 to replace',
    );
  });

  it('says so for a project without changes, and shows a failed one’s error and no plan', () => {
    // Act
    const comment = renderEnvironmentComment({
      ...BASE,
      status: 'failed',
      projects: [
        project('network', []),
        {
          name: 'app',
          dir: 'infra/app',
          layer: 1,
          status: 'failed',
          error: `Error: bad password ${MASK}\n`,
        },
      ],
    });

    // Assess
    expect(comment).toContain(
      '#### 📋 `network` · `infra/network` · layer 0 · planned · +0 ~0 -0 · 0 to replace\n\nNo resource changes.',
    );
    expect(comment).toContain(
      '#### ❌ `app` · `infra/app` · layer 1 · failed · no plan\n\n#### Error\n\n```text\nError: bad password (sensitive value)\n```',
    );
    expect(comment).not.toContain('<details>');
  });

  it('never shows a sensitive output’s value', () => {
    // Prepare
    const summary = summaryOf(
      [resource('random_password.db', 'create')],
      [{ name: 'password', action: 'create', sensitive: true, value: MASK }],
    );

    // Act
    const comment = renderEnvironmentComment({
      ...BASE,
      projects: [{ name: 'db', dir: 'infra/db', layer: 0, status: 'planned', summary }],
    });

    // Assess
    expect(comment).not.toContain('password`');
    expect(comment).toContain('`random_password.db`');
  });

  it('escapes markdown and HTML in project names, addresses and errors', () => {
    // Prepare
    const evil = '<img src=x onerror=alert(1)>`](javascript:x)';
    const summary = summaryOf([resource(`null_resource.a["${evil}\n</details>"]`, 'delete')]);

    // Act
    const comment = renderEnvironmentComment({
      ...BASE,
      projects: [
        { name: evil, dir: 'infra/x -->', layer: 0, status: '<b>x</b>', summary },
        {
          name: 'b',
          dir: 'infra/b',
          layer: 0,
          status: 'failed',
          error: '```\n</details><script>x</script>\n````',
        },
      ],
    });

    // Assess: every value sits in a code span or fence it cannot close, one per line
    expect(comment).toContain('#### ℹ️ ``<img src=x onerror=alert(1)>`](javascript:x)`` · ');
    expect(comment).toContain('\\<b\\>x\\<\\/b\\>');
    expect(comment).toContain('\\n</details>"]`');
    expect(comment).toContain('`````text\n```\n</details><script>x</script>\n````\n`````');
    expect(comment.split('\n').filter((line) => line === '</details>')).toHaveLength(1);
    expect(comment.indexOf('-->')).toBe(comment.indexOf('\n') - 3);
  });

  it('keeps a 5,000-resource plan of several projects under the limit, naming the full plans', () => {
    // Prepare: one large project that destroys, two mid-sized, one small one
    const many = (name: string, count: number, action: ResourceAction, location: string) =>
      project(name, Array<ResourceAction>(count).fill(action), {
        artifactLocation: location,
      });
    const projects = [
      many('network', 20, 'create', 's3://artifacts/run-1/network/plan.json'),
      many('app', 3_000, 'delete', 's3://artifacts/run-1/app/plan.json'),
      many('db', 1_000, 'update', 's3://artifacts/run-1/db/plan.json'),
      many('cache', 980, 'create', 's3://artifacts/run-1/cache/plan.json'),
    ].map((entry) => ({
      ...entry,
      summary: summaryOf(
        entry.summary!.resources.map((change) => ({
          ...change,
          address: `module.${entry.name}.aws_instance.server_with_a_long_name["${change.address}"]`,
        })),
      ),
    }));

    // Act
    const comment = renderEnvironmentComment({ ...BASE, projects });

    // Assess: the headline and every status line stay; the small list whole, the big ones cut
    expect(comment.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    expect(comment.length).toBeGreaterThan(GITHUB_COMMENT_LIMIT - 5_000);
    expect(comment).toContain('**4 projects**: +1000 to add, ~1000 to change, -3000 to destroy');
    expect(statusLines(comment)).toHaveLength(4);
    expect(statusLines(comment)[0]).toContain('`app`');
    expect(comment).toContain('Some projects’ changes are cut');
    expect(comment).toContain('<summary>Resource changes (20)</summary>');
    expect(comment).not.toContain('network/plan.json');
    for (const name of ['app', 'db', 'cache']) {
      expect(comment).toMatch(
        new RegExp(
          `> \\*\\*\\d+ more resources not shown\\*\\*; full plan: \`s3://artifacts/run-1/${name}/plan.json\``,
        ),
      );
    }
    // The biggest list loses the most.
    const shown = (name: string) =>
      comment.split('\n').filter((line) => line.startsWith(`- **`) && line.includes(`.${name}.`))
        .length;
    expect(shown('network')).toBe(20);
    expect(shown('app')).toBeGreaterThan(0);
    expect(shown('app')).toBeLessThan(3_000 - 1_000);
    expect(Math.abs(shown('db') - shown('app'))).toBeLessThan(20);
  });

  it('shares the room for errors among failed projects, and keeps every status line', () => {
    // Prepare: 20 failed projects, each with a long error and a long plan
    const projects = Array.from({ length: 20 }, (_, index) =>
      project(`p${index}`, Array<ResourceAction>(500).fill('update'), {
        status: 'failed',
        error: `${'x'.repeat(50_000)}\nError: p${index} broke`,
      }),
    );

    // Act
    const comment = renderEnvironmentComment({ ...BASE, status: 'failed', projects });

    // Assess: each error's end is kept (where Terraform puts the error)
    expect(comment.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    expect(statusLines(comment).filter((line) => line.includes('layer 0'))).toHaveLength(20);
    for (let index = 0; index < 20; index++) expect(comment).toContain(`Error: p${index} broke`);
  });

  it('names the run’s artifacts when a cut project has no artifact location', () => {
    // Act
    const comment = renderEnvironmentComment({
      ...BASE,
      projects: [project('app', Array<ResourceAction>(5_000).fill('create'))],
    });

    // Assess
    expect(comment.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    expect(comment).toMatch(
      /more resources not shown\*\*; the full plan is in the run’s artifacts/,
    );
  });
});

describe('renderEnvironmentComment with the plans’ diffs', () => {
  it('shows each project’s diff under its status line, and its applied outputs', () => {
    const comment = renderEnvironmentComment({
      ...BASE,
      status: 'applied',
      projects: [
        project('network', ['update'], {
          status: 'applied',
          diff: fixtureDiff('update-nested'),
          appliedOutputs: { cidr: { sensitive: false, value: '10.0.0.0/16' } },
        }),
        project('db', ['replace'], { diff: fixtureDiff('replace') }),
      ],
    });
    // The project that replaces something comes first.
    expect(comment.indexOf('`db`')).toBeLessThan(comment.indexOf('`network`'));
    expect(comment).toContain('<code>terraform_data.db</code> must be replaced');
    expect(comment).toContain('"app:1.0" -> "app:1.1"');
    expect(comment).toContain('##### Outputs (applied)');
    expect(comment).toContain('- `cidr` = `"10.0.0.0/16"`');
  });

  it('cuts the largest diff to stay under GitHub’s limit, keeping the small ones whole', () => {
    const comment = renderEnvironmentComment({
      ...BASE,
      projects: [
        project('big', ['update'], {
          diff: manyResources('update-nested', 3000),
          artifactLocation: '/run-1/project-big/plan',
        }),
        project('small', ['replace'], { diff: fixtureDiff('replace') }),
      ],
    });
    expect(comment.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    expect(comment.length).toBeGreaterThan(GITHUB_COMMENT_LIMIT - 5000);
    expect(comment).toContain('Some projects’ changes are cut');
    expect(comment).toContain('`/run-1/project-big/plan`');
    expect(comment).toContain('<code>time_static.rotated</code> must be replaced');
    expect(comment.split('<details>').length).toBe(comment.split('</details>').length);
  });
});

describe('the environment comment with policy checks', () => {
  const warned = (name: string, count: number, length: number): ProjectCommentInput['policy'] => ({
    kind: 'sets',
    results: [
      {
        policy: 'tags',
        project: name,
        onFailure: 'warn',
        passed: true,
        violations: Array.from({ length: count }, (_, i) => ({
          policy: 'tags',
          rule: 'warn' as const,
          message: `${'m'.repeat(length)} ${i}`,
          resource: `aws_s3_bucket.b${i}`,
        })),
      },
    ],
  });

  it('shows a project’s checks under its status line, before its changes', () => {
    const comment = renderEnvironmentComment({
      ...BASE,
      projects: [project('app', ['create'], { policy: warned('app', 1, 5) })],
    });
    const status = comment.indexOf('#### 📋 `app`');
    const policy = comment.indexOf(
      '##### Policy checks\n\n- ⚠️ `tags`: passed with warnings\n  - **warn** `aws_s3_bucket.b0`: mmmmm 0',
    );
    expect(status).toBeGreaterThan(0);
    expect(policy).toBeGreaterThan(status);
    expect(comment.indexOf('<details><summary>Resource changes')).toBeGreaterThan(policy);
  });

  it('keeps every project’s verdicts within GitHub’s limit, however many violations', () => {
    const projects = Array.from({ length: 25 }, (_, i) =>
      project(
        `p${i}`,
        manyResources('create', 200).resources.map(() => 'create' as const),
        {
          policy: warned(`p${i}`, 10, 300),
        },
      ),
    );
    const comment = renderEnvironmentComment({ ...BASE, projects });
    expect(comment.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    expect(comment.match(/- ⚠️ `tags`: passed with warnings/g)).toHaveLength(25);
    expect(comment).toContain(
      'policy lines not shown; every violation is in the plan job’s result.json',
    );
  });
});
