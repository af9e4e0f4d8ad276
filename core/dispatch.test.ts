import { describe, expect, it } from '@jest/globals';
import { caught } from '../test/support/caught.ts';
import { InvalidInput, NotificationFailed } from './errors.ts';
import {
  type AfterApplyEntry,
  CLIENT_PAYLOAD_MAX_BYTES,
  CLIENT_PAYLOAD_MAX_KEYS,
  type DispatchProject,
  dispatchAfterApply,
  dispatchPayload,
} from './dispatch.ts';
import type { CodeHostPort } from './ports.ts';

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const RUN = { environment: 'dev', commit: COMMIT, runId: 'run-1', repository: 'acme/infra' };
const ENTRY: AfterApplyEntry = {
  dispatch: { repository: 'acme/app', event_type: 'infra-applied' },
};

const PROJECTS: DispatchProject[] = [
  {
    name: 'network',
    dir: 'infra/network',
    outputs: {
      vpc_id: { sensitive: false, value: 'vpc-123' },
      subnets: { sensitive: false, value: ['a', 'b'] },
    },
  },
  {
    name: 'app',
    dir: 'infra/app',
    outputs: {
      url: { sensitive: false, value: 'https://app.example.com' },
      db_password: { sensitive: true, value: 'hunter2-secret' },
    },
  },
];

const jsonBytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;

describe('dispatchPayload', () => {
  it('names the target, the run, every project and the outputs that are not sensitive', () => {
    // Act
    const request = dispatchPayload(ENTRY, RUN, PROJECTS);

    // Assess
    expect(request).toEqual({
      repository: 'acme/app',
      eventType: 'infra-applied',
      clientPayload: {
        environment: 'dev',
        commit: COMMIT,
        runId: 'run-1',
        repository: 'acme/infra',
        projects: ['network', 'app'],
        outputs: {
          network: { vpc_id: 'vpc-123', subnets: ['a', 'b'] },
          app: { url: 'https://app.example.com' },
        },
      },
    });
    expect(Object.keys(request.clientPayload).length).toBeLessThanOrEqual(CLIENT_PAYLOAD_MAX_KEYS);
  });

  it('leaves a sensitive output out altogether, neither its value nor its name', () => {
    // Act
    const json = JSON.stringify(dispatchPayload(ENTRY, RUN, PROJECTS));

    // Assess
    expect(json).not.toContain('hunter2');
    expect(json).not.toContain('db_password');
    expect(json).not.toContain('sensitive');
  });

  it('drops the outputs of the largest projects to stay under the limit, and says so', () => {
    // Prepare: two projects of 40 KB of outputs each, one small one
    const big = (name: string) => ({
      name,
      dir: `infra/${name}`,
      outputs: { blob: { sensitive: false, value: 'x'.repeat(40_000) } },
    });
    const projects = [
      big('a'),
      PROJECTS[0]!,
      {
        ...big('b'),
        outputs: {
          blob: { sensitive: false, value: 'y'.repeat(41_000) },
        },
      },
    ];

    // Act
    const { clientPayload } = dispatchPayload(ENTRY, RUN, projects);

    // Assess: the largest (b) is dropped, which is enough; every project is still named
    expect(jsonBytes(clientPayload)).toBeLessThanOrEqual(CLIENT_PAYLOAD_MAX_BYTES);
    expect(clientPayload.truncated).toBe(true);
    expect(clientPayload.projects).toEqual(['a', 'network', 'b']);
    expect(Object.keys(clientPayload.outputs)).toEqual(['a', 'network']);
    expect(Object.keys(clientPayload).length).toBeLessThanOrEqual(CLIENT_PAYLOAD_MAX_KEYS);
  });

  it('refuses projects that do not fit even without outputs', () => {
    // Prepare
    const projects = Array.from({ length: 1_000 }, (_, index) => ({
      name: `${'p'.repeat(80)}${index}`,
      dir: 'd',
      outputs: {},
    }));

    // Act
    const error = caught(() => dispatchPayload(ENTRY, RUN, projects));

    // Assess
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as InvalidInput).field).toBe('projects');
  });

  it('has no truncated key when everything fits', () => {
    expect(dispatchPayload(ENTRY, RUN, PROJECTS).clientPayload).not.toHaveProperty('truncated');
  });

  it.each([
    [
      'after_apply.dispatch.repository',
      { dispatch: { repository: 'app', event_type: 'e' } },
      RUN,
      PROJECTS,
    ],
    ['run.commit', ENTRY, { ...RUN, commit: 'main' }, PROJECTS],
    ['run.repository', ENTRY, { ...RUN, repository: 'x' }, PROJECTS],
    ['projects', ENTRY, RUN, [PROJECTS[0]!, PROJECTS[0]!]],
    [
      'projects.0.outputs.vpc_id.sensitive',
      ENTRY,
      RUN,
      [{ ...PROJECTS[0]!, outputs: { vpc_id: { value: 'v' } } }],
    ],
  ])('refuses a bad %s with InvalidInput', (field, entry, run, projects) => {
    // Act
    const error = caught(() => dispatchPayload(entry, run, projects as DispatchProject[]));

    // Assess
    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as InvalidInput).field).toBe(field);
  });
});

