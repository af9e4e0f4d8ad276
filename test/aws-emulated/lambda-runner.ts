// One Lambda invocation, as the Node.js runtime would make it: imports the function's bundle
// from cdk.out (argv: the bundle file and the handler's export name) in a fresh process whose
// environment is the function's, calls the handler with the event read from stdin, and writes
// `{ result }` or `{ errorType, errorMessage }` to file descriptor 3 (stdout is the function's
// log). GitHub's API is the one outside service the functions call: with a third argument, its
// requests go to that URL instead of https://api.github.com (the harness's fake GitHub).
import { randomUUID } from 'node:crypto';
import { writeSync } from 'node:fs';
import { text } from 'node:stream/consumers';
import { pathToFileURL } from 'node:url';

const [bundleFile, handlerName, githubUrl] = process.argv.slice(2);
if (!bundleFile || !handlerName)
  throw new Error('usage: lambda-runner BUNDLE HANDLER [GITHUB_URL]');

if (githubUrl) {
  const realFetch = globalThis.fetch;
  globalThis.fetch = (input: string | URL | Request, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    if (!url.startsWith('https://api.github.com/')) return realFetch(input, init);
    const redirected = `${githubUrl.replace(/\/+$/, '')}/${url.slice('https://api.github.com/'.length)}`;
    return input instanceof Request
      ? realFetch(new Request(redirected, input), init)
      : realFetch(redirected, init);
  };
}

function answer(value: unknown): void {
  writeSync(3, JSON.stringify(value));
}

const event: unknown = JSON.parse(await text(process.stdin));
const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'function';
const context = {
  functionName,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION ?? 'us-east-1'}:123456789012:function:${functionName}`,
  memoryLimitInMB: '256',
  awsRequestId: randomUUID(),
  logGroupName: `/aws/lambda/${functionName}`,
  logStreamName: 'emulated',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 60_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
};
try {
  const bundle = (await import(pathToFileURL(bundleFile).href)) as Record<string, unknown>;
  const handler = bundle[handlerName];
  if (typeof handler !== 'function') throw new Error(`${bundleFile} exports no ${handlerName}`);
  const result: unknown = await (handler as (e: unknown, c: unknown) => Promise<unknown>)(
    event,
    context,
  );
  answer({ result: result ?? null });
} catch (error) {
  const { name, message } =
    error instanceof Error ? error : { name: 'Error', message: String(error) };
  answer({ errorType: name, errorMessage: message });
}
