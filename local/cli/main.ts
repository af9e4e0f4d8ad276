// The `stepform` CLI (see DESIGN.md, "Local mode and the CLI"). Every verb accepts --json and
// then prints one JSON object. Exit codes: 0 success, 1 the workflow failed, 2 usage or input
// error (nothing recorded), 3 drift found (`drift` only).
import { parseArgs } from 'node:util';
import { InvalidInput, StepformError, describeError } from '../../core/errors.ts';
import { errorText } from './error-text.ts';
import { type Io, processIo } from './io.ts';
import { LOCAL_ONLY_VERBS, stackFile } from './stack/stack-file.ts';

// Each verb's module is imported when the verb runs: `--help`, `runs` or `show` then never
// load the workflow engine or the AWS SDK (the package's bundle splits along these imports).

export const USAGE = `usage: stepform <verb> [options] [--json]

  plan       [SELECTION] [--env ENV] [--repo PATH] [--commit SHA]
  apply      [SELECTION] --env ENV [--auto-approve] [--approval-timeout 10m]
  ephemeral  [SELECTION] --env ENV --ttl 2h
  destroy    [SELECTION] --env ENV [--yes] [--auto-approve] [--approval-timeout 10m]
             asks first on a terminal; waits for an approval unless --auto-approve
             (always in a protected environment)
  ttl        ENV DURATION [--dir DIR]       set a new TTL, counted from now
  ttl        ENV --cancel [--dir DIR]       keep it until destroyed by hand
  command    --env ENV [--dir DIR | --project NAME] [--auto-approve] [--approval-timeout 10m] -- ARGS...
             one of: state list, state show ADDR, state rm ADDR, output [NAME],
             import ADDR ID, force-unlock ID, providers (state rm and import need an approval)
  drift      [--env ENV] [--all | --project NAME | --dir DIR]
             plan what each environment last applied: exit 0 no drift, 3 drift found, 1 failed
             (every environment with an applied commit unless --env; every project unless named)
  drift      --stack OUTPUTS.json --schedule
             write stepform.yaml's drift.schedule to the stack's EventBridge Scheduler
  approve    RUN_ID [--by NAME] [--reason TEXT]
             a policy override (a blocking policy failed) is decided by its owners, with --reason
  reject     RUN_ID [--by NAME] [--reason TEXT]
  cancel     RUN_ID                         stop a run as Ctrl-C in its terminal would
  envs                                      each environment and project: status, last good commit, TTL, lock
  locks                                     what holds each project of each environment, until when, if it still runs
  unlock     ENV [--project NAME] [--force] clear ENV's locks (or NAME's) whose run is gone (--force: any)
  runs                                      history, newest first
  logs       RUN_ID                         every state of a run, with timings
  show       RUN_ID [--project NAME]        what its plans change, attribute by attribute
  projects   [--env ENV] [--base REF]       stepform.yaml's projects, layers, what a change affects
  serve      [--port 8787]                  run console, approval links, TTL and drift schedules
  doctor                                    is this machine ready?
  setup                                     build what doctor finds missing (OpenTofu, providers, OPA: needs Go)
  --version                                 the version and the commit it was built from

SELECTION: --dir DIR, --project NAME (repeatable), --all, or by default the projects of
stepform.yaml that the changes since --base REF (default: the merge base with the default
branch) affect. Without stepform.yaml a run is the one folder --dir names.

--stack OUTPUTS.json (or STEPFORM_STACK): plan, apply, ephemeral, destroy, drift, runs, logs,
approve, reject, cancel, unlock, envs and locks act on that deployed stack (the file
\`cdk deploy --outputs-file\` writes) with your AWS credentials, instead of this machine;
serve --stack (only with the flag) is a read-only run console of it.

--repo defaults to the git repository around the current directory, --commit to its HEAD,
and plan's --env to dev (every verb that changes an environment needs --env). State and
history live in .git/stepform/ ($STEPFORM_HOME to move it).
`;

