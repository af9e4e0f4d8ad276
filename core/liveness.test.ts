import { describe, expect, it } from '@jest/globals';
import {
  HEARTBEAT_STALE_MS,
  type ProcessHolder,
  type ProcessProbe,
  isHolderGone,
} from './liveness.ts';

const NOW = new Date('2026-01-01T12:00:00.000Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();
const HOLDER: ProcessHolder = { host: 'laptop', pid: 4242, identity: '99', heartbeatAt: ago(1000) };

function check(probe: ProcessProbe, host = 'laptop') {
  const asked: [number, string | null][] = [];
  return {
    asked,
    now: NOW,
    host,
    probe: (pid: number, identity: string | null) => {
      asked.push([pid, identity]);
      return probe;
    },
  };
}

describe('isHolderGone', () => {
  it('on this host, believes the process table over a fresh or an old heartbeat', () => {
    const gone = check('gone');
    expect(isHolderGone(HOLDER, ago(5000), gone)).toBe(true);
    expect(gone.asked).toEqual([[4242, '99']]);
    const alive = check('alive');
    expect(
      isHolderGone({ ...HOLDER, heartbeatAt: ago(HEARTBEAT_STALE_MS * 10) }, ago(0), alive),
    ).toBe(false);
  });

  it('falls back on the heartbeat when the table cannot tell, or the holder is elsewhere', () => {
    expect(isHolderGone(HOLDER, ago(0), check('unknown'))).toBe(false);
    const stale = { ...HOLDER, heartbeatAt: ago(HEARTBEAT_STALE_MS + 1) };
    expect(isHolderGone(stale, ago(0), check('unknown'))).toBe(true);
    const elsewhere = check('gone', 'ci-runner');
    expect(isHolderGone(HOLDER, ago(0), elsewhere)).toBe(false);
    expect(elsewhere.asked).toEqual([]);
    expect(isHolderGone(stale, ago(0), check('alive', 'ci-runner'))).toBe(true);
  });

  it('gives a run without a holder the heartbeat window from its start', () => {
    expect(isHolderGone(undefined, ago(1000), check('alive'))).toBe(false);
    expect(isHolderGone(undefined, ago(HEARTBEAT_STALE_MS + 1), check('alive'))).toBe(true);
  });
});
