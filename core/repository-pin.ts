// Which repository a deployment runs. On AWS the jobs run a run's `repository` with the job
// roles (they read the account and the Terraform state, and the apply role changes it), so a
// deployment runs its own repository only: the one its stack was configured with. Locally every
// repository is the user's own, so none is refused.
import { InvalidInput } from './errors.ts';

/** What PrepareRun accepts as a run's repository. */
export type RepositoryPin =
  /** Any repository (the local engine: whoever runs it chose the repository). */
  | { readonly kind: 'any' }
  /** Only `https://github.com/<owner>/<name>` (with or without `.git`) of this `owner/name`. */
  | { readonly kind: 'github'; readonly repository: string }
  /** None: the deployment has no repository configured; `setting` says what to configure. */
  | { readonly kind: 'unconfigured'; readonly setting: string };

const OWNER_NAME = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const GITHUB_URL = /^https:\/\/github\.com\/([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?$/;

/** The pin of a deployment configured with `owner/name`, or with none (every run refused). */
export function githubRepositoryPin(
  repository: string | undefined,
  setting: string,
): RepositoryPin {
  if (repository === undefined || repository === '') return { kind: 'unconfigured', setting };
  if (!OWNER_NAME.test(repository)) {
    throw new InvalidInput(setting, `must be owner/name, got "${repository}"`);
  }
  return { kind: 'github', repository };
}

/**
 * Refuses a run of another repository than the pinned one (InvalidInput naming
 * `input.repository`). GitHub names are case-insensitive, so the comparison is too.
 */
export function assertPinnedRepository(repository: string, pin: RepositoryPin): void {
  switch (pin.kind) {
    case 'any':
      return;
    case 'unconfigured':
      throw new InvalidInput(
        'input.repository',
        `is refused: this deployment has no repository configured, so it runs none (set ${pin.setting})`,
      );
    case 'github': {
      const match = GITHUB_URL.exec(repository);
      const ownerName = match ? `${match[1]}/${match[2]}` : undefined;
      if (ownerName?.toLowerCase() !== pin.repository.toLowerCase()) {
        throw new InvalidInput(
          'input.repository',
          `must be https://github.com/${pin.repository} (the repository of this deployment), got "${repository}"`,
        );
      }
    }
  }
}
