import { describe, expect, it } from '@jest/globals';
import { caught } from '../test/support/caught.ts';
import { InvalidInput } from './errors.ts';
import {
  OVERRIDE_LINKS_ACTION_ID,
  escapeMrkdwn,
  ownerLinksMessage,
  policyLine,
  SLACK_TEXT_LIMIT,
  slackMessage,
  type SlackMessageInput,
} from './slack-message.ts';

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const RUN = {
  runId: 'run-42',
  workflow: 'plan-apply',
  environment: 'prod',
  projectDir: 'terraform/examples/hello',
  commit: COMMIT,
};
const APPROVE =
  'https://approve.example.com/approvals/AAECAwQFBgcICQoLDA0ODw?action=approve&expires=1893456000&sig=abc';
const REJECT =
  'https://approve.example.com/approvals/AAECAwQFBgcICQoLDA0ODw?action=reject&expires=1893456000&sig=def';

/** Every string anywhere in a value, with the key it is under. */
function strings(value: unknown, key = ''): [string, string][] {
  if (typeof value === 'string') return [[key, value]];
  if (Array.isArray(value)) return value.flatMap((item) => strings(item, key));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([name, item]) => strings(item, name));
  }
  return [];
}

/** Every key anywhere in a value. */
function keys(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(keys);
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([name, item]) => [name, ...keys(item)]);
  }
  return [];
}

