import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { caught } from '../test/support/caught.ts';
import { PLAN_FIXTURES, fixtureDiff, manyResources } from '../test/support/plan-fixtures.ts';
import { InvalidInput } from './errors.ts';
import {
  PLAN_DIFF_MODEL,
  type PlanDiff,
  planDiff,
  renderPlanHtml,
  renderPlanMarkdown,
  renderPlanText,
} from './plan-diff.ts';
import { parseInput } from './validation.ts';

const CASES = readdirSync(PLAN_FIXTURES).filter((name) =>
  existsSync(join(PLAN_FIXTURES, name, 'plan.json')),
);
/** UPDATE_GOLDEN=1 writes the renderings instead of comparing them. */
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const MARKDOWN_BUDGET = 60_000;

const renderings = (diff: PlanDiff) => ({
  'plan.txt': renderPlanText(diff, { color: false }),
  'plan.md': renderPlanMarkdown(diff, { maxChars: MARKDOWN_BUDGET }),
  'plan.html': renderPlanHtml(diff),
});

describe('golden renderings of real plans', () => {
  it('has every case the fixtures promise', () => {
    expect(CASES).toEqual(
      expect.arrayContaining([
        'create',
        'delete',
        'import',
        'moved',
        'replace',
        'sensitive',
        'unknown',
        'update-nested',
      ]),
    );
  });

  it.each(CASES)('%s renders as its golden files', (name) => {
    for (const [file, text] of Object.entries(renderings(fixtureDiff(name)))) {
      const golden = join(PLAN_FIXTURES, name, file);
      if (UPDATE) writeFileSync(golden, text);
      expect(text).toBe(readFileSync(golden, 'utf8'));
    }
  });
});

describe('sensitive values', () => {
  const CANARIES = ['CANARY-s3cr3t-1234', 'CANARY-before-5678'];

  it('never reach any rendering nor the model, though the plan holds them', () => {
    const raw = readFileSync(join(PLAN_FIXTURES, 'sensitive', 'plan.json'), 'utf8');
    for (const canary of CANARIES) expect(raw).toContain(canary);
    const diff = planDiff(JSON.parse(raw));
    const outputs = [
      JSON.stringify(diff),
      ...Object.values(renderings(diff)),
      renderPlanText(diff, { color: true }),
    ];
    for (const text of outputs) {
      expect(text).not.toContain('CANARY');
      expect(text).not.toContain('s3cr3t');
    }
  });

  it('hides an unmarked copy of a sensitive value, as terraform_data.output is', () => {
    const diff = fixtureDiff('sensitive');
    expect(renderPlanText(diff, { color: false })).toContain(
      '- password = (sensitive value) -> null',
    );
  });

  it('does not show even the length of a sensitive value', () => {
    const plan = (secret: string) => ({
      resource_changes: [
        {
          address: 'a.b',
          change: {
            actions: ['create'],
            before: null,
            after: { secret },
            after_unknown: {},
            before_sensitive: false,
            after_sensitive: { secret: true },
          },
        },
      ],
    });
    const short = renderings(planDiff(plan('x')));
    const long = renderings(planDiff(plan('x'.repeat(500))));
    expect(long).toEqual(short);
  });
});

describe('renderPlanText', () => {
  it('colours only when asked', () => {
    const diff = fixtureDiff('replace');
    expect(renderPlanText(diff, { color: false })).not.toContain('\x1b[');
    const colored = renderPlanText(diff, { color: true });
    expect(colored).toContain('\x1b[31m-\x1b[0m/\x1b[32m+\x1b[0m resource');
    const plain = ['0', '31', '32', '33', '36'].reduce(
      (text, code) => text.replaceAll(`\x1b[${code}m`, ''),
      colored,
    );
    expect(plain).toBe(renderPlanText(diff, { color: false }));
  });

  it('cuts at a resource boundary when given a budget', () => {
    const diff = fixtureDiff('create');
    const full = renderPlanText(diff, { color: false });
    const cut = renderPlanText(diff, { color: false, maxChars: 600 });
    expect(cut.length).toBeLessThanOrEqual(600);
    expect(cut).toContain('# terraform_data.web will be created');
    expect(cut).not.toContain('time_static.created');
    expect(cut).toContain('1 resource change and the output changes not shown');
    expect(cut).toContain('Plan: 2 to add');
    expect(renderPlanText(diff, { color: false, maxChars: full.length })).toBe(full);
  });
});

