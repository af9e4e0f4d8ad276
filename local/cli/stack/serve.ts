// serve --stack: the run console over a deployed stack, read-only, on loopback, with the
// operator's AWS credentials. It schedules nothing and decides nothing: the stack's own
// Scheduler and approval endpoint do that, and the pages say how to decide from a terminal.
import { createServer } from 'node:http';
import { describeError } from '../../../core/errors.ts';
import { createConsole } from '../../console/server.ts';
import { renderMessagePage } from '../../console/pages.ts';
import { DEFAULT_APPROVAL_PORT } from '../../engine/local-engine.ts';
import type { Io } from '../io.ts';
import { closeServer, listenOnLoopback, untilStopped } from '../loopback-server.ts';
import type { CliValues } from '../main.ts';
import { parsePort } from '../serve.ts';
import { STACK_POLL_MS, stackConsoleSource } from './console-source.ts';
import { withStack } from './stack.ts';

export async function stackServeVerb(values: CliValues, io: Io): Promise<number> {
  const port = values.port === undefined ? DEFAULT_APPROVAL_PORT : parsePort(values.port);
  return withStack(values, io, async (stack) => {
    const by = stack.config.approvers === undefined ? '' : ' --by YOUR_NAME';
    const readOnly = {
      label: `the stack ${stack.config.name}`,
      decideCommands: (runId: string) => ({
        approve: `npx stepform approve ${runId}${by}${stack.flag}`,
        reject: `npx stepform reject ${runId}${by}${stack.flag}`,
      }),
    };
    const handler = createConsole(stackConsoleSource(stack), {
      readOnly,
      pollMs: STACK_POLL_MS,
      onError: (error) => io.err(`stepform serve: ${describeError(error).message}\n`),
    });
    const server = createServer((req, res) => {
      if (handler(req, res)) return;
      const get = req.method === 'GET' || req.method === 'HEAD';
      res
        .writeHead(get ? 404 : 405, {
          'content-type': 'text/html; charset=utf-8',
          ...(get ? {} : { allow: 'GET' }),
        })
        .end(
          get
            ? renderMessagePage('Not found', 'Nothing is here.', readOnly)
            : renderMessagePage('Read-only', 'This console changes nothing.', readOnly),
        );
    });
    const bound = await listenOnLoopback(server, port);
    io.out(
      `stepform serve: read-only console of the stack ${stack.config.name} on http://127.0.0.1:${bound} (Ctrl-C stops)\n`,
    );
    await untilStopped();
    closeServer(server);
    return 0;
  });
}