describe('slackMessage', () => {
  it('names who decided the approval, in a block and in the text', () => {
    const decision = 'Approved by alice <@U1> via Slack at 2030-01-01T12:01:00.000Z';
    const message = slackMessage({ run: RUN, phase: 'applied', decision });
    const escaped = 'Approved by alice &lt;@U1&gt; via Slack at 2030-01-01T12:01:00.000Z';
    expect(message.text).toContain(escaped);
    expect(JSON.stringify(message.blocks)).toContain(escaped);
  });

  it('says a rejection once: the decision line, not the error that repeats it', () => {
    const message = slackMessage({
      run: RUN,
      phase: 'rejected',
      error: { Error: 'ApprovalRejected', Cause: 'rejected by alice' },
      decision: 'Rejected by alice via the CLI at 2030-01-01T12:01:00.000Z',
    });
    const all = `${message.text} ${JSON.stringify(message.blocks)}`;
    expect(all.match(/rejected by alice/gi)).toHaveLength(2); // the text and the block
    expect(all).not.toContain('ApprovalRejected');
    // Without a decision line (an older notice), the error still says who.
    const bare = slackMessage({
      run: RUN,
      phase: 'rejected',
      error: { Error: 'ApprovalRejected', Cause: 'rejected by alice' },
    });
    expect(JSON.stringify(bare.blocks)).toContain('ApprovalRejected: rejected by alice');
  });

  it('builds the approval request: header, fields, counts and two link buttons', () => {
    // Act
    const message = slackMessage({
      run: RUN,
      phase: 'awaiting_approval',
      summary: { add: 2, change: 0, destroy: 1 },
      links: { approve: APPROVE, reject: REJECT },
    });

    // Assess
    expect(message).toEqual({
      text: 'plan-apply terraform/examples/hello in prod @ 0123456: awaiting approval — +2 ~0 -1 — approve or reject from the message buttons',
      blocks: [
        {
          type: 'header',
          text: { type: 'plain_text', text: '⏳ Stepform: awaiting approval', emoji: true },
        },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Workflow*\n`plan-apply`' },
            { type: 'mrkdwn', text: '*Environment*\n`prod`' },
            { type: 'mrkdwn', text: '*Project*\n`terraform/examples/hello`' },
            { type: 'mrkdwn', text: '*Commit*\n`0123456`' },
          ],
        },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: '*Plan:* `+2` to add · `~0` to change · `-1` to destroy',
          },
        },
        {
          type: 'actions',
          block_id: 'stepform_approval',
          elements: [
            {
              type: 'button',
              action_id: 'stepform_approve',
              text: { type: 'plain_text', text: 'Approve' },
              style: 'primary',
              url: APPROVE,
            },
            {
              type: 'button',
              action_id: 'stepform_reject',
              text: { type: 'plain_text', text: 'Reject' },
              style: 'danger',
              url: REJECT,
            },
          ],
        },
        {
          type: 'context',
          elements: [{ type: 'mrkdwn', text: 'Stepform · run `run-42`' }],
        },
      ],
    });
  });

  it('makes URL buttons, never interactive payloads, unless an approval id is given', () => {
    // Act
    const plain = slackMessage({
      run: RUN,
      phase: 'awaiting_approval',
      links: { approve: APPROVE, reject: REJECT },
    });
    const interactive = slackMessage({
      run: RUN,
      phase: 'awaiting_approval',
      links: { approve: APPROVE, reject: REJECT },
      approvalId: 'AAECAwQFBgcICQoLDA0ODw',
    });

    // Assess
    expect(keys(plain.blocks)).not.toContain('value');
    const actions = interactive.blocks?.find(
      (block) => (block as { type: string }).type === 'actions',
    ) as { elements: { url: string; value: string }[] };
    expect(actions.elements.map((element) => [element.url, element.value])).toEqual([
      [APPROVE, 'AAECAwQFBgcICQoLDA0ODw.approve'],
      [REJECT, 'AAECAwQFBgcICQoLDA0ODw.reject'],
    ]);
  });

  it('has no task token field anywhere, even when the input carries one', () => {
    // Prepare: a notify input as a state machine might pass it, token included
    const taskToken = 'AQCEAAAAKgAAAAMAAAAAAAAAAT+secret/task+token==';
    const input = {
      run: { ...RUN, taskToken },
      phase: 'awaiting_approval',
      links: { approve: APPROVE, reject: REJECT },
      approval: { taskToken },
      taskToken,
    } as unknown as SlackMessageInput;

    // Act
    const message = slackMessage(input);

    // Assess
    const json = JSON.stringify(message);
    expect(json).not.toContain(taskToken);
    expect(json).not.toMatch(/token/i);
    expect(keys(message).filter((key) => /token/i.test(key))).toEqual([]);
  });

  it('escapes &, < and > in every interpolated value', () => {
    // Prepare: values that would mention everyone or make links if not escaped
    const evil = '<!channel> & <https://evil.example|click>';

    // Act
    const message = slackMessage({
      run: {
        runId: `r${evil}`,
        workflow: `w${evil}`,
        environment: `e${evil}`,
        projectDir: `p${evil}`,
        commit: '<!here>0123456789',
      },
      phase: 'failed',
      error: { Error: `E${evil}`, Cause: `C${evil}` },
      schedule: { fireAt: `t${evil}` },
    });

    // Assess: no raw control character in any text, and the escapes are there
    for (const [, text] of strings(message)) {
      expect(text).not.toMatch(/[<>]/);
      expect(text).not.toMatch(/&(?!amp;|lt;|gt;)/);
    }
    const all = JSON.stringify(message);
    expect(all).toContain('&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;');
    expect(all).toContain('*Commit*\\n`&lt;!here&gt;`');
    expect(message.text).toContain('E&lt;!channel&gt;');
  });

  it('escapes with escapeMrkdwn exactly the three control characters', () => {
    expect(escapeMrkdwn('a & b < c > d "e" \'f\' *g* _h_')).toBe(
      'a &amp; b &lt; c &gt; d "e" \'f\' *g* _h_',
    );
  });

  it('shows the error in a code block cut to Slack’s 3000 characters, keeping its end', () => {
    // Prepare: a long error whose escaped form is longer still, with a backtick fence inside
    const error = `${'x&'.repeat(3_000)}\n\`\`\`\nError: the real cause at the end`;

    // Act
    const message = slackMessage({
      run: RUN,
      phase: 'failed',
      error: { Error: 'JobFailed', Cause: error },
    });

    // Assess
    const section = message.blocks?.find((block) => JSON.stringify(block).includes('*Error*')) as {
      text: { text: string };
    };
    const text = section.text.text;
    expect(text.length).toBeLessThanOrEqual(SLACK_TEXT_LIMIT);
    expect(text.length).toBeGreaterThan(SLACK_TEXT_LIMIT - 10);
    expect(text.startsWith('*Error*\n```\n…')).toBe(true);
    expect(text.endsWith('Error: the real cause at the end\n```')).toBe(true);
    // the fence inside cannot close the block, and no escape is cut in half
    expect(text.match(/```/g)).toHaveLength(2);
    expect(text.slice('*Error*\n```\n…'.length)).toMatch(/^(&amp;|x)/);
    expect(text).not.toMatch(/&(?!amp;|lt;|gt;)/);
  });

  it('shows a rollback rather than the error, keeping its beginning', () => {
    // Act
    const message = slackMessage({
      run: RUN,
      phase: 'rolled_back',
      error: { Error: 'JobFailed', Cause: 'apply failed' },
      rollback: { message: `rolled back to ${'a'.repeat(40)} ${'y'.repeat(5_000)}` },
    });

    // Assess
    const texts = strings(message.blocks).map(([, text]) => text);
    const rollback = texts.find((text) => text.startsWith('*Rollback*')) ?? '';
    expect(rollback.length).toBeLessThanOrEqual(SLACK_TEXT_LIMIT);
    expect(rollback.startsWith(`*Rollback*\n\`\`\`\nrolled back to ${'a'.repeat(40)} y`)).toBe(
      true,
    );
    expect(rollback.endsWith('…\n```')).toBe(true);
    expect(texts.some((text) => text.startsWith('*Error*'))).toBe(false);
  });

  it('always sets the plain text fallback, also without blocks of note', () => {
    // Act
    const message = slackMessage({ run: RUN, phase: 'started' });

    // Assess
    expect(message.text).toBe('plan-apply terraform/examples/hello in prod @ 0123456: started');
    expect(message.blocks).toHaveLength(3);
  });

  it('refuses button links that are not http(s), and a malformed approval id', () => {
    expect(
      (
        caught(() =>
          slackMessage({
            run: RUN,
            phase: 'awaiting_approval',
            links: { approve: 'javascript:alert(1)', reject: REJECT },
          }),
        ) as InvalidInput
      ).field,
    ).toBe('links.approve');
    expect(
      (
        caught(() =>
          slackMessage({
            run: RUN,
            phase: 'awaiting_approval',
            links: { approve: APPROVE, reject: REJECT },
            approvalId: 'a.b',
          }),
        ) as InvalidInput
      ).field,
    ).toBe('approvalId');
  });
});

