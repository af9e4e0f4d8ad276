// The run console in a real browser: a real `stepform serve` over a scratch repository with
// real OpenTofu runs (one applied, one waiting for its approval), driven by Chromium through
// playwright-core. A reader lists the runs, opens the waiting one, reads what it would change,
// approves it through the signed confirmation page and watches it finish; no page ever holds
// the canary secret. Screenshots of each page go to test-output/screenshots/ (and, with
// STEPFORM_UPDATE_SCREENSHOTS=1, the run page to docs/images/ for the README).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { CHROMIUM_PATH } from '../../toolchain/chromium.ts';
import {
  PROJECT,
  type RunningCli,
  type Workspace,
  expectExitZero,
  helloWorkspace,
  parseJson,
  startApplyAwaitingApproval,
  waitFor,
} from '../support/cli.ts';
import { REPO_ROOT } from '../support/repo.ts';

/** The hello example's sensitive variable, given through TF_VAR_: no page may show it. */
const CANARY = `canary-${randomBytes(12).toString('hex')}`;
const SCREENSHOTS = join(REPO_ROOT, 'test-output', 'screenshots');
const README_PICTURE = join(REPO_ROOT, 'docs', 'images', 'run-page.png');
/** Without these Chromium waits on connections this closed network never answers. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let ws: Workspace | undefined;
let serve: RunningCli;
let base: string;
let appliedRun: string;
let waiting: { cli: RunningCli; runId: string };
let profile: string | undefined;
let browser: BrowserContext | undefined;
let page: Page;
/** Every page's HTML the browser was shown, to look for the canary in. */
const shown: string[] = [];
/** What the browser refused or failed to run (CSP violations, script errors). */
const problems: string[] = [];

