// Stepform's local folder: `stepform/` in the git directory of the repository it runs for
// (or $STEPFORM_HOME; local/cli/context.ts finds it). Everything the local engine keeps lives
// here, private to its owner: folders 0700, files 0600 (states and saved plans hold secrets).
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

export interface StepformHome {
  readonly root: string;
  readonly database: string;
  readonly artifacts: string;
  readonly state: string;
  readonly runs: string;
  readonly events: string;
  readonly secrets: string;
  /** The work folders of running jobs (checkouts, saved plans): removed when a job ends. */
  readonly work: string;
}

/** Where each part of a home at `root` lives; creates nothing. */
export function homeLayout(root: string): StepformHome {
  return {
    root,
    database: join(root, 'stepform.db'),
    artifacts: join(root, 'artifacts'),
    state: join(root, 'state'),
    runs: join(root, 'runs'),
    events: join(root, 'events.jsonl'),
    secrets: join(root, 'secrets'),
    work: join(root, 'work'),
  };
}

/** The home at `root`, its folders created, and made private if an older version left them open. */
export function stepformHome(root: string): StepformHome {
  const home = homeLayout(root);
  for (const dir of [home.root, home.artifacts, home.state, home.runs, home.secrets, home.work]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  }
  // For a $STEPFORM_HOME inside a work tree: keep state and history out of its repository.
  try {
    writeFileSync(join(root, '.gitignore'), '*\n', { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return home;
}

/**
 * The key that signs approval links: $STEPFORM_APPROVAL_SIGNING_KEY, else a random key made
 * once and kept in the home's secrets/ with mode 0600 (Secrets Manager holds it on AWS).
 */
export function approvalSigningKey(
  home: StepformHome,
  env: Readonly<Record<string, string | undefined>>,
): Buffer {
  const fromEnv = env.STEPFORM_APPROVAL_SIGNING_KEY;
  if (fromEnv) return Buffer.from(fromEnv, 'utf8');
  const path = join(home.secrets, 'approval-signing-key');
  if (!existsSync(path)) {
    // Written whole to a private file, then linked into place: a process that reads the key
    // never sees a half-written file, and of two processes making it at once, one key wins.
    const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(temp, randomBytes(32).toString('base64'), { mode: 0o600 });
    try {
      linkSync(temp, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      unlinkSync(temp);
    }
  }
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  if (key.length < 32)
    throw new Error(`the approval signing key in ${path} is shorter than 32 bytes`);
  return key;
}