describe('slackMessage of a run of projects', () => {
  const resources = (prefix: string, action: string, n: number) =>
    Array.from({ length: n }, (_, i) => ({ address: `${prefix}.r${i}`, action }));
  const network = {
    name: 'network',
    summary: {
      add: 7,
      change: 1,
      destroy: 12,
      replace: 2,
      resources: [
        ...resources('aws_subnet', 'delete', 10),
        ...resources('aws_route', 'replace', 2),
        ...resources('aws_vpc', 'create', 7),
        { address: 'aws_vpc.main', action: 'update' },
      ],
    },
  };

  it('tells each project’s counts, its destroys and replaces by address, then its first changes', () => {
    const message = slackMessage({
      run: RUN,
      phase: 'awaiting_approval',
      summary: { add: 7, change: 1, destroy: 12 },
      links: { approve: APPROVE, reject: REJECT },
      projects: [network, { name: 'dns' }],
    });
    const texts = strings(message.blocks).map(([, text]) => text);
    const section = texts.find((text) => text.startsWith('*network*')) ?? '';
    expect(section).toContain('`+7` `~1` `-12` · 2 to replace');
    expect(section).toContain(':warning: *Destroys and replaces*');
    // Ten destroys and replaces by address, the rest counted; then five changes.
    expect(section).toContain('• `aws_subnet.r0` delete');
    expect(section).toContain('• `aws_subnet.r9` delete');
    expect(section).not.toContain('aws_route.r0');
    expect(section).toContain('• … 2 more');
    expect(section).toContain('• `aws_vpc.r4` create');
    expect(section).not.toContain('aws_vpc.r5');
    expect(section).toContain('• … 3 more');
    expect(texts).toContain('*dns* · no plan');
    // The per-project counts replace the run's one line; the page is linked.
    expect(texts.some((text) => text.startsWith('*Plan:*'))).toBe(false);
    expect(texts.some((text) => text.includes(`<${APPROVE}|the approval page>`))).toBe(true);
  });

  it('stays within Block Kit’s limits with the most projects a run has', () => {
    const projects = Array.from({ length: 25 }, (_, i) => ({
      ...network,
      name: `project-${i}-${'x'.repeat(300)}`,
    }));
    const message = slackMessage({ run: RUN, phase: 'planned', projects });
    const blocks = message.blocks as unknown[];
    expect(blocks.length).toBeLessThanOrEqual(50);
    for (const [, text] of strings(blocks))
      expect(text.length).toBeLessThanOrEqual(SLACK_TEXT_LIMIT);
    expect(strings(blocks).some(([, text]) => text === '… and 5 more projects')).toBe(true);
  });

  it('escapes a project’s name and its addresses', () => {
    const message = slackMessage({
      run: RUN,
      phase: 'planned',
      projects: [
        {
          name: '<!channel>',
          summary: {
            add: 0,
            change: 0,
            destroy: 1,
            resources: [{ address: 'x.<@U1>', action: 'delete' }],
          },
        },
      ],
    });
    const all = JSON.stringify(message.blocks);
    expect(all).not.toContain('<!channel>');
    expect(all).not.toContain('<@U1>');
    expect(all).toContain('&lt;!channel&gt;');
  });
});