async function keep(name: string): Promise<void> {
  shown.push(await page.content());
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  ws = await helloWorkspace({ env: { TF_VAR_secret: CANARY } });
  // An applied run, and beside it an ephemeral environment whose TTL schedules its destroy.
  const [applied, ephemeral] = await Promise.all([
    ws.cli(['apply', '--dir', PROJECT, '--env', 'dev', '--auto-approve', '--json']),
    ws.cli(['ephemeral', '--dir', PROJECT, '--env', 'pr-7', '--ttl', '2h', '--json']),
  ]);
  expectExitZero(applied);
  expectExitZero(ephemeral);
  appliedRun = (parseJson(applied) as { runId: string }).runId;
  // The next commit changes a terraform_data's input: its plan shows the old and new value.
  const main = readFileSync(join(ws.repo.dir, PROJECT, 'main.tf'), 'utf8');
  await ws.repo.commitFiles(
    { [`${PROJECT}/main.tf`]: main.replace('default     = "hello"', 'default     = "howdy"') },
    'greet differently',
  );
  serve = ws.start(['serve', '--port', '0']);
  const port = await waitFor(
    () => `serve listening; stderr so far:\n${serve.stderr()}`,
    () => /approvals on http:\/\/127\.0\.0\.1:(\d+)/.exec(serve.stdout())?.[1],
    30_000,
  );
  base = `http://127.0.0.1:${port}`;
  waiting = await startApplyAwaitingApproval(ws, 'dev');
  profile = mkdtempSync(join(tmpdir(), 'stepform-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
  page = await browser.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
}, 300_000);

afterAll(async () => {
  // Whatever set-up got to: a failure there shows as itself, not as a failure here.
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  ws?.close();
});

describe('the run console', () => {
  it('lists both runs, each linked to its page, and filters them', async () => {
    await page.goto(`${base}/`);
    await page.locator(`tr[data-run="${waiting.runId}"]`).waitFor();
    await page.locator(`tr[data-run="${appliedRun}"]`).waitFor();
    expect(await page.locator(`tr[data-run="${appliedRun}"] .status`).textContent()).toBe(
      'succeeded',
    );
    expect(await page.locator(`tr[data-run="${waiting.runId}"] .status`).textContent()).toBe(
      'running',
    );
    await keep('runs-list');

    // The filters are a plain form: labelled selects, the choice kept in the query.
    await page.getByLabel('Status').selectOption('running');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/status=running/);
    expect(await page.locator('tr[data-run]').count()).toBe(1);
    await page.getByRole('link', { name: waiting.runId }).click();
    await page.waitForURL(`${base}/runs/${waiting.runId}`);
  }, 120_000);

  it('shows the waiting run: its graph, its plan diff, old and new value, and approval links', async () => {
    await page.locator('#approval .button.approve').waitFor();
    expect(await page.locator('g[data-state="RequestApproval"]').getAttribute('data-outcome')).toBe(
      'running',
    );
    expect(await page.locator('g[data-state="PrepareRun"]').getAttribute('data-outcome')).toBe(
      'succeeded',
    );
    expect(await page.locator('g[data-state="ApplyLayer"]').getAttribute('data-outcome')).toBe(
      'not-reached',
    );
    const update = page.locator('.plan tr.plan-update', { hasText: 'input' }).first();
    const cells = await update.locator('td').allTextContents();
    expect(cells.join(' | ')).toContain('hello, world');
    expect(cells.join(' | ')).toContain('howdy, world');
    expect(cells.findIndex((c) => c.includes('hello, world'))).toBeLessThan(
      cells.findIndex((c) => c.includes('howdy, world')),
    );
    // The plan job's log is on the page.
    await page.locator('pre[data-log="plan"]', { hasText: 'plan' }).waitFor();
    await keep('run-page-waiting');
  }, 120_000);

  it('shows the environments: the waiting run’s lock, the TTL schedule, the last good commit', async () => {
    await page.getByRole('link', { name: 'Environments' }).click();
    await page.waitForURL(`${base}/environments`);
    const locks = page.locator('table', { hasText: 'Locks held now' });
    expect(await locks.locator('tbody tr').first().textContent()).toContain(waiting.runId);
    const schedules = page.locator('table', { hasText: 'Destroys scheduled by a TTL' });
    expect(await schedules.locator('tbody tr').first().textContent()).toContain('pr-7');
    const good = page.locator('table', { hasText: 'The last commit applied' });
    expect(await good.locator('tbody').textContent()).toContain(appliedRun);
    await keep('environments');
    await page.getByRole('link', { name: waiting.runId }).first().click();
    await page.waitForURL(`${base}/runs/${waiting.runId}`);
  }, 60_000);

  it('approves through the signed confirmation page and watches the run finish', async () => {
    // By keyboard: Tab to the Approve link (its focus ring shows), Enter follows it.
    let focused = '';
    for (let i = 0; i < 20 && focused !== 'Approve'; i += 1) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate<string>('document.activeElement?.textContent ?? ""');
    }
    expect(focused).toBe('Approve');
    expect(
      await page.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle'),
    ).not.toBe('none');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/approvals\/[A-Za-z0-9_-]+\?action=approve/);
    await page.getByRole('button', { name: 'Approve' }).waitFor();
    await keep('approval-page');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('heading', { name: 'Decision recorded' }).waitFor();
    shown.push(await page.content());

    // Back on the run page, the live updates bring the end without a reload.
    await page.goto(`${base}/runs/${waiting.runId}`);
    await page.evaluate('window.notReloaded = true');
    await page.locator('#summary .status-succeeded').waitFor({ timeout: 180_000 });
    expect(await page.evaluate<boolean>('window.notReloaded === true')).toBe(true);
    expect(await page.locator('#summary .phase').textContent()).toBe('applied');
    await page.locator('g[data-state="OutcomeApplied"][data-outcome="succeeded"]').waitFor();
    expect(await page.locator('g[data-state="OutcomeRejected"]').getAttribute('data-outcome')).toBe(
      'not-reached',
    );
    expect(await page.locator('#approval').textContent()).toContain('Approval approved');
    await page.locator('pre[data-log="apply"]').waitFor();
    await keep('run-page');
    // The README's picture: the top of the page (its summary and workflow graph).
    const top = join(SCREENSHOTS, 'run-page-top.png');
    await page.screenshot({
      path: top,
      fullPage: true,
      clip: { x: 0, y: 0, width: 1280, height: 1700 },
    });
    if (process.env.STEPFORM_UPDATE_SCREENSHOTS === '1') copyFileSync(top, README_PICTURE);

    const ended = await waiting.cli.done;
    expectExitZero(ended);
    expect((parseJson(ended) as { status: string }).status).toBe('succeeded');
  }, 300_000);

  it('shows no lock once the run ended, and reads on a phone', async () => {
    await page.goto(`${base}/environments`);
    await page.getByText('No lock is held.').waitFor();
    const good = page.locator('table', { hasText: 'The last commit applied' });
    expect(await good.locator('tbody').textContent()).toContain(waiting.runId);
    shown.push(await page.content());
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/`);
    await page.locator(`tr[data-run="${waiting.runId}"]`).waitFor();
    // The page itself never scrolls sideways: only the table in its wrapper does.
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(
      390,
    );
    await keep('runs-list-phone');
    await page.goto(`${base}/runs/${waiting.runId}`);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(
      390,
    );
    await keep('run-page-phone');
  }, 60_000);

  it('never shows the secret, and the browser refused nothing', () => {
    expect(shown.length).toBeGreaterThanOrEqual(7);
    for (const html of shown) expect(html).not.toContain(CANARY);
    expect(problems).toEqual([]);
  });
});
