// Prepared runs of several projects for the layer loops' unit tests (core/*-layers.test.ts):
// a small one over infra/<name>, and the largest a run may be, with long names and the S3
// backend, whose workflow state the tests measure against Step Functions' 256 KB.
import { MAX_RUN_PROJECTS, type RunInput } from '../../core/contracts/workflow-input.ts';
import { type PreparedRun, prepareRun } from '../../core/run.ts';

/** A project of the small run: its folder infra/<name>, no var files. */
export function layeredProject(name: string, layer: number) {
  return { name, dir: `infra/${name}`, layer, varFiles: [] };
}

/** A run of the given projects under infra/, on the local backend. */
export function layeredRun(
  fields: Partial<RunInput> & Pick<RunInput, 'workflow' | 'projects'>,
): PreparedRun {
  return prepareRun(
    {
      runId: 'run-1',
      repository: '/repo',
      commit: 'c'.repeat(40),
      projectDir: 'infra',
      environment: 'dev',
      ...fields,
    },
    { backend: { type: 'local', stateDir: '/state' }, artifactsRoot: '/artifacts' },
  );
}

/**
 * The largest run: MAX_RUN_PROJECTS projects with long names, each with a workspace and a var
 * file, in three layers, on the S3 backend.
 */
export function largestRun(fields: Partial<RunInput> & Pick<RunInput, 'workflow'>): PreparedRun {
  const pad = (i: number) => String(i).padStart(2, '0');
  const environment = fields.environment ?? 'production-eu-west-1';
  return prepareRun(
    {
      runId: '20261203T072758Z-0a7c8c',
      repository: 'https://github.com/acme/infrastructure-monorepo',
      commit: 'c'.repeat(40),
      projectDir: 'infrastructure',
      environment,
      projects: Array.from({ length: MAX_RUN_PROJECTS }, (_, i) => ({
        name: `service-${pad(i)}-component`,
        dir: `infrastructure/services/service-${pad(i)}-component`,
        layer: Math.floor((i * 3) / MAX_RUN_PROJECTS),
        workspace: environment,
        varFiles: [
          `infrastructure/services/service-${pad(i)}-component/envs/${environment}.tfvars`,
        ],
      })),
      ...fields,
    },
    {
      backend: {
        type: 's3',
        bucket: 'stepform-state-123456789012-eu-west-1',
        region: 'eu-west-1',
        keyPrefix: 'stepform/state',
      },
      artifactsRoot: '/artifacts',
    },
  );
}

/** Step Functions' limit on a state's data is 256 KB; this budget leaves room for outputs. */
export const STATE_BUDGET_BYTES = 200 * 1024;

/** A project job's result as a layer's Map output carries it, with an output and counts. */
export function largeResult(
  dir: string,
  name: string,
  verb: 'plan' | 'apply' | 'plan-apply' | 'destroy',
) {
  return {
    status: 'succeeded',
    verb,
    hasChanges: true,
    applied: verb === 'apply' || verb === 'plan-apply',
    summary: { add: 3, change: 1, destroy: 1, replace: 1, import: 0 },
    outputs: { endpoint: { sensitive: false, value: `https://${name}.example.internal` } },
    resultLocation: dir,
    startedAt: '2026-12-03T07:27:58.000Z',
    finishedAt: '2026-12-03T07:28:58.000Z',
  };
}

/** A workflow state's size as Step Functions counts it: its JSON's bytes. */
export function stateBytes(state: unknown): number {
  return Buffer.byteLength(JSON.stringify(state));
}
