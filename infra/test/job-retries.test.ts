// Batch retries a job only when it never ran its course for reasons outside it: the image
// could not be pulled, or its Spot capacity was taken back, on EC2 or on Fargate (the plan
// jobs of `spotForPlans` run on Fargate Spot). A job whose container exited is never retried.
import { describe, expect, it } from '@jest/globals';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { StepformPipeline } from '../lib/stepform-pipeline.ts';

interface JobDefinition {
  Type: string;
  Properties: {
    RetryStrategy: { Attempts: number; EvaluateOnExit: Record<string, string>[] };
  };
}

describe('job definition retries', () => {
  it('retry a pull failure and a Spot interruption on EC2 or Fargate, and nothing that ran', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test');
    const pipeline = new StepformPipeline(stack, 'P', { spotForPlans: true });
    const resources = Template.fromStack(stack).toJSON().Resources as Record<string, JobDefinition>;
    for (const definition of [pipeline.planJobDefinition, pipeline.applyJobDefinition]) {
      const id = stack.getLogicalId(definition.node.defaultChild as never);
      // Before: only EC2 Spot's "Host EC2*" (issue 11, defect 8).
      expect(resources[id]!.Properties.RetryStrategy).toEqual({
        Attempts: 2,
        EvaluateOnExit: [
          { Action: 'RETRY', OnReason: 'CannotPullContainerError:*' },
          { Action: 'RETRY', OnStatusReason: 'Your Spot Task was interrupted*' },
          { Action: 'RETRY', OnStatusReason: 'Host EC2*' },
          { Action: 'EXIT', OnExitCode: '*' },
        ],
      });
    }
  });
});
