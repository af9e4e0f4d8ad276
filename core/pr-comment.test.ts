import { describe, expect, it } from '@jest/globals';
import { type ResourceAction, summaryOf } from './plan-summary.ts';
import { fixtureDiff, manyResources } from '../test/support/plan-fixtures.ts';
import {
  GITHUB_COMMENT_LIMIT,
  type PrCommentInput,
  codeSpan,
  commentMarker,
  markdownText,
  renderPrComment,
} from './pr-comment.ts';

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const MARKER = '<!-- stepform:comment environment=dev project=terraform/examples/hello -->';

const resource = (address: string, action: ResourceAction, importing = false) => ({
  address,
  action,
  importing,
});

const BASE: PrCommentInput = {
  workflow: 'plan',
  environment: 'dev',
  projectDir: 'terraform/examples/hello',
  commit: COMMIT,
  runId: 'run-1',
  status: 'planned',
};

/** The position of a line in the comment, or -1. */
const lineIndex = (comment: string, line: string) => comment.split('\n').indexOf(line);

describe('commentMarker', () => {
  it('names the environment and the project', () => {
    expect(commentMarker('dev', 'terraform/examples/hello')).toBe(MARKER);
  });

  it('cannot be ended or split by odd names', () => {
    // Act
    const marker = commentMarker('a -->b', 'x y/<z>');

    // Assess
    expect(marker).toBe('<!-- stepform:comment environment=a%20--%3Eb project=x%20y/%3Cz%3E -->');
    expect(marker.indexOf('-->')).toBe(marker.length - 3);
  });
});

describe('codeSpan', () => {
  it.each([
    ['aws_instance.web', '`aws_instance.web`'],
    ['a`b', '``a`b``'],
    ['`a', '`` `a ``'],
    ['a``b`', '``` a``b` ```'],
    [' a ', '`  a  `'],
    ['a\nb', '`a\\nb`'],
    ['', '(empty)'],
  ])('shows %j literally as %s', (text, expected) => {
    expect(codeSpan(text)).toBe(expected);
  });
});

describe('markdownText', () => {
  it('escapes punctuation, so nothing becomes markup', () => {
    expect(markdownText('rolled_back <b>*x*</b> [a](b)')).toBe(
      'rolled\\_back \\<b\\>\\*x\\*\\<\\/b\\> \\[a\\]\\(b\\)',
    );
  });
});

