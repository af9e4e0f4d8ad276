// after_apply: once an apply succeeded, a GitHub repository_dispatch per entry of
// stepform.yaml, telling another repository what was applied and its outputs. Sensitive
// outputs are left out, not masked: another repository's workflow logs are no place for even
// the fact of a secret. A failed dispatch is reported, never fails the apply.
import { z } from 'zod';
import { AFTER_APPLY, GITHUB_REPOSITORY } from './contracts/workflow-input.ts';
import { MASKED_OUTPUT } from './contracts/job-result.ts';
import { InvalidInput, describeError } from './errors.ts';
import type { CodeHostPort } from './ports.ts';
import { cutText } from './text.ts';
import { parseInput } from './validation.ts';

export type AfterApplyEntry = z.output<typeof AFTER_APPLY>;

/** GitHub refuses a client_payload with more top-level keys than this. */
export const CLIENT_PAYLOAD_MAX_KEYS = 10;
/** Below GitHub's limit on a dispatch's body, with room for event_type and the JSON around. */
export const CLIENT_PAYLOAD_MAX_BYTES = 60_000;
const ERROR_LIMIT = 500;

const RUN = z.object({
  environment: z.string().min(1),
  commit: z.string().regex(/^[0-9a-f]{40}$/, 'must be a full 40-character hex SHA'),
  runId: z.string().min(1),
  /** The repository that was applied, owner/name; absent for a local clone not on GitHub. */
  repository: GITHUB_REPOSITORY.optional(),
});
export type DispatchRun = z.input<typeof RUN>;

const PROJECTS = z
  .array(
    z.object({
      name: z.string().min(1),
      dir: z.string(),
      outputs: z.record(z.string(), MASKED_OUTPUT),
    }),
  )
  .refine(
    (projects) => new Set(projects.map((project) => project.name)).size === projects.length,
    'names a project twice',
  );
export type DispatchProject = z.input<typeof PROJECTS>[number];

/** What the receiving workflow reads as `github.event.client_payload`. */
export type ClientPayload = {
  readonly environment: string;
  readonly commit: string;
  readonly runId: string;
  readonly repository?: string;
  /** Every applied project, in the run's order, also those whose outputs were dropped. */
  readonly projects: readonly string[];
  /** Per project, its outputs that are not sensitive. */
  readonly outputs: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Present when the outputs of the largest projects were dropped to fit GitHub's limit. */
  readonly truncated?: true;
};

export interface DispatchRequest {
  /** The target, owner/name. */
  readonly repository: string;
  readonly eventType: string;
  readonly clientPayload: ClientPayload;
}

const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;

/**
 * The repository_dispatch of one after_apply entry. Sensitive outputs are absent; when the
 * payload's JSON would pass CLIENT_PAYLOAD_MAX_BYTES, the outputs of the largest projects are
 * dropped (the payload then says `truncated: true`). InvalidInput for a bad entry, run or
 * project, or a payload that does not fit even without outputs.
 */
