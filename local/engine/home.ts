// Stepform's local folder: `.stepform/` at the root of the repository it runs for (or
// $STEPFORM_HOME). Everything the local engine keeps lives here.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StepformHome {
  readonly root: string;
  readonly database: string;
  readonly artifacts: string;
  readonly state: string;
  readonly runs: string;
  readonly events: string;
  readonly secrets: string;
}

export function stepformHome(root: string): StepformHome {
  const home = {
    root,
    database: join(root, 'stepform.db'),
    artifacts: join(root, 'artifacts'),
    state: join(root, 'state'),
    runs: join(root, 'runs'),
    events: join(root, 'events.jsonl'),
    secrets: join(root, 'secrets'),
  };
  for (const dir of [home.root, home.artifacts, home.state, home.runs])
    mkdirSync(dir, { recursive: true });
  mkdirSync(home.secrets, { recursive: true, mode: 0o700 });
  return home;
}

/**
 * The key that signs approval links: $STEPFORM_APPROVAL_SIGNING_KEY, else a random key made
 * once and kept in .stepform/secrets with mode 0600 (Secrets Manager holds it on AWS).
 */
export function approvalSigningKey(
  home: StepformHome,
  env: Readonly<Record<string, string | undefined>>,
): Buffer {
  const fromEnv = env.STEPFORM_APPROVAL_SIGNING_KEY;
  if (fromEnv) return Buffer.from(fromEnv, 'utf8');
  const path = join(home.secrets, 'approval-signing-key');
  try {
    return Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  } catch {
    const key = randomBytes(32);
    try {
      writeFileSync(path, key.toString('base64'), { mode: 0o600, flag: 'wx' });
      return key;
    } catch {
      // Another process made it first: use theirs.
      return Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
    }
  }
}
