// The recurring drift check: the EventBridge Scheduler group that `stepform drift --stack …
// --schedule` writes stepform.yaml's drift.schedule into (one schedule per environment, so the
// stepform.yaml in the user's repository stays the one place the schedule is said), and the
// role those schedules run as, which may start the drift workflow and nothing else.
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { StateMachineNames } from './state-machine-names.ts';

export interface DriftSchedulesProps {
  /** The state machines' names: the group is `<prefix>-drift`, the target the drift machine. */
  readonly stateMachines: StateMachineNames;
}

export class DriftSchedules extends Construct {
  readonly scheduleGroup: scheduler.ScheduleGroup;
  readonly schedulerRole: iam.Role;

  constructor(scope: Construct, id: string, props: DriftSchedulesProps) {
    super(scope, id);
    const names = props.stateMachines;
    // A group of its own: the CLI lists it to remove the schedules stepform.yaml no longer has.
    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'DriftScheduleGroup', {
      scheduleGroupName: `${names.prefix}-drift`,
    });
    this.schedulerRole = new iam.Role(this, 'DriftSchedulerRole', {
      description: 'EventBridge Scheduler: starts the drift workflow on its schedule',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      inlinePolicies: {
        StartDriftOnly: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              actions: ['states:StartExecution'],
              resources: [names.arn('drift')],
            }),
          ],
        }),
      },
    });
  }
}