describe('renderPlanMarkdown', () => {
  const diff = fixtureDiff('create');
  const full = renderPlanMarkdown(diff, { maxChars: MARKDOWN_BUDGET });

  it('cuts at a resource boundary and says how many were left out', () => {
    const budget = full.indexOf('<details><summary><code>time_static') + 80;
    const cut = renderPlanMarkdown(diff, { maxChars: budget });
    expect(cut.length).toBeLessThanOrEqual(budget);
    expect(cut).toContain('terraform_data.web');
    expect(cut).not.toContain('time_static.created');
    expect(cut.match(/<details>/g)).toHaveLength(cut.match(/<\/details>/g)?.length ?? 0);
    expect(cut).toContain('_1 resource change and the output changes not shown');
  });

  it('leaves out every resource rather than cut one in half', () => {
    const cut = renderPlanMarkdown(diff, { maxChars: 200 });
    expect(cut.length).toBeLessThanOrEqual(200);
    expect(cut).not.toContain('<details>');
    expect(cut).toContain('2 resource changes and the output changes not shown');
  });

  it('keeps a value holding backticks inside its fence', () => {
    const text = renderPlanMarkdown(
      planDiff({
        resource_changes: [
          { address: 'a.b', change: { actions: ['create'], after: { v: '```\n<b>x</b>' } } },
        ],
      }),
      { maxChars: MARKDOWN_BUDGET },
    );
    expect(text).toContain('````diff');
  });
});

describe('a plan larger than its budget', () => {
  /**
   * The plan of `count` resources, and which of them a rendering rendered: read their attribute
   * changes (the plan's line only counts their actions).
   */
  function counted(count: number) {
    const read = new Set<number>();
    const one = fixtureDiff('update-nested');
    const resources = manyResources('update-nested', count).resources.map(
      (resource, i) =>
        new Proxy(resource, {
          get(target, key, receiver) {
            if (key === 'attributes') read.add(i);
            return Reflect.get(target, key, receiver) as unknown;
          },
        }),
    );
    return { diff: { ...one, resources }, read };
  }

  it.each([
    ['markdown', (diff: PlanDiff) => renderPlanMarkdown(diff, { maxChars: 20_000 })],
    ['HTML', (diff: PlanDiff) => renderPlanHtml(diff, { maxChars: 20_000 })],
    ['text', (diff: PlanDiff) => renderPlanText(diff, { color: false, maxChars: 20_000 })],
  ])('renders in %s only the resources it shows, and one more', (_, render) => {
    const { diff, read } = counted(5000);
    const text = render(diff);
    expect(text.length).toBeLessThanOrEqual(20_000);
    const left = Number(
      /(\d+) resource changes? (and the output changes )?not shown/.exec(text)?.[1],
    );
    const shown = 5000 - left;
    expect(shown).toBeGreaterThan(0);
    expect(read.size).toBe(shown + 1);
    expect(text).toMatch(/\d+ resource changes? (and the output changes )?not shown/);
  });

  it('renders the same text as when every resource is rendered first', () => {
    const { diff } = counted(300);
    const whole = renderPlanMarkdown(diff, { maxChars: Number.MAX_SAFE_INTEGER });
    const cut = renderPlanMarkdown(diff, { maxChars: 20_000 });
    // What was shown is the whole rendering's start, cut at a resource, then the note.
    const [shownPart] = cut.split('\n_');
    expect(whole.startsWith(shownPart!.trimEnd())).toBe(true);
  });
});

describe('renderPlanHtml', () => {
  it('escapes addresses and values', () => {
    const html = renderPlanHtml(
      planDiff({
        resource_changes: [
          {
            address: 'a.b["<script>"]',
            change: { actions: ['create'], after: { v: '<img src=x onerror=alert(1)>' } },
          },
        ],
      }),
    );
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).toContain('a.b[&quot;&lt;script&gt;&quot;]');
  });
});

/** One resource change, for the hand-written cases. */
function onlyResource(change: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const diff = planDiff({ resource_changes: [{ address: 'x.y', change, ...extra }] });
  expect(diff.resources).toHaveLength(1);
  return diff.resources[0]!;
}

