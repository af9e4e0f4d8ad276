import { describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import { createServer, get } from 'node:http';
import { closeServer, listenOnLoopback, untilStopped } from './loopback-server.ts';

describe('listenOnLoopback and closeServer', () => {
  it('binds loopback only, gives the free port it got, and ends open streams on close', async () => {
    const server = createServer((_req, res) => {
      // An event stream that never ends by itself, as the console's do.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
    });
    const port = await listenOnLoopback(server, 0);
    expect(port).toBeGreaterThan(0);
    expect(server.address()).toMatchObject({ address: '127.0.0.1', port });
    const response = await new Promise<import('node:http').IncomingMessage>((resolve) =>
      get(`http://127.0.0.1:${port}/`, resolve),
    );
    // The stream is cut from the server's side: the client sees it aborted, then closed.
    let aborted: unknown;
    response.on('error', (error) => (aborted = error));
    const ended = new Promise((resolve) => response.on('close', resolve));
    const closed = once(server, 'close');
    closeServer(server);
    await ended;
    expect(aborted).toMatchObject({ message: 'aborted' });
    await closed;
    expect(server.listening).toBe(false);
  });
});

describe('untilStopped', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)(
    'resolves on %s and leaves no handler behind',
    async (signal) => {
      const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
      const stopped = untilStopped();
      expect(process.listenerCount(signal)).toBe(before[signal === 'SIGINT' ? 0 : 1]! + 1);
      process.emit(signal, signal);
      await stopped;
      expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before);
    },
  );
});
