// Time-to-live of ephemeral environments: the EventBridge Scheduler group the Schedule Lambda
// writes one-time schedules into, and the role a schedule runs as, which may start the
// destroy workflow and nothing else.
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { StateMachineNames } from './state-machine-names.ts';

export interface TtlSchedulesProps {
  /** The state machines' names: the group is `<prefix>-ttl`, the target the destroy machine. */
  readonly stateMachines: StateMachineNames;
}

export class TtlSchedules extends Construct {
  readonly scheduleGroup: scheduler.ScheduleGroup;
  readonly schedulerRole: iam.Role;

  constructor(scope: Construct, id: string, props: TtlSchedulesProps) {
    super(scope, id);
    const names = props.stateMachines;
    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'ScheduleGroup', {
      scheduleGroupName: `${names.prefix}-ttl`,
    });
    this.schedulerRole = new iam.Role(this, 'SchedulerRole', {
      description: 'EventBridge Scheduler: starts the destroy workflow when a TTL runs out',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      inlinePolicies: {
        StartDestroyOnly: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              actions: ['states:StartExecution'],
              resources: [names.arn('destroy')],
            }),
          ],
        }),
      },
    });
  }
}
