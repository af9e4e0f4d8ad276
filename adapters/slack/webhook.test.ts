import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { rejection } from '../../test/support/caught.ts';
import { NotificationFailed } from '../../core/errors.ts';
import type { SecretPort } from '../../core/ports.ts';
import { RecordingServer } from '../../test/support/recording-server.ts';
import { SlackWebhookChatPort, postEphemeral } from './webhook.ts';

const SECRET_NAME = 'stepform/slack-webhook';
const HOOK_PATH = '/services/T0001/B0002/s3cr3tW3bh00kT0k3n';
const MESSAGE = {
  text: 'plan-apply in dev: awaiting approval',
  blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'hello' } }],
};

/** A SecretPort holding one secret, counting its reads. */
function secretsWith(value: string) {
  const reads: string[] = [];
  const secrets: SecretPort = {
    get: (name) => {
      reads.push(name);
      return name === SECRET_NAME
        ? Promise.resolve(value)
        : Promise.reject(new Error(`no secret ${name}`));
    },
  };
  return { reads, secrets };
}

/** Retries at once in tests: the jitter draws zero. */
const FAST_RETRY = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5, random: () => 0 };

describe('SlackWebhookChatPort', () => {
  let server: RecordingServer;

  beforeEach(async () => {
    server = await RecordingServer.start();
  });

  afterEach(async () => {
    await server.close();
  });

  it('posts the message as JSON to the webhook, reading the URL secret only when posting', async () => {
    // Prepare
    server.route('POST', HOOK_PATH, { status: 200, body: 'ok' });
    const { reads, secrets } = secretsWith(`${server.baseUrl}${HOOK_PATH}`);
    const chat = new SlackWebhookChatPort({ secrets, secretName: SECRET_NAME, retry: FAST_RETRY });
    expect(reads).toEqual([]);

    // Act
    await chat.post(MESSAGE);

    // Assess
    expect(reads).toEqual([SECRET_NAME]);
    expect(server.requests).toHaveLength(1);
    const request = server.requests[0]!;
    expect(request.method).toBe('POST');
    expect(request.path).toBe(HOOK_PATH);
    expect(request.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(request.body).toEqual(MESSAGE);
  });

  it('sends only text when the message has no blocks', async () => {
    // Prepare
    server.route('POST', HOOK_PATH, { status: 200, body: 'ok' });
    const { secrets } = secretsWith(`${server.baseUrl}${HOOK_PATH}`);
    const chat = new SlackWebhookChatPort({ secrets, secretName: SECRET_NAME, retry: FAST_RETRY });

    // Act
    await chat.post({ text: 'just text' });

    // Assess
    expect(server.requests[0]!.body).toEqual({ text: 'just text' });
  });

  it('retries a 429, honouring its Retry-After, then succeeds', async () => {
    // Prepare
    server.route(
      'POST',
      HOOK_PATH,
      { status: 429, headers: { 'retry-after': '0' }, body: 'rate_limited' },
      { status: 200, body: 'ok' },
    );
    const { secrets } = secretsWith(`${server.baseUrl}${HOOK_PATH}`);
    const waits: number[] = [];
    const chat = new SlackWebhookChatPort({
      secrets,
      secretName: SECRET_NAME,
      retry: {
        ...FAST_RETRY,
        random: () => 0.99,
        sleep: (ms) => {
          waits.push(ms);
          return Promise.resolve();
        },
      },
    });

    // Act
    await chat.post(MESSAGE);

    // Assess: two identical posts, and the wait came from Retry-After (0), not the jitter
    expect(server.requestsTo('POST', HOOK_PATH)).toHaveLength(2);
    expect(server.requests.map((request) => request.body)).toEqual([MESSAGE, MESSAGE]);
    expect(waits).toEqual([0]);
  });

  it('throws NotificationFailed after the cap of 500s, without the URL in the message', async () => {
    // Prepare
    server.route('POST', HOOK_PATH, { status: 500, body: 'internal_error' });
    const url = `${server.baseUrl}${HOOK_PATH}`;
    const { secrets } = secretsWith(url);
    const chat = new SlackWebhookChatPort({ secrets, secretName: SECRET_NAME, retry: FAST_RETRY });

    // Act
    const error = await rejection(chat.post(MESSAGE));

    // Assess
    expect(server.requests).toHaveLength(3);
    expect(error).toBeInstanceOf(NotificationFailed);
    const message = (error as Error).message;
    expect(message).toBe('Slack webhook failed after 3 attempts: HTTP 500 internal_error');
    expect(message).not.toContain(url);
    expect(message).not.toContain('s3cr3t');
    expect(JSON.stringify(error)).not.toContain('s3cr3t');
  });

  it('does not retry a 4xx such as a removed webhook', async () => {
    // Prepare
    server.route('POST', HOOK_PATH, { status: 404, body: 'no_service' });
    const { secrets } = secretsWith(`${server.baseUrl}${HOOK_PATH}`);
    const chat = new SlackWebhookChatPort({ secrets, secretName: SECRET_NAME, retry: FAST_RETRY });

    // Act
    const error = await rejection(chat.post(MESSAGE));

    // Assess
    expect(server.requests).toHaveLength(1);
    expect((error as Error).message).toBe(
      'Slack webhook failed after 1 attempt: HTTP 404 no_service',
    );
  });

  it('keeps the URL out of the message when the server cannot be reached', async () => {
    // Prepare: a port nobody listens on any more
    const url = `${server.baseUrl}${HOOK_PATH}`;
    await server.close();
    const { secrets } = secretsWith(url);
    const chat = new SlackWebhookChatPort({ secrets, secretName: SECRET_NAME, retry: FAST_RETRY });

    // Act
    const error = await rejection(chat.post(MESSAGE));
    server = await RecordingServer.start();

    // Assess
    expect(error).toBeInstanceOf(NotificationFailed);
    const message = (error as Error).message;
    expect(message).toMatch(/^Slack webhook failed after 3 attempts: network error/);
    expect(message).not.toContain(HOOK_PATH);
    expect(message).not.toContain('s3cr3t');
  });

  it.each([
    ['not a URL', `not a url ${HOOK_PATH}`],
    ['plain http to a remote host', `http://hooks.slack.example${HOOK_PATH}`],
  ])('refuses a secret that is %s, without quoting it', async (_name, value) => {
    // Prepare
    const { secrets } = secretsWith(value);
    const chat = new SlackWebhookChatPort({ secrets, secretName: SECRET_NAME, retry: FAST_RETRY });

    // Act
    const error = await rejection(chat.post(MESSAGE));

    // Assess
    expect(error).toBeInstanceOf(NotificationFailed);
    expect((error as Error).message).not.toContain('s3cr3t');
    expect(server.requests).toHaveLength(0);
  });

  it('reports a secret that cannot be read by its name only', async () => {
    // Prepare
    const { secrets } = secretsWith('unused');
    const chat = new SlackWebhookChatPort({ secrets, secretName: 'missing', retry: FAST_RETRY });

    // Act
    const error = await rejection(chat.post(MESSAGE));

    // Assess
    expect(error).toBeInstanceOf(NotificationFailed);
    expect((error as Error).message).toBe('Slack: the webhook secret "missing" could not be read');
  });
});

describe('postEphemeral (an answer to a Slack click)', () => {
  let server: RecordingServer;

  beforeEach(async () => {
    server = await RecordingServer.start();
  });

  afterEach(async () => {
    await server.close();
  });

  it('posts the message to the response_url as one only the user who clicked sees', async () => {
    server.route('POST', '/actions/T0001/1/abc', { status: 200, body: 'ok' });

    await postEphemeral(`${server.baseUrl}/actions/T0001/1/abc`, MESSAGE, { retry: FAST_RETRY });

    expect(server.requests.map((r) => r.body)).toEqual([
      { response_type: 'ephemeral', replace_original: false, ...MESSAGE },
    ]);
  });

  it('refuses a response_url that is not https (or http on loopback), sending nothing', async () => {
    const error = await rejection(
      postEphemeral('http://slack.example/actions/1', MESSAGE, { retry: FAST_RETRY }),
    );

    expect(error).toBeInstanceOf(NotificationFailed);
    expect((error as Error).message).toBe('the Slack response_url is not an https URL');
  });

  it('says which URL failed, after its retries', async () => {
    server.route('POST', '/actions/gone', { status: 404, body: 'expired_url' });

    const error = await rejection(
      postEphemeral(`${server.baseUrl}/actions/gone`, MESSAGE, { retry: FAST_RETRY }),
    );

    expect((error as Error).message).toBe(
      'Slack response_url failed after 1 attempt: HTTP 404 expired_url',
    );
  });
});