export function dispatchPayload(
  entry: AfterApplyEntry,
  run: DispatchRun,
  projects: readonly DispatchProject[],
): DispatchRequest {
  const { dispatch } = parseInput(AFTER_APPLY, entry, 'after_apply');
  const parsedRun = parseInput(RUN, run, 'run');
  const parsedProjects = parseInput(PROJECTS, projects, 'projects');

  const outputs: Record<string, Record<string, unknown>> = Object.fromEntries(
    parsedProjects.map((project) => [
      project.name,
      Object.fromEntries(
        Object.entries(project.outputs)
          .filter(([, output]) => !output.sensitive)
          .map(([name, output]) => [name, output.value]),
      ),
    ]),
  );
  const payload = (truncated: boolean): ClientPayload => ({
    environment: parsedRun.environment,
    commit: parsedRun.commit,
    runId: parsedRun.runId,
    ...(parsedRun.repository === undefined ? {} : { repository: parsedRun.repository }),
    projects: parsedProjects.map((project) => project.name),
    outputs,
    ...(truncated ? { truncated: true as const } : {}),
  });

  let clientPayload = payload(false);
  if (bytes(clientPayload) > CLIENT_PAYLOAD_MAX_BYTES) {
    const largestFirst = Object.keys(outputs).sort((a, b) => bytes(outputs[b]) - bytes(outputs[a]));
    // The payload holds `outputs` itself: each project dropped from it shrinks the payload.
    clientPayload = payload(true);
    for (const name of largestFirst) {
      if (bytes(clientPayload) <= CLIENT_PAYLOAD_MAX_BYTES) break;
      // A dropped project is absent from outputs (an empty {} would read as "no outputs").
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete
      delete outputs[name];
    }
    if (bytes(clientPayload) > CLIENT_PAYLOAD_MAX_BYTES) {
      throw new InvalidInput(
        'projects',
        `are too many for a repository_dispatch: the payload passes ${CLIENT_PAYLOAD_MAX_BYTES} bytes without any outputs`,
      );
    }
  }
  return { repository: dispatch.repository, eventType: dispatch.event_type, clientPayload };
}

const TARGET = z.object({
  repository: GITHUB_REPOSITORY.refine(
    (repository) => repository.split('/').every((part) => part !== '.' && part !== '..'),
    'must be owner/name of a GitHub repository',
  ),
  eventType: AFTER_APPLY.shape.dispatch.shape.event_type,
  clientPayload: z
    .record(z.string(), z.unknown())
    .refine(
      (payload) => Object.keys(payload).length <= CLIENT_PAYLOAD_MAX_KEYS,
      `has more than ${CLIENT_PAYLOAD_MAX_KEYS} top-level keys, which GitHub refuses`,
    ),
});

/**
 * The owner and name of a dispatch's target, for every code host adapter; InvalidInput for
 * what GitHub would refuse (or, for "..", resolve to another path).
 */
export function dispatchTarget(
  repository: string,
  eventType: string,
  clientPayload: Record<string, unknown>,
): { owner: string; repo: string } {
  parseInput(TARGET, { repository, eventType, clientPayload }, '');
  const [owner = '', repo = ''] = repository.split('/');
  return { owner, repo };
}

export interface DispatchReport {
  readonly repository: string;
  readonly eventType: string;
  readonly status: 'sent' | 'failed';
  /** Why it failed, one line. */
  readonly error?: string;
  /** The payload left out the outputs of some projects. */
  readonly truncated?: boolean;
}

/**
 * Sends each entry's dispatch, one after the other, and reports each. Never throws: a
 * dispatch that cannot be built or sent is a `failed` report, and the apply stays applied.
 */
export async function dispatchAfterApply(
  codeHost: Pick<CodeHostPort, 'dispatchRepositoryEvent'>,
  entries: readonly AfterApplyEntry[],
  run: DispatchRun,
  projects: readonly DispatchProject[],
): Promise<DispatchReport[]> {
  const reports: DispatchReport[] = [];
  for (const entry of entries) {
    // From the entry as given: it is checked only inside the try.
    const target = (entry as Partial<AfterApplyEntry> | undefined)?.dispatch;
    const named = {
      repository: String(target?.repository),
      eventType: String(target?.event_type),
    };
    try {
      const request = dispatchPayload(entry, run, projects);
      await codeHost.dispatchRepositoryEvent(
        request.repository,
        request.eventType,
        request.clientPayload,
      );
      reports.push({
        ...named,
        status: 'sent',
        ...(request.clientPayload.truncated ? { truncated: true } : {}),
      });
    } catch (error) {
      const message = describeError(error).message.replace(/\s+/g, ' ').trim();
      reports.push({ ...named, status: 'failed', error: cutText(message, ERROR_LIMIT) });
    }
  }
  return reports;
}

/** owner/name of a GitHub URL (`https://github.com/owner/name[.git]`); undefined otherwise. */
export function githubRepositoryOf(repository: string): string | undefined {
  const match = /^https:\/\/github\.com\/([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(
    repository,
  );
  return match?.[1];
}