describe('slackMessage of a drift run', () => {
  it('names the drifted projects with their counts, then the cleared and the skipped', () => {
    const message = slackMessage({
      run: { ...RUN, workflow: 'drift' },
      phase: 'drifted',
      summary: { add: 1, change: 2, destroy: 0 },
      drift: {
        drifted: [
          { name: 'app', summary: { add: 1, change: 0, destroy: 0 } },
          { name: 'db<x>', summary: { add: 0, change: 2, destroy: 0 } },
        ],
        cleared: ['dns'],
        skipped: [{ name: 'net', reason: 'locked by run r-1' }],
        failed: [],
      },
    });
    expect(message.text).toContain('2 drifted: app (+1 ~0 -0), db&lt;x&gt; (+0 ~2 -0)');
    expect(message.text).toContain('drift cleared: dns');
    expect(message.text).toContain('skipped: net (locked by run r-1)');
    const sections = strings(message.blocks)
      .filter(([key]) => key === 'text')
      .map(([, text]) => text);
    expect(sections).toContain(
      '*:ocean: Drifted (2)*\n• *app* `+1` `~0` `-0`\n• *db&lt;x&gt;* `+0` `~2` `-0`',
    );
    expect(sections).toContain('*Drift cleared (1)*\n• *dns*');
    expect(sections).toContain('*Skipped (1)*\n• *net*: locked by run r-1');
    // The drift sections replace the run's one plan line.
    expect(sections.some((text) => text.startsWith('*Plan:*'))).toBe(false);
  });
});