const OPTIONS = {
  json: { type: 'boolean' },
  dir: { type: 'string' },
  project: { type: 'string', multiple: true },
  all: { type: 'boolean' },
  env: { type: 'string' },
  repo: { type: 'string' },
  commit: { type: 'string' },
  base: { type: 'string' },
  ttl: { type: 'string' },
  'auto-approve': { type: 'boolean' },
  'approval-timeout': { type: 'string' },
  by: { type: 'string' },
  reason: { type: 'string' },
  port: { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  force: { type: 'boolean' },
  cancel: { type: 'boolean' },
  schedule: { type: 'boolean' },
  stack: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

const PARSE = { options: OPTIONS, allowPositionals: true, strict: true, tokens: true } as const;

export type CliValues = ReturnType<typeof parseArgs<typeof PARSE>>['values'];

/** How a run verb says which projects it covers (selection.ts). */
const SELECTION = ['dir', 'project', 'all', 'base'] as const;

/** Which options each verb takes; anything else is a usage error. */
const VERB_OPTIONS: Record<string, readonly (keyof typeof OPTIONS)[]> = {
  plan: [...SELECTION, 'env', 'repo', 'commit'],
  apply: [...SELECTION, 'env', 'repo', 'commit', 'auto-approve', 'approval-timeout'],
  ephemeral: [...SELECTION, 'env', 'repo', 'commit', 'ttl'],
  destroy: [...SELECTION, 'env', 'repo', 'commit', 'yes', 'auto-approve', 'approval-timeout'],
  ttl: ['dir', 'repo', 'cancel'],
  command: ['dir', 'project', 'env', 'repo', 'commit', 'auto-approve', 'approval-timeout'],
  drift: ['dir', 'project', 'all', 'env', 'repo', 'schedule'],
  approve: ['by', 'repo', 'reason'],
  reject: ['by', 'repo', 'reason'],
  cancel: ['repo'],
  envs: ['repo'],
  locks: ['repo'],
  unlock: ['project', 'force', 'repo'],
  runs: ['repo'],
  logs: ['repo'],
  show: ['project', 'repo'],
  projects: ['env', 'base', 'commit', 'repo'],
  serve: ['port', 'repo'],
  doctor: [],
  setup: [],
};

/** A usage error: on stderr, and with --json also as one JSON object on stdout. */
function usageError(argv: readonly string[], io: Io, message: string): number {
  if (argv.includes('--json'))
    io.out(`${JSON.stringify({ error: { name: 'InvalidInput', message } })}\n`);
  io.err(`stepform: ${message}\n\n${USAGE}`);
  return 2;
}

/** Options that may be given more than once: each adds to the list. */
const REPEATABLE = new Set(['project']);

/** The verbs that take positional arguments; every other verb takes none. */
const VERB_ARGUMENTS = new Set([
  'ttl',
  'approve',
  'reject',
  'logs',
  'show',
  'cancel',
  'unlock',
  'command',
]);

/**
 * What parseArgs lets through but a command line must not say: an option given twice (the
 * last would silently win: `--env dev --env prod`), an empty value (`--dir=` would mean the
 * repository's root), or an argument to a verb that takes none (a mistyped flag's value).
 */
function ambiguity(
  verb: string,
  positionals: readonly string[],
  tokens: readonly { kind: string; name?: string; value?: string | undefined }[],
): string | undefined {
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== 'option' || token.name === undefined) continue;
    if (seen.has(token.name) && !REPEATABLE.has(token.name))
      return `--${token.name}: is given more than once`;
    seen.add(token.name);
    if (token.value === '') return `--${token.name}: must not be empty`;
  }
  const [stray] = positionals;
  if (stray !== undefined && !VERB_ARGUMENTS.has(verb))
    return `unexpected argument "${stray}": ${verb} takes no arguments`;
  return undefined;
}

/** One line per requirement of this machine; exit 0 when all are met. */
async function doctorVerb(json: boolean, io: Io): Promise<number> {
  const { doctor, renderChecks } = await import('./doctor.ts');
  const checks = await doctor(io.env);
  const ready = checks.every((c) => c.ok);
  io.out(json ? `${JSON.stringify({ ready, checks }, null, 2)}\n` : renderChecks(checks));
  return ready ? 0 : 1;
}