describe('planDiff', () => {
  it('reads an empty plan as no changes', () => {
    const diff = planDiff({ format_version: '1.2' });
    expect(diff).toEqual({ resources: [], outputs: [] });
    expect(renderPlanText(diff, { color: false })).toBe(
      'No changes. Your infrastructure matches the configuration.\n',
    );
    expect(renderPlanMarkdown(diff, { maxChars: 1000 })).toContain('No changes.');
    expect(renderPlanHtml(diff)).toContain('No changes.');
  });

  it('leaves out no-op resources and outputs', () => {
    const same = { actions: ['no-op'], before: { a: 1 }, after: { a: 1 } };
    const diff = planDiff({
      resource_changes: [{ address: 'x.y', change: same }],
      output_changes: { o: { actions: ['no-op'], before: 1, after: 1 } },
    });
    expect(diff).toEqual({ resources: [], outputs: [] });
  });

  it('marks an unknown element inside a list', () => {
    const resource = onlyResource({
      actions: ['update'],
      before: { list: ['a', 'b'] },
      after: { list: ['a', null] },
      after_unknown: { list: [false, true] },
      before_sensitive: {},
      after_sensitive: {},
    });
    expect(resource.attributes.entries).toEqual([
      {
        key: 'list',
        change: 'update',
        forcesReplacement: false,
        nested: {
          kind: 'list',
          unchanged: 1,
          entries: [
            {
              key: 1,
              change: 'update',
              forcesReplacement: false,
              before: { kind: 'value', json: '"b"' },
              after: { kind: 'unknown' },
            },
          ],
        },
      },
    ]);
  });

  it('hides a wholly sensitive object without walking into it', () => {
    const resource = onlyResource({
      actions: ['update'],
      before: { creds: { user: 'u1', key: 'k1' } },
      after: { creds: { user: 'u2', key: 'k2' } },
      before_sensitive: { creds: true },
      after_sensitive: { creds: true },
    });
    expect(resource.attributes.entries).toEqual([
      {
        key: 'creds',
        change: 'update',
        forcesReplacement: false,
        before: { kind: 'sensitive' },
        after: { kind: 'sensitive' },
      },
    ]);
    const text = renderPlanText({ resources: [resource], outputs: [] }, { color: false });
    expect(text).toContain('~ creds = (sensitive value)');
    expect(text).not.toMatch(/u1|u2|k1|k2/);
  });

  it('shows null → value as added and value → null as removed', () => {
    const resource = onlyResource({
      actions: ['update'],
      before: { comes: null, goes: 'old', object: null },
      after: { comes: 'new', goes: null, object: { a: 1 } },
    });
    expect(resource.attributes.entries.map((e) => [e.key, e.change])).toEqual([
      ['comes', 'add'],
      ['goes', 'remove'],
      ['object', 'add'],
    ]);
    const text = renderPlanText({ resources: [resource], outputs: [] }, { color: false });
    expect(text).toContain('+ comes  = "new"');
    expect(text).toContain('- goes   = "old" -> null');
    expect(text).toContain('+ object = {\n      + a = 1\n    }');
  });

  it('walks a changed object of a list instead of replacing it whole', () => {
    const resource = onlyResource({
      actions: ['update'],
      before: {
        rules: [
          { port: 80, cidr: 'a' },
          { port: 443, cidr: 'b' },
        ],
      },
      after: {
        rules: [
          { port: 80, cidr: 'a' },
          { port: 443, cidr: 'c' },
          { port: 22, cidr: 'd' },
        ],
      },
    });
    const text = renderPlanText({ resources: [resource], outputs: [] }, { color: false });
    expect(text).toContain('~ cidr = "b" -> "c"');
    expect(text).toContain('# (1 unchanged attribute hidden)');
    expect(text).toContain('+ {\n          + cidr = "d"\n          + port = 22\n        },');
    expect(text).toContain('# (1 unchanged element hidden)');
  });

  it('shows a moved or imported resource even when nothing else changes', () => {
    const same = { actions: ['no-op'], before: { a: 1 }, after: { a: 1 } };
    const diff = planDiff({
      resource_changes: [
        { address: 'x.new', previous_address: 'x.older', change: same },
        {
          address: 'x.both',
          previous_address: 'x.was',
          change: { ...same, actions: ['update'], after: { a: 2 } },
        },
        { address: 'x.imp', change: { ...same, importing: { id: 'i-1' } } },
      ],
    });
    expect(diff.resources.map((r) => [r.address, r.action, r.previousAddress, r.importId])).toEqual(
      [
        ['x.both', 'update', 'x.was', undefined],
        ['x.imp', 'no-op', undefined, 'i-1'],
        ['x.new', 'no-op', 'x.older', undefined],
      ],
    );
    const markdown = renderPlanMarkdown(diff, { maxChars: 10_000 });
    expect(markdown).toContain('<summary><code>x.older</code> has moved to x.new</summary>');
    expect(markdown).toContain('<summary><code>x.imp</code> will be imported</summary>');
    expect(renderPlanText(diff, { color: false })).toContain(
      '# x.both will be updated in-place\n# (moved from x.was)\n~ x.both {',
    );
    expect(renderPlanHtml(diff)).toContain('<p>(import id &quot;i-1&quot;)</p>');
    expect(fixtureDiff('moved').resources[0]?.previousAddress).toBe('terraform_data.old_name');
  });

  it('orders destroys and replaces first, then the rest, each by address', () => {
    const change = (...actions: string[]) => ({ actions, before: { a: 1 }, after: { a: 2 } });
    const diff = planDiff({
      resource_changes: [
        { address: 'a.create', change: change('create') },
        { address: 'b.delete', change: change('delete') },
        { address: 'a.update', change: change('update') },
        { address: 'a.replace', change: change('create', 'delete') },
      ],
    });
    expect(diff.resources.map((r) => r.address)).toEqual([
      'a.replace',
      'b.delete',
      'a.create',
      'a.update',
    ]);
    expect(diff.resources[0]?.createBeforeDestroy).toBe(true);
  });

  it('marks reads, forgets and create-before-destroy replaces as Terraform does', () => {
    const diff = planDiff({
      resource_changes: [
        {
          address: 'data.d.x',
          mode: 'data',
          type: 'd',
          name: 'x',
          change: { actions: ['read'], before: null, after: {}, after_unknown: { id: true } },
        },
        { address: 'f.x', change: { actions: ['forget'], before: { a: 1 }, after: null } },
        {
          address: 'r.x',
          change: { actions: ['create', 'delete'], before: { a: 1 }, after: { a: 2 } },
        },
      ],
    });
    const text = renderPlanText(diff, { color: false });
    expect(text).toContain('+/- r.x {');
    expect(text).toContain('# data.d.x will be read during apply\n<= data "d" "x" {');
    expect(text).toContain('+ id = (known after apply)');
    expect(text).toContain(
      '# f.x will no longer be managed by Terraform (not destroyed)\n. f.x {}',
    );
  });

  it('names forcing attributes by path', () => {
    const resource = onlyResource({
      actions: ['delete', 'create'],
      before: { tags: { 'a b': '1' }, list: ['x'] },
      after: { tags: { 'a b': '2' }, list: ['y'] },
      replace_paths: [
        ['tags', 'a b'],
        ['list', 0],
      ],
    });
    expect(resource.replacePaths).toEqual(['tags["a b"]', 'list[0]']);
    const text = renderPlanText({ resources: [resource], outputs: [] }, { color: false });
    expect(text).toContain('~ "a b" = "1" -> "2" # forces replacement');
  });

  it('masks sensitive and unknown outputs', () => {
    const diff = planDiff({
      output_changes: {
        secret: { actions: ['create'], after: 'hush', after_sensitive: true, after_unknown: false },
        later: { actions: ['create'], after_unknown: true },
      },
    });
    const text = renderPlanText(diff, { color: false });
    expect(text).toContain('+ later  = (known after apply)');
    expect(text).toContain('+ secret = (sensitive value)');
    expect(text).not.toContain('hush');
  });

  it('names the bad field of input that is not a plan', () => {
    const caught = (input: unknown) => {
      try {
        planDiff(input);
      } catch (error) {
        return error;
      }
      throw new Error('no error');
    };
    const error = caught({ resource_changes: [{ address: 'x.y', change: { actions: 'create' } }] });
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as InvalidInput).field).toBe('plan.resource_changes.0.change.actions');
    expect((caught('not a plan') as InvalidInput).field).toBe('plan');
  });
});

describe('PLAN_DIFF_MODEL', () => {
  it('reads back every fixture’s model as written, and names a bad field', () => {
    for (const name of CASES) {
      const diff = fixtureDiff(name);
      expect(parseInput(PLAN_DIFF_MODEL, JSON.parse(JSON.stringify(diff)), 'diff')).toEqual(diff);
    }
    const error = caught(() =>
      parseInput(PLAN_DIFF_MODEL, { resources: [{ address: 1 }], outputs: [] }, 'diff'),
    );
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as InvalidInput).field).toBe('diff.resources.0.address');
  });
});