describe('renderPrComment', () => {
  it('says who decided the approval, under its header', () => {
    const comment = renderPrComment({ ...BASE, decision: 'Approved by alice via the CLI' });
    expect(comment).toContain(`${MARKER}\n### `);
    expect(comment).toMatch(/\n\nApproved by alice via the CLI\n/);
    // With the plan's diff too, before it.
    const withDiff = renderPrComment({
      ...BASE,
      decision: 'Approved by alice via the CLI',
      diff: fixtureDiff('update-nested'),
    });
    expect(withDiff).toMatch(/\n\nApproved by alice via the CLI\n[\s\S]*#### Plan/);
  });

  it('renders a plan: header, table, destroys visible, other changes folded, outputs', () => {
    // Prepare
    const summary = summaryOf(
      [
        resource('time_static.created', 'create'),
        resource('time_static.deleted', 'delete'),
        resource('time_static.updated', 'update'),
        resource('time_static.replaced', 'replace'),
        resource('time_static.imported', 'no-op', true),
      ],
      [
        { name: 'plain', action: 'create', sensitive: false, value: 'hello' },
        { name: 'secret', action: 'update', sensitive: true, value: '(sensitive value)' },
        { name: 'later', action: 'create', sensitive: false },
        { name: 'gone', action: 'delete', sensitive: false },
      ],
    );

    // Act
    const comment = renderPrComment({ ...BASE, summary, url: 'https://example.com/runs/1' });

    // Assess
    expect(comment).toBe(
      [
        MARKER,
        '### 📋 Stepform: planned · environment `dev` · project `terraform/examples/hello` · commit `0123456`',
        '',
        '| add | change | destroy | replace | import |',
        '| ---: | ---: | ---: | ---: | ---: |',
        '| +2 | ~1 | -2 | 1 | 1 |',
        '',
        '#### Destroy and replace (2)',
        '',
        '- **delete** `time_static.deleted`',
        '- **replace** `time_static.replaced`',
        '',
        '<details><summary>Other changes (3)</summary>',
        '',
        '- **create** `time_static.created`',
        '- **update** `time_static.updated`',
        '- **import** `time_static.imported`',
        '',
        '</details>',
        '',
        '#### Outputs',
        '',
        '- `plain` = `"hello"`',
        '- `secret` = \\(sensitive value\\)',
        '- `later` = \\(known after apply\\)',
        '- `gone` \\(removed\\)',
        '',
        '<sub>Stepform · workflow `plan` · run `run-1` · [run details](<https://example.com/runs/1>)</sub>',
        '',
      ].join('\n'),
    );
  });

  it('shows the mask, never the value, of a sensitive output', () => {
    // Prepare: even a value that was wrongly left unmasked
    const summary = summaryOf(
      [],
      [{ name: 'password', action: 'create', sensitive: true, value: 'hunter2-secret' }],
    );

    // Act
    const comment = renderPrComment({ ...BASE, summary });

    // Assess
    expect(comment).not.toContain('hunter2');
    expect(comment).toContain('- `password` = \\(sensitive value\\)');
    expect(comment).toContain('No resource changes.');
  });

  it('keeps hostile resource addresses inside code spans', () => {
    // Prepare
    const addresses = [
      'module.x["a`b"].aws_instance.y[0]',
      'aws_s3_bucket.b["<script>alert(1)</script>"]',
      'aws_iam_role.r["*_bold_*"]',
      'null_resource.n["</details>\n\n# heading"]',
      'null_resource.n["``"]',
    ];
    const summary = summaryOf(addresses.map((address) => resource(address, 'delete')));

    // Act
    const comment = renderPrComment({ ...BASE, summary });

    // Assess
    expect(comment).toContain('- **delete** ``module.x["a`b"].aws_instance.y[0]``');
    expect(comment).toContain('- **delete** `aws_s3_bucket.b["<script>alert(1)</script>"]`');
    expect(comment).toContain('- **delete** `aws_iam_role.r["*_bold_*"]`');
    expect(comment).toContain('- **delete** `null_resource.n["</details>\\n\\n# heading"]`');
    expect(comment).toContain('- **delete** ```null_resource.n["``"]```');
    expect(lineIndex(comment, '# heading')).toBe(-1);
    expect(comment.match(/<\/details>/g)).toHaveLength(1);
  });

  it('shows the error of a failed run in a fence that the error cannot close', () => {
    // Prepare
    const error = '\u001b[31mError:\u001b[0m bad\n```\n<b>not html</b>\n````';

    // Act
    const comment = renderPrComment({ ...BASE, status: 'failed', error });

    // Assess
    expect(comment).toContain(
      ['#### Error', '', '`````text', 'Error: bad', '```', '<b>not html</b>', '````', '`````'].join(
        '\n',
      ),
    );
    expect(comment.startsWith(`${MARKER}\n### ❌ Stepform: failed`)).toBe(true);
  });

  it('cuts a long error, keeping its end', () => {
    // Act
    const comment = renderPrComment({
      ...BASE,
      status: 'failed',
      error: `${'x'.repeat(50_000)}\nError: the real cause`,
    });

    // Assess
    expect(comment.length).toBeLessThan(11_000);
    expect(comment).toContain('Error: the real cause');
  });

  it('does not link a URL that is not http(s)', () => {
    const comment = renderPrComment({ ...BASE, url: 'javascript:alert(1)' });
    expect(comment).toContain('run details: `javascript:alert(1)`');
    expect(comment).not.toContain('](');
  });

  it('keeps a plan of 5,000 mixed resources under the limit, with every destroy', () => {
    // Prepare
    const actions: ResourceAction[] = ['create', 'update', 'create', 'delete', 'read'];
    const resources = Array.from({ length: 5_000 }, (_, i) =>
      resource(
        `module.app.aws_instance.server["node_${i}"]`,
        actions[i % actions.length]!,
        i % 7 === 0,
      ),
    );
    resources[10] = resource('aws_db_instance.main', 'replace');
    const summary = summaryOf(resources);
    const destroys = resources.filter((r) => r.action === 'delete' || r.action === 'replace');

    // Act
    const comment = renderPrComment({
      ...BASE,
      summary,
      artifactLocation: 's3://stepform-artifacts/run-1/plan.txt',
    });

    // Assess
    expect(comment.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    expect(comment.startsWith(`${MARKER}\n`)).toBe(true);
    expect(comment).toContain(`| +${summary.add} | ~${summary.change} | -${summary.destroy} |`);
    expect(destroys).toHaveLength(1_001);
    for (const destroyed of destroys) {
      expect(comment).toContain(`** \`${destroyed.address}\`\n`);
    }
    const shown = comment.split('\n').filter((line) => line.startsWith('- **')).length;
    expect(shown).toBeGreaterThan(1_001);
    expect(comment).toContain(
      `> **${5_000 - shown} more resources not shown**; full plan: \`s3://stepform-artifacts/run-1/plan.txt\``,
    );
    expect(comment.indexOf('#### Destroy and replace (1001)')).toBeLessThan(
      comment.indexOf('<details>'),
    );
    expect(comment).toContain('</details>');
    expect(comment.length).toBeGreaterThan(GITHUB_COMMENT_LIMIT - 200);
  });

  it('keeps 20,000 destroys under the limit, with the note', () => {
    // Prepare
    const resources = Array.from({ length: 20_000 }, (_, i) =>
      resource(`aws_instance.doomed[${i}]`, 'delete'),
    );

    // Act
    const comment = renderPrComment({
      ...BASE,
      status: 'applied',
      summary: summaryOf(resources),
      artifactLocation: 's3://bucket/run-1/plan.txt',
    });

    // Assess
    expect(comment.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    expect(comment.startsWith(`${MARKER}\n`)).toBe(true);
    expect(comment).toContain('| +0 | ~0 | -20000 | 0 | 0 |');
    expect(comment).toContain('#### Destroy and replace (20000)');
    expect(comment).toContain('- **delete** `aws_instance.doomed[0]`');
    expect(comment).not.toContain('<details>');
    const shown = comment.split('\n').filter((line) => line.startsWith('- **delete**')).length;
    expect(comment).toContain(
      `> **${20_000 - shown} more resources not shown**; full plan: \`s3://bucket/run-1/plan.txt\``,
    );
  });

  it('says where the full plan is even without an artifact location', () => {
    // Prepare
    const resources = Array.from({ length: 5_000 }, (_, i) =>
      resource(`aws_instance.x[${i}]`, 'create'),
    );

    // Act
    const comment = renderPrComment({ ...BASE, summary: summaryOf(resources) });

    // Assess
    expect(comment.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    expect(comment).toMatch(
      /> \*\*\d+ more resources not shown\*\*; the full plan is in the run’s artifacts\n/,
    );
  });

  it('stays under the limit whatever the outputs', () => {
    // Prepare
    const outputs = Array.from({ length: 500 }, (_, i) => ({
      name: `out_${i}`,
      action: 'create' as const,
      sensitive: false,
      value: 'v'.repeat(10_000),
    }));
    const resources = Array.from({ length: 3_000 }, (_, i) =>
      resource(`aws_instance.y[${i}]`, 'delete'),
    );

    // Act
    const comment = renderPrComment({ ...BASE, summary: summaryOf(resources, outputs) });

    // Assess
    expect(comment.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    expect(comment).toContain('- 450 more outputs not shown');
    expect(comment).toContain('more resources not shown');
  });
});

describe('renderPrComment with the plan’s diff', () => {
  it('shows each resource in a <details> block with a diff fence, destroys first', () => {
    const comment = renderPrComment({
      ...BASE,
      summary: summaryOf([resource('terraform_data.app', 'update')]),
      diff: fixtureDiff('update-nested'),
    });
    expect(comment).toContain('#### Plan');
    expect(comment).toContain(
      '<details><summary><code>terraform_data.app</code> will be updated in-place</summary>',
    );
    expect(comment).toMatch(/```diff\n! resource "terraform_data" "app" \{/);
    expect(comment).toContain('"app:1.0" -> "app:1.1"');
    // The bare resource list is not repeated beside the diff.
    expect(comment).not.toContain('Other changes');
    const replaced = renderPrComment({ ...BASE, diff: fixtureDiff('replace') });
    expect(replaced).toContain('<code>terraform_data.db</code> must be replaced');
  });

  it('stays under GitHub’s limit with a huge plan, naming where the whole plan is', () => {
    const comment = renderPrComment({
      ...BASE,
      summary: summaryOf([resource('terraform_data.app', 'update')]),
      diff: manyResources('update-nested', 2000),
      artifactLocation: 's3://bucket/artifacts/run-1/plan',
    });
    expect(comment.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    expect(comment.length).toBeGreaterThan(GITHUB_COMMENT_LIMIT - 5000);
    expect(comment).toContain('resource changes not shown');
    expect(comment).toContain('The plan is cut to fit GitHub’s comment limit');
    expect(comment).toContain('`s3://bucket/artifacts/run-1/plan`');
    // Cut between resources: every <details> that opens, closes.
    expect(comment.split('<details>').length).toBe(comment.split('</details>').length);
    expect(comment.endsWith('</sub>\n')).toBe(true);
  });

  it('shows the outputs as applied after an apply, a sensitive one masked', () => {
    const comment = renderPrComment({
      ...BASE,
      status: 'applied',
      appliedOutputs: {
        greeting: { sensitive: false, value: 'hello, world' },
        token: { sensitive: true, value: '(sensitive)' },
      },
    });
    expect(comment).toContain('#### Outputs (applied)');
    expect(comment).toContain('- `greeting` = `"hello, world"`');
    expect(comment).toMatch(/- `token` = \\\(sensitive/);
    expect(comment).not.toContain('known after apply');
  });
});
