// The clone's credentials on AWS Batch. The job role may not read the GitHub secret (a
// pull-request plan runs the branch's code with that role): it may only invoke the
// deployment's GitHubToken function, which answers with a token for the job's repository
// (for a GitHub App: contents read, that repository only). The token reaches git through the
// environment of the git and `init` child processes only (GIT_CONFIG_COUNT: an
// `http.<origin>/.extraheader`), never argv, .git/config or a file, and the job's masker
// hides it (and its Basic form) in the log and the result.
import { CLONE_TOKEN, type CloneToken } from '../../core/github-credentials.ts';
import { GitHubAuthFailed, describeError } from '../../core/errors.ts';
import { parseInput } from '../../core/validation.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** Environment variables for git that send the token to the repository's origin only. */
export interface GitAuth {
  readonly env: Readonly<Record<string, string>>;
  /** The values to mask: the token and its Basic form. */
  readonly secrets: readonly string[];
}

/**
 * Git configuration, as environment variables, that sends `grant.token` in an Authorization
 * header to the origin of `repository`; undefined unless the repository is https:// on the
 * token's host (a local path, the local engine's case, gets nothing). Settings already
 * given through GIT_CONFIG_COUNT in `base` are kept.
 */
export function gitAuth(
  base: Env,
  repository: string,
  grant: Pick<CloneToken, 'gitHost' | 'token'>,
): GitAuth | undefined {
  if (!URL.canParse(repository)) return undefined;
  const url = new URL(repository);
  if (url.protocol !== 'https:' || url.hostname.toLowerCase() !== grant.gitHost) return undefined;
  const basic = Buffer.from(`x-access-token:${grant.token}`).toString('base64');
  const given = Number(base.GIT_CONFIG_COUNT ?? '0');
  const index = Number.isSafeInteger(given) && given > 0 ? given : 0;
  return {
    env: {
      GIT_CONFIG_COUNT: String(index + 1),
      [`GIT_CONFIG_KEY_${index}`]: `http.${url.origin}/.extraheader`,
      [`GIT_CONFIG_VALUE_${index}`]: `Authorization: Basic ${basic}`,
    },
    secrets: [grant.token, basic],
  };
}

/** Whether the job may ask for a clone token: on Batch, for an https:// repository. */
export function wantsCloneToken(env: Env, repository: string): string | undefined {
  const functionName = env.STEPFORM_GITHUB_TOKEN_FUNCTION;
  return functionName && repository.startsWith('https://') ? functionName : undefined;
}

/**
 * Asks the GitHubToken function for a token to clone `repository`. Its failure (a function
 * error, an unusable secret, GitHub refusing the App) is a GitHubAuthFailed saying why; the
 * SDK is loaded only here.
 */
export async function requestCloneToken(
  env: Env,
  functionName: string,
  repository: string,
): Promise<CloneToken> {
  const { LambdaClient, InvokeCommand } = await import('@aws-sdk/client-lambda');
  const client = new LambdaClient({ ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}) });
  let text: string;
  let functionError: string | undefined;
  try {
    const answer = await client.send(
      new InvokeCommand({
        FunctionName: functionName,
        Payload: Buffer.from(JSON.stringify({ repository })),
      }),
    );
    text = Buffer.from(answer.Payload ?? new Uint8Array()).toString('utf8');
    functionError = answer.FunctionError;
  } catch (error) {
    const { name, message } = describeError(error);
    throw new GitHubAuthFailed(`cannot invoke ${functionName}: ${name}: ${message.slice(0, 300)}`);
  } finally {
    client.destroy();
  }
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    throw new GitHubAuthFailed(`${functionName} answered with something else than JSON`);
  }
  if (functionError !== undefined) {
    const { errorType, errorMessage } = (payload ?? {}) as Record<string, unknown>;
    throw new GitHubAuthFailed(
      `${functionName} failed: ${typeof errorType === 'string' ? errorType : functionError}: ${
        typeof errorMessage === 'string' ? errorMessage.slice(0, 500) : ''
      }`,
    );
  }
  return parseInput(CLONE_TOKEN, payload, 'githubToken');
}