export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<typeof PARSE>>;
  try {
    parsed = parseArgs({ ...PARSE, args: [...argv] });
  } catch (error) {
    return usageError(argv, io, (error as Error).message);
  }
  const [verb, ...positionals] = parsed.positionals;
  const { values } = parsed;
  if (values.help === true) {
    io.out(USAGE);
    return 0;
  }
  if (values.version === true) {
    const { stepformVersion } = await import('./version.ts');
    const version = await stepformVersion();
    io.out(
      values.json === true
        ? `${JSON.stringify(version)}\n`
        : `stepform ${version.version} (commit ${version.commit})\n`,
    );
    return 0;
  }
  if (verb === undefined) return usageError(argv, io, 'no verb given');
  const allowed = VERB_OPTIONS[verb];
  if (!allowed) return usageError(argv, io, `unknown verb "${verb}"`);
  // --stack: any verb that has a stack form (checked below).
  const extra = Object.keys(values).filter(
    (k) => k !== 'json' && k !== 'stack' && !allowed.includes(k as keyof typeof OPTIONS),
  );
  if (extra.length > 0)
    return usageError(argv, io, `--${extra.join(', --')} is not an option of ${verb}`);
  const ambiguous = ambiguity(verb, positionals, parsed.tokens);
  if (ambiguous !== undefined) return usageError(argv, io, ambiguous);
  const json = values.json === true;
  const onStack =
    (values.stack !== undefined || !LOCAL_ONLY_VERBS.has(verb)) && stackFile(values, io.env);
  try {
    if (onStack) {
      const { stackVerb } = await import('./stack/dispatch.ts');
      const running = stackVerb(verb, positionals, parsed.tokens, values, io);
      if (!running)
        return usageError(argv, io, `${verb} does not act on a deployed stack (--stack)`);
      return await running;
    }
    switch (verb) {
      case 'plan':
        return await (await import('./run-verbs.ts')).runVerb('plan', values, io);
      case 'apply':
        return await (await import('./run-verbs.ts')).runVerb('plan-apply', values, io);
      case 'ephemeral':
        return await (await import('./run-verbs.ts')).runVerb('ephemeral', values, io);
      case 'destroy':
        return await (await import('./run-verbs.ts')).runVerb('destroy', values, io);
      case 'ttl':
        return await (await import('./ttl.ts')).ttlVerb(positionals, values, io);
      case 'command':
        return await (await import('./command.ts')).commandVerb(parsed.tokens, values, io);
      case 'drift':
        return await (await import('./drift.ts')).driftVerb(values, io);
      case 'approve':
      case 'reject':
        return await (await import('./approve.ts')).approveVerb(verb, positionals, values, io);
      case 'cancel':
        return await (await import('./operate.ts')).cancelVerb(positionals, values, io);
      case 'envs':
        return await (await import('./operate.ts')).envsVerb(values, io);
      case 'locks':
        return await (await import('./operate.ts')).locksVerb(values, io);
      case 'unlock':
        return await (await import('./operate.ts')).unlockVerb(positionals, values, io);
      case 'runs':
        return await (await import('./history.ts')).runsVerb(values, io);
      case 'logs':
        return await (await import('./history.ts')).logsVerb(positionals, values, io);
      case 'show':
        return await (await import('./show.ts')).showVerb(positionals, values, io);
      case 'projects':
        return await (await import('./projects.ts')).projectsVerb(values, io);
      case 'serve':
        return await (await import('./serve.ts')).serveVerb(values, io);
      case 'setup': {
        const { ensureToolchain } = await import('../../toolchain/ensure-toolchain.ts');
        await ensureToolchain(io.env, (line) => io.err(`[setup] ${line}\n`));
        return await doctorVerb(json, io);
      }
      default:
        return await doctorVerb(json, io);
    }
  } catch (error) {
    const described = describeError(error);
    if (json) io.out(`${JSON.stringify({ error: described })}\n`);
    io.err(errorText(described, { prefix: `stepform ${verb}: ` }));
    if (error instanceof InvalidInput || (error instanceof StepformError && error.kind === 'usage'))
      return 2;
    return 1;
  }
}
