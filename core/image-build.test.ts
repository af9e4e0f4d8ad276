// Deciding from a build's report, and the failure message's budget (pure; the handlers against
// moto are in test/aws/image-build.test.ts).
import { describe, expect, it } from '@jest/globals';
import {
  type BuildReport,
  FAILURE_MESSAGE_LIMIT,
  buildFailureMessage,
  buildOutcome,
} from './image-build.ts';

const report = (status: string, phases: BuildReport['phases'] = []): BuildReport => ({
  id: 'project:1',
  status,
  phases,
  log: { groupName: '/stepform/build', streamName: '1' },
});

describe('buildOutcome', () => {
  it('waits while the build is in progress', () => {
    expect(buildOutcome(report('IN_PROGRESS', [{ type: 'BUILD', messages: [] }]))).toEqual({
      kind: 'running',
    });
  });

  it('succeeds on SUCCEEDED only', () => {
    expect(buildOutcome(report('SUCCEEDED'))).toEqual({ kind: 'succeeded' });
  });

  it.each(['FAILED', 'FAULT', 'STOPPED', 'TIMED_OUT'])(
    'fails on %s, naming the first phase that did not succeed',
    (status) => {
      const phases = [
        { type: 'PRE_BUILD', status: 'SUCCEEDED', messages: [] },
        { type: 'BUILD', status, messages: ['exit status 1'] },
        { type: 'POST_BUILD', status: 'SUCCEEDED', messages: [] },
        { type: 'COMPLETED', messages: [] },
      ];
      expect(buildOutcome(report(status, phases))).toEqual({
        kind: 'failed',
        status,
        phase: phases[1],
      });
    },
  );
});

describe('buildFailureMessage', () => {
  it('keeps the last log lines that fit the limit, the first line and the log location', () => {
    const build = report('FAILED');
    const lines = Array.from(
      { length: 30 },
      (_, i) => `${String(i).padStart(2, '0')} ${'x'.repeat(200)}`,
    );
    const message = buildFailureMessage(build, { kind: 'failed', status: 'FAILED' }, lines);
    expect(message.length).toBeLessThanOrEqual(FAILURE_MESSAGE_LIMIT);
    const kept = message.split('\n').filter((line) => line.endsWith('x'));
    expect(kept.length).toBeGreaterThan(5);
    expect(kept.length).toBeLessThan(30);
    expect(kept.at(-1)).toBe(lines.at(-1));
    expect(message.split('\n')[0]).toBe('executor image build project:1 FAILED');
    expect(message.split('\n').at(-1)).toBe('full log: CloudWatch Logs /stepform/build 1');
  });
});
