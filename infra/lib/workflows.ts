// The workflows: each state machine loaded from its ASL file in state-machines/ (the file the
// local engine runs too) and filled by definitionSubstitutions; an alarm per machine; and the
// rule that releases the lock of an execution that ended early. A file-based definition gives
// CDK nothing to infer IAM from, so each machine is granted exactly what its file names.
import { Duration, Stack } from 'aws-cdk-lib';
import type * as batch from 'aws-cdk-lib/aws-batch';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { TASK_FUNCTIONS, isTaskFunction } from '../../core/task-steps.ts';
import {
  WORKFLOWS,
  type Workflow,
  aslPath,
  functionsOf,
  jobDefinitionsOf,
  placeholderFor,
  placeholdersOf,
} from '../../state-machines/workflows.ts';
import { type LogRetentionProps, invalidProps, newLogGroup } from './common-props.ts';
import type { ExecutorCompute } from './executor-compute.ts';
import type { StepformFunctions } from './functions.ts';
import { acknowledgeWildcards } from './nag.ts';
import type { StateMachineNames } from './state-machine-names.ts';

export interface StepformWorkflowsOptions extends LogRetentionProps {
  /**
   * Log each state's input and output too (they hold approval task tokens and plan summaries).
   * @default false — every event is logged (level ALL) without its data
   */
  readonly logExecutionData?: boolean;
}

export interface StepformWorkflowsProps extends StepformWorkflowsOptions {
  /** The Lambdas the Task states call (`${<Name>FunctionArn}`). */
  readonly functions: StepformFunctions;
  /** The Batch queues and job definitions the jobs run on (`${JobQueueArn}`, `${<Name>JobDefinitionArn}`). */
  readonly compute: ExecutorCompute;
  readonly stateMachines: StateMachineNames;
}

/** `plan-apply` → `PlanApply`: the workflow's part of its constructs' ids. */
export function pascalCase(workflow: Workflow): string {
  return workflow.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());
}

/**
 * The substitutions, once every placeholder of the workflow's file has a value: a file that
 * names something the stack does not make cannot be deployed.
 */
export function fillingEvery(
  workflow: Workflow,
  substitutions: Record<string, string>,
): Record<string, string> {
  const unfilled = placeholdersOf(workflow).filter((name) => !(name in substitutions));
  if (unfilled.length > 0) {
    invalidProps(
      'StepformWorkflows',
      `${aslPath(workflow)} names placeholders nothing fills: ${unfilled.join(', ')}`,
    );
  }
  return substitutions;
}

export class StepformWorkflows extends Construct {
  readonly stateMachines: Readonly<Record<Workflow, sfn.StateMachine>>;
  /** One per workflow: an execution failed, timed out or was aborted. */
  readonly alarms: readonly cloudwatch.Alarm[];
  /** Calls ExecutionEnded for an execution of any workflow that ended early. */
  readonly releaseLocksRule: events.Rule;

