// What the package's bundle gives aws-local-stepfunctions for `@aws-sdk/client-lambda` and
// `@aws-sdk/credential-providers` (toolchain/build-package.ts, localEngineStubsPlugin). The
// library imports them at its top level for one purpose: to invoke a Task state's Lambda in AWS
// when the state has no local override. The local engine (local/engine/) overrides every Task,
// so the real SDK would only cost its load on every run (~20 ms) and, were a Task ever left
// without a handler, call AWS Lambda with whatever credentials the machine has. This stub is
// what the library gets instead: constructing a client throws LocalTaskUnhandled. Only imports
// from aws-local-stepfunctions resolve here; our own adapters get the real SDK.
//
// It exports exactly the names the library imports (build/main.node.esm.js).
import { LocalTaskUnhandled } from '../../core/errors.ts';

const MESSAGE =
  'a Task state of the local engine had no local handler: the local engine never invokes AWS Lambda';

/** The library's `new AWSLambdaClient(...)`: refused. */
export class LambdaClient {
  constructor() {
    throw new LocalTaskUnhandled(MESSAGE);
  }

  /** The real client's call; never reached, as the constructor refuses first. */
  send(): never {
    throw new LocalTaskUnhandled(MESSAGE);
  }
}

/** The library's `new InvokeCommand({ FunctionName, Payload })`: refused like the client. */
export class InvokeCommand {
  readonly input: unknown;

  constructor(input?: unknown) {
    this.input = input;
    throw new LocalTaskUnhandled(MESSAGE);
  }
}

/** Cognito credentials for the library's Lambda client: refused like the client. */
export function fromCognitoIdentityPool(): never {
  throw new LocalTaskUnhandled(MESSAGE);
}
