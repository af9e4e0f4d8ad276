// The console's routes on a real `stepform serve` HTTP server over a real engine home: bad
// requests refused with the field named, its headers, its approval links (the run's own signed
// links), and its event streams.
import { afterEach, describe, expect, it } from '@jest/globals';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyApprovalLink } from '../../core/approval.ts';
import { LOG_FILE } from '../../core/contracts/job-result.ts';
import {
  type Started,
  addApproval,
  request,
  startApprovalServer,
  stopServers,
} from '../../test/support/approval-server.ts';
import { CONSOLE_CSP, consoleApprovalLinks } from './server.ts';

afterEach(async () => {
  await stopServers();
});

/** Reads server-sent events from a stream until `enough` says so. */
async function readEvents(
  url: string,
  enough: (events: { event: string; data: unknown }[]) => boolean,
  onOpen: () => void = () => {},
): Promise<{ event: string; data: unknown }[]> {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  onOpen();
  const events: { event: string; data: unknown }[] = [];
  const decoder = new TextDecoder();
  let buffered = '';
  const timeout = setTimeout(() => controller.abort(), 10_000);
  const body = response.body as unknown as AsyncIterable<Uint8Array>;
  try {
    for await (const chunk of body) {
      buffered += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event !== undefined && data !== undefined)
          events.push({ event, data: JSON.parse(data) as unknown });
      }
      if (enough(events)) break;
    }
  } finally {
    clearTimeout(timeout);
    controller.abort();
  }
  return events;
}

async function started(approvers?: string[]): Promise<Started> {
  return startApprovalServer({ pollMs: 50, ...(approvers ? { approvers } : {}) });
}

describe('the console’s routes', () => {
  it('answers its pages with a CSP of self only, and serves its script and styles', async () => {
    const s = await started();
    for (const path of ['/', '/environments', '/?status=running&environment=']) {
      const reply = await request(`${s.base}${path}`);
      expect(reply.status).toBe(200);
      expect(reply.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
      expect(reply.headers.get('x-frame-options')).toBe('DENY');
      expect(reply.headers.get('cache-control')).toBe('no-store');
    }
    const script = await request(`${s.base}/console.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.body).toContain('new EventSource');
    const styles = await request(`${s.base}/console.css`);
    expect(styles.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await request(`${s.base}/favicon.ico`)).status).toBe(204);
    // The rest is the approval endpoint's, as before.
    expect((await request(`${s.base}/healthz`)).body).toBe('ok\n');
    expect((await request(`${s.base}/nowhere`)).status).toBe(404);
  });

  it('refuses a bad filter or run id, naming the field; an unknown run is a 404', async () => {
    const s = await started();
    const status = await request(`${s.base}/?status=exploded`);
    expect(status.status).toBe(400);
    expect(status.body).toContain('query.status:');
    const twice = await request(`${s.base}/?status=failed&status=running`);
    expect(twice.status).toBe(400);
    expect(twice.body).toContain('query.status: is given more than once');
    const id = await request(`${s.base}/runs/${encodeURIComponent('../etc')}`);
    expect(id.status).toBe(400);
    expect(id.body).toContain('runId:');
    const missing = await request(`${s.base}/runs/20990101T000000Z-000000`);
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('no run 20990101T000000Z-000000');
  });

  it('links a waiting run to its approval page with the run’s own signed links, one pair per approver', async () => {
    const s = await started(['alice', 'bob']);
    const row = await addApproval(s.engine);
    const page = await request(`${s.base}/runs/${row.runId}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Approve as alice');
    expect(page.body).toContain('Reject as bob');

    const run = s.engine.stores.runs.get(row.runId)!;
    const links = consoleApprovalLinks(
      run,
      row,
      { signingKey: s.engine.signingKey, approvers: ['alice', 'bob'] },
      new Date(),
    );
    expect(links.map((l) => l.approver)).toEqual(['alice', 'bob']);
    const approve = new URL(links[0]!.approve, s.base);
    expect(approve.pathname).toBe(`/approvals/${row.id}`);
    expect(
      verifyApprovalLink(
        { id: row.id, ...Object.fromEntries(approve.searchParams) },
        s.engine.signingKey,
        new Date(),
      ),
    ).toMatchObject({ action: 'approve', approver: 'alice' });
    // It leads to the confirmation page, which decides nothing by itself.
    const confirm = await request(approve.toString());
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain('Deciding as');
    expect(s.engine.stores.approvals.forRun(row.runId)?.status).toBe('pending');

    // No link once the approval is decided, expired, or the run has ended.
    expect(consoleApprovalLinks(run, { ...row, status: 'approved' }, s.engine, new Date())).toEqual(
      [],
    );
    expect(
      consoleApprovalLinks(run, row, s.engine, new Date(Date.parse(row.expiresAt) + 1000)),
    ).toEqual([]);
    expect(consoleApprovalLinks({ ...run, status: 'failed' }, row, s.engine, new Date())).toEqual(
      [],
    );
    // Without a list, one bare pair.
    expect(consoleApprovalLinks(run, row, s.engine, new Date()).map((l) => l.approver)).toEqual([
      undefined,
    ]);
  });

  it('tells the lists of each change over /events', async () => {
    const s = await started();
    const events = await readEvents(
      `${s.base}/events`,
      (seen) => seen.length >= 2,
      () => {
        setTimeout(() => void addApproval(s.engine), 200);
      },
    );
    // The first at once (whatever changed since the page was served), then the new run.
    expect(events).toEqual([
      { event: 'change', data: {} },
      { event: 'change', data: {} },
    ]);
  });

  it('streams a run’s job log: what there is first, then what is added', async () => {
    const s = await started();
    const row = await addApproval(s.engine);
    const folder = join(s.engine.home.artifacts, row.runId, 'plan');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, LOG_FILE), 'line one\n');
    const events = await readEvents(
      `${s.base}/runs/${row.runId}/events`,
      (seen) => seen.filter((e) => e.event === 'log').length >= 2,
      () => {
        setTimeout(() => appendFileSync(join(folder, LOG_FILE), 'line <two> é\n'), 200);
      },
    );
    expect(events.filter((e) => e.event === 'log').map((e) => e.data)).toEqual([
      { name: 'plan', text: 'line one\n', reset: true },
      { name: 'plan', text: 'line <two> é\n', reset: false },
    ]);
    expect(events[0]).toEqual({ event: 'change', data: {} });
  });
});
