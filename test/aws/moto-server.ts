// A real moto server (an AWS-compatible endpoint from PyPI, pinned in
// toolchain/python-requirements.txt) for the AWS adapter tests: started on loopback on a free
// port, waited for with a bounded poll, and stopped by the test that started it.
//
// moto_server handles requests on threads and does not serialize its DynamoDB backend, so two
// conditional writes to one item that arrive together can both pass their condition (seen: both
// racing approval decisions returned true, in 2 of 8 runs of this suite). DynamoDB itself applies
// the writes to an item one at a time, atomically with their conditions. So by default the
// server is moto_server's own entry point (moto.server.main, the same -H/-p arguments) with each
// request handled under one lock: the clients still race, the server behaves like DynamoDB, and
// a write without its condition would still let both racers win.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { CreateStateMachineCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { ensurePythonTools, pythonToolPath } from '../../toolchain/python-tools.ts';

export interface MotoServer {
  /** `http://127.0.0.1:<port>`: the endpoint every SDK client of the test is given. */
  readonly endpoint: string;
  readonly port: number;
  /** What SDK clients need besides the endpoint: a region and dummy credentials. */
  readonly clientConfig: {
    endpoint: string;
    region: 'us-east-1';
    credentials: { accessKeyId: string; secretAccessKey: string };
  };
  /** Stops the server (SIGTERM, then SIGKILL after a few seconds) and waits for it to exit. */
  readonly stop: () => Promise<void>;
}

/** moto.server.main with the request dispatcher wrapped in a process-wide lock. */
const SERIALIZED_MOTO_SERVER = [
  'import sys, threading',
  'import moto.server',
  'from moto.moto_server.werkzeug_app import DomainDispatcherApplication',
  'lock = threading.Lock()',
  'dispatch = DomainDispatcherApplication.__call__',
  'def serialized(self, environ, start_response):',
  '    with lock:',
  '        return dispatch(self, environ, start_response)',
  'DomainDispatcherApplication.__call__ = serialized',
  'moto.server.main(sys.argv[1:])',
].join('\n');

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        if (port === 0) reject(new Error('no free port on 127.0.0.1'));
        else resolve(port);
      });
    });
  });
}

const sleep = async (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

async function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      resolve(false);
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Installs the Python tools if needed, then starts moto's server on 127.0.0.1 and a free port
 * (`moto_server -H 127.0.0.1 -p <port>`, requests serialized unless `serialized: false`) and
 * polls `/moto-api/` until it answers (at most `readyTimeoutMs`). Throws with the server's
 * output when it exits or does not answer in time.
 */
export async function startMotoServer(
  options: {
    readyTimeoutMs?: number;
    serialized?: boolean;
    log?: (line: string) => void;
    /** A Python file to run instead (it ends by calling moto.server.main with its arguments). */
    launcher?: string;
    /** More environment for the server (it gets MOTO_PORT, the port it serves, too). */
    env?: Record<string, string>;
  } = {},
): Promise<MotoServer> {
  await ensurePythonTools(process.env, options.log ?? (() => {}));
  const [command, prefix] = options.launcher
    ? [pythonToolPath(process.env, 'python'), [options.launcher]]
    : options.serialized === false
      ? [pythonToolPath(process.env, 'moto_server'), []]
      : [pythonToolPath(process.env, 'python'), ['-c', SERIALIZED_MOTO_SERVER]];
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;

  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const child = spawn(command, [...prefix, '-H', '127.0.0.1', '-p', String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // No AWS settings of the developer's shell reach the server.
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        LANG: 'C.UTF-8',
        ...options.env,
        // moto's ASL interpreter calls its own server at localhost:MOTO_PORT.
        MOTO_PORT: String(port),
      },
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-8_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);

    const endpoint = `http://127.0.0.1:${port}`;
    const stop = async () => {
      if (await exited(child, 0)) return;
      child.kill('SIGTERM');
      if (await exited(child, 5_000)) return;
      child.kill('SIGKILL');
      await exited(child, 5_000);
    };

    const deadline = Date.now() + readyTimeoutMs;
    let ready = false;
    while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
      try {
        const response = await fetch(`${endpoint}/moto-api/`, {
          signal: AbortSignal.timeout(2_000),
        });
        await response.arrayBuffer();
        if (response.ok) {
          ready = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    if (ready) {
      return {
        endpoint,
        port,
        clientConfig: {
          endpoint,
          region: 'us-east-1',
          credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
        },
        stop,
      };
    }
    await stop();
    // The port may have been taken between freePort and the bind: try once more.
    if (attempt >= 2 || !/address already in use/i.test(output)) {
      throw new Error(
        `moto_server did not answer on ${endpoint} within ${readyTimeoutMs} ms:\n${output}`,
      );
    }
  }
}

/**
 * A state machine on moto whose executions wait an hour (moto without its interpreter runs
 * nothing anyway): something to start, describe, list and stop. Its ARN.
 */
export async function waitingStateMachine(sfn: SFNClient, name: string): Promise<string> {
  const created = await sfn.send(
    new CreateStateMachineCommand({
      name,
      roleArn: 'arn:aws:iam::123456789012:role/stepform',
      definition: JSON.stringify({
        StartAt: 'Wait',
        States: { Wait: { Type: 'Wait', Seconds: 3600, End: true } },
      }),
    }),
  );
  return created.stateMachineArn ?? '';
}
