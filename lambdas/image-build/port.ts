// The image build custom resource's handlers (infra/lib/executor-image-build.ts) share this:
// the AWS clients of the port, built once per container, and a log line per request. They are
// CloudFormation's, not a workflow's: they live apart from the Task handlers of lambdas/.
import { Logger } from '@aws-lambda-powertools/logger';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { ECRClient } from '@aws-sdk/client-ecr';
import { describeError } from '../../core/errors.ts';
import { AwsImageBuildPort } from '../../adapters/aws/image-build.ts';

export const logger = new Logger({ serviceName: 'stepform-image-build' });

const region = process.env.AWS_REGION;
export const port = new AwsImageBuildPort({
  codebuild: new CodeBuildClient({ region }),
  ecr: new ECRClient({ region }),
  logs: new CloudWatchLogsClient({ region }),
});

/** Logs the request type and the outcome (never the event: it holds the response URL). */
export function logged<E extends { RequestType?: unknown }, R>(
  name: string,
  handler: (event: E) => Promise<R>,
) {
  return async (event: E): Promise<R> => {
    try {
      const result = await handler(event);
      logger.info(`${name} answered`, { requestType: event.RequestType, result });
      return result;
    } catch (error) {
      logger.error(`${name} failed`, { requestType: event.RequestType, ...describeError(error) });
      throw error;
    }
  };
}