  constructor(scope: Construct, id: string, props: StepformWorkflowsProps) {
    super(scope, id);
    const { functions, compute, stateMachines: names } = props;
    const jobDefinitions: Record<string, batch.EcsJobDefinition> = {
      Plan: compute.planJobDefinition,
      Apply: compute.applyJobDefinition,
    };
    const functionArns = Object.fromEntries(
      TASK_FUNCTIONS.map((name) => [
        placeholderFor({ kind: 'function', name }),
        functions.functions[name].functionArn,
      ]),
    );
    const jobDefinitionArns = Object.fromEntries(
      Object.entries(jobDefinitions).map(([name, definition]) => [
        placeholderFor({ kind: 'jobDefinition', name }),
        definition.jobDefinitionArn,
      ]),
    );
    const stateMachines: Partial<Record<Workflow, sfn.StateMachine>> = {};
    const alarms: cloudwatch.Alarm[] = [];
    for (const workflow of WORKFLOWS) {
      const pascal = pascalCase(workflow);
      const substitutions: Record<string, string> = {
        ...functionArns,
        [placeholderFor({ kind: 'jobQueue' })]: this.#queueOf(workflow, compute).jobQueueArn,
        ...jobDefinitionArns,
      };
      const sm = new sfn.StateMachine(this, `${pascal}StateMachine`, {
        stateMachineName: names.name(workflow),
        stateMachineType: sfn.StateMachineType.STANDARD,
        definitionBody: sfn.DefinitionBody.fromFile(aslPath(workflow)),
        definitionSubstitutions: fillingEvery(workflow, substitutions),
        logs: {
          destination: newLogGroup(this, `${pascal}StateMachineLogs`, props),
          level: sfn.LogLevel.ALL,
          includeExecutionData: props.logExecutionData ?? false,
        },
        tracingEnabled: true,
      });
      this.#grant(sm, workflow, props, jobDefinitions);
      stateMachines[workflow] = sm;
      alarms.push(
        new cloudwatch.Alarm(this, `${pascal}FailedAlarm`, {
          alarmDescription: `Stepform ${workflow}: an execution failed, timed out or was aborted`,
          metric: new cloudwatch.MathExpression({
            expression: 'failed + timedOut + aborted',
            usingMetrics: {
              failed: sm.metricFailed({ statistic: 'Sum' }),
              timedOut: sm.metricTimedOut({ statistic: 'Sum' }),
              aborted: sm.metricAborted({ statistic: 'Sum' }),
            },
            period: Duration.minutes(5),
          }),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    this.stateMachines = stateMachines as Record<Workflow, sfn.StateMachine>;
    this.alarms = alarms;

    // An execution that ends without reaching its tail (aborted by `stepform cancel`, timed
    // out, or an error no Catch matches) has its lock released at once instead of at its
    // expiry, its approval expired, and is recorded and told; every workflow, since an aborted
    // plan must be told too. (The construct id predates that; kept so the rule is not replaced.)
    this.releaseLocksRule = new events.Rule(this, 'ReleaseLocksOfEndedExecutions', {
      description:
        'Stepform: settle a workflow execution that ended early (lock, approval, status)',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: WORKFLOWS.map((w) => this.stateMachines[w].stateMachineArn),
        },
      },
      targets: [
        new eventsTargets.LambdaFunction(functions.functions.ExecutionEnded, { retryAttempts: 8 }),
      ],
    });
  }

  /** Pull-request plans may run on Spot (`spotForPlans`); everything else on on-demand. */
  #queueOf(workflow: Workflow, compute: ExecutorCompute): batch.JobQueue {
    return workflow === 'plan' ? compute.planJobQueue : compute.jobQueue;
  }

  /** Step Functions invokes the Lambdas and runs Batch jobs (.sync) for this workflow only. */
  #grant(
    sm: sfn.StateMachine,
    workflow: Workflow,
    { functions, compute }: StepformWorkflowsProps,
    jobDefinitions: Record<string, batch.EcsJobDefinition>,
  ): void {
    // Exactly the functions and job definitions this workflow's file names, unqualified as
    // the file calls them.
    const named = new Set(jobDefinitionsOf(workflow));
    const definitions = Object.entries(jobDefinitions)
      .filter(([name]) => named.has(name))
      .map(([, definition]) => definition);
    sm.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'InvokeStepLambdas',
        actions: ['lambda:InvokeFunction'],
        resources: functionsOf(workflow)
          .filter(isTaskFunction)
          .map((name) => functions.functions[name].functionArn),
      }),
    );
    // A workflow that runs no job (ttl) may submit none.
    if (definitions.length > 0) {
      sm.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'SubmitJobs',
          actions: ['batch:SubmitJob'],
          resources: [
            this.#queueOf(workflow, compute).jobQueueArn,
            ...definitions.map((d) => d.jobDefinitionArn),
          ],
        }),
      );
      sm.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'WatchJobs',
          actions: ['batch:DescribeJobs', 'batch:TerminateJob'],
          // DescribeJobs has no resource-level permissions.
          resources: ['*'],
        }),
      );
      sm.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'SyncJobEvents',
          actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
          resources: [
            Stack.of(this).formatArn({
              service: 'events',
              resource: 'rule',
              resourceName: 'StepFunctionsGetEventsForBatchJobsRule',
            }),
          ],
        }),
      );
    }
    acknowledgeWildcards(
      sm,
      'batch:DescribeJobs (for .sync), CloudWatch Logs delivery and X-Ray support no resource-level scoping.',
      ['Resource::*'],
    );
  }
}