describe('slackMessage with policy checks', () => {
  const set = (policy: string, onFailure: 'block' | 'warn', rules: ('deny' | 'warn')[]) => ({
    policy,
    project: 'app',
    onFailure,
    passed: !rules.includes('deny'),
    violations: rules.map((rule) => ({ policy, rule, message: `<@U123> ${rule} \`x\`` })),
  });
  const summary = { add: 1, change: 0, destroy: 0 };

  it('gives a project one compact line: each set that failed or warned with its counts, escaped', () => {
    const line = policyLine({
      kind: 'sets',
      results: [
        set('guard<!here>`rails`', 'block', ['deny', 'deny', 'warn']),
        set('tags', 'warn', ['warn']),
        set('naming', 'block', []),
      ],
    });
    expect(line).toBe(
      ':no_entry: *Policy* `guard&lt;!here&gt;ˋrailsˋ` failed, blocking (2 deny, 1 warn) · `tags` warned (0 deny, 1 warn)',
    );
    expect(policyLine({ kind: 'sets', results: [set('naming', 'block', [])] })).toBeUndefined();
  });

  it('names at most five sets and counts the rest', () => {
    const results = Array.from({ length: 8 }, (_, i) => set(`set${i}`, 'warn', ['warn']));
    const line = policyLine({ kind: 'sets', results }) ?? '';
    expect(line).toContain('`set4` warned');
    expect(line).not.toContain('set5');
    expect(line).toMatch(/ · … 3 more$/);
  });

  it('falls back to the counts and the blocking sets', () => {
    expect(
      policyLine({
        kind: 'counts',
        counts: { outcome: 'blocked', blockedBy: ['guardrails'], deny: 2, warn: 1 },
      }),
    ).toBe(':no_entry: *Policy* blocked by `guardrails` · 2 deny · 1 warn');
  });

  it('names the blocking sets and the projects they block when a policy stops the run, and only then', () => {
    const projects = [
      {
        name: 'network',
        summary,
        policy: { kind: 'sets', results: [set('guardrails', 'block', ['deny'])] } as const,
      },
      {
        name: '<app>',
        summary,
        policy: {
          kind: 'counts',
          counts: { outcome: 'blocked', blockedBy: ['guardrails'], deny: 1, warn: 0 },
        } as const,
      },
    ];
    const stopped = JSON.stringify(
      slackMessage({ run: RUN, phase: 'policy_failed', projects }).blocks,
    );
    expect(stopped).toContain(
      ':no_entry: *Blocked by policy*: nothing was applied\\n• `guardrails` blocks *network*, *&lt;app&gt;*',
    );
    // No violation's message goes to Slack: it is on the PR comment and the approval page.
    expect(stopped).not.toContain('U123');
    const planned = JSON.stringify(slackMessage({ run: RUN, phase: 'planned', projects }).blocks);
    expect(planned).not.toContain('Blocked by policy');
    expect(planned).toContain(':no_entry: *Policy* `guardrails` failed, blocking (1 deny, 0 warn)');
  });
});

describe('a policy override in Slack (issue 16)', () => {
  it('asks with one button that sends an owner their links, never approve or reject', () => {
    const message = slackMessage({
      run: RUN,
      phase: 'awaiting_policy_override',
      approvalId: 'AAECAwQFBgcICQoLDA0ODw',
    });

    const actions = (message.blocks ?? []).filter(
      (block) => (block as { type: string }).type === 'actions',
    );
    expect(actions).toEqual([
      {
        type: 'actions',
        block_id: 'stepform_override',
        elements: [
          {
            type: 'button',
            action_id: OVERRIDE_LINKS_ACTION_ID,
            text: { type: 'plain_text', text: 'Override or refuse…' },
            value: 'AAECAwQFBgcICQoLDA0ODw',
          },
        ],
      },
    ]);
    expect(message.text).toContain('an owner overrides or refuses from the message button');
  });

  it('sends an owner their own links as URL buttons, named and escaped', () => {
    const message = ownerLinksMessage({
      runId: 'run-42',
      environment: 'prod',
      owner: '<!channel> alice',
      blockedBy: ['guardrails', 'tags'],
      approve: APPROVE,
      reject: REJECT,
      expiresAt: '2030-01-01T00:00:00.000Z',
    });

    const text = JSON.stringify(message.blocks);
    expect(text).toContain('to override or refuse `guardrails`, `tags` for run `run-42` in `prod`');
    expect(text).not.toContain('<!channel>');
    expect(strings(message.blocks).filter(([key]) => key === 'url')).toEqual([
      ['url', APPROVE],
      ['url', REJECT],
    ]);
    expect(strings(message.blocks).filter(([key]) => key === 'action_id')).toEqual([
      ['action_id', 'stepform_open_page_override'],
      ['action_id', 'stepform_open_page_refuse'],
    ]);
    expect(message.text).toBe(
      'Your own links to override or refuse guardrails, tags for run run-42',
    );
  });
});