describe('dispatchAfterApply', () => {
  const SECOND: AfterApplyEntry = {
    dispatch: { repository: 'acme/docs', event_type: 'refresh' },
  };

  function fakeCodeHost(failFor: string) {
    const sent: { repository: string; eventType: string; payload: Record<string, unknown> }[] = [];
    const codeHost: Pick<CodeHostPort, 'dispatchRepositoryEvent'> = {
      dispatchRepositoryEvent: async (repository, eventType, payload) => {
        if (repository === failFor) {
          throw new NotificationFailed(
            `GitHub repository_dispatch ${eventType} to ${repository} failed after 3 attempts: HTTP 404 (Not Found)`,
          );
        }
        sent.push({ repository, eventType, payload });
        return Promise.resolve();
      },
    };
    return { codeHost, sent };
  }

  it('sends each entry and reports each', async () => {
    // Prepare
    const { codeHost, sent } = fakeCodeHost('none');

    // Act
    const reports = await dispatchAfterApply(codeHost, [ENTRY, SECOND], RUN, PROJECTS);

    // Assess
    expect(reports).toEqual([
      { repository: 'acme/app', eventType: 'infra-applied', status: 'sent' },
      { repository: 'acme/docs', eventType: 'refresh', status: 'sent' },
    ]);
    expect(sent.map((call) => `${call.repository} ${call.eventType}`)).toEqual([
      'acme/app infra-applied',
      'acme/docs refresh',
    ]);
    expect(sent[0]!.payload).toEqual(dispatchPayload(ENTRY, RUN, PROJECTS).clientPayload);
  });

  it('reports a failing entry and still sends the other, without throwing', async () => {
    // Prepare
    const { codeHost, sent } = fakeCodeHost('acme/app');

    // Act
    const reports = await dispatchAfterApply(codeHost, [ENTRY, SECOND], RUN, PROJECTS);

    // Assess
    expect(reports).toEqual([
      {
        repository: 'acme/app',
        eventType: 'infra-applied',
        status: 'failed',
        error:
          'GitHub repository_dispatch infra-applied to acme/app failed after 3 attempts: HTTP 404 (Not Found)',
      },
      { repository: 'acme/docs', eventType: 'refresh', status: 'sent' },
    ]);
    expect(sent).toHaveLength(1);
  });

  it('reports a dispatch it cannot build, and an unexpected throw, as failed', async () => {
    // Prepare
    const codeHost: Pick<CodeHostPort, 'dispatchRepositoryEvent'> = {
      dispatchRepositoryEvent: async () => Promise.reject(new TypeError('fetch failed')),
    };

    // Act
    const bad = await dispatchAfterApply(codeHost, [ENTRY], { ...RUN, commit: 'x' }, PROJECTS);
    const thrown = await dispatchAfterApply(codeHost, [ENTRY], RUN, PROJECTS);

    // Assess
    expect(bad).toEqual([
      {
        repository: 'acme/app',
        eventType: 'infra-applied',
        status: 'failed',
        error: 'run.commit: must be a full 40-character hex SHA',
      },
    ]);
    expect(thrown[0]).toMatchObject({ status: 'failed', error: 'fetch failed' });
  });

  it('says when the payload was truncated', async () => {
    // Prepare
    const { codeHost } = fakeCodeHost('none');
    const huge = [
      {
        name: 'big',
        dir: 'big',
        outputs: { blob: { sensitive: false, value: 'z'.repeat(70_000) } },
      },
    ];

    // Act
    const reports = await dispatchAfterApply(codeHost, [ENTRY], RUN, huge);

    // Assess
    expect(reports).toEqual([
      { repository: 'acme/app', eventType: 'infra-applied', status: 'sent', truncated: true },
    ]);
  });

  it('sends nothing for no entries', async () => {
    const { codeHost, sent } = fakeCodeHost('none');
    await expect(dispatchAfterApply(codeHost, [], RUN, PROJECTS)).resolves.toEqual([]);
    expect(sent).toHaveLength(0);
  });
});
