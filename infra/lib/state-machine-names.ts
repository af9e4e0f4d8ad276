// The state machines' names and ARNs, known before the machines exist: the Lambdas, the
// scheduler and the GitHub roles name them, and the machines depend on the Lambdas.
import { ArnFormat, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { Workflow } from '../../state-machines/workflows.ts';

export class StateMachineNames {
  readonly prefix: string;
  readonly #stack: Stack;

  /** `prefix` begins every state machine's name (`<prefix>-<workflow>`). */
  constructor(scope: Construct, prefix: string) {
    this.prefix = prefix;
    this.#stack = Stack.of(scope);
  }

  name(workflow: Workflow): string {
    return `${this.prefix}-${workflow}`;
  }

  arn(workflow: Workflow): string {
    return this.#stack.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: this.name(workflow),
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /**
   * Every execution of the workflow's machine (execution names are run ids), or those whose
   * name begins with `namePrefix`.
   */
  executionsArn(workflow: Workflow, namePrefix = ''): string {
    return this.#stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${this.name(workflow)}:${namePrefix}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }
}
