// What a failed Terraform command said, kept whole and readable: its error blocks, line by
// line, with the files they name made relative to the repository. Terraform names a file
// relative to its working folder (the project's, in a throwaway checkout) or by its absolute
// path there; neither means anything to the person reading the error. Pure.
import { posix } from 'node:path';

/** An error block can be long (a plan with many errors); Step Functions keeps 32 KB a Cause. */
export const TERRAFORM_DETAIL_LIMIT = 8_000;

/** Lines kept from the end of the output when Terraform printed no `Error:` block. */
const TAIL_LINES = 20;

/** Where Terraform ran: the checkout's root and the project's folder inside it. */
export interface TerraformPaths {
  /** The checkout's absolute path. */
  readonly root: string;
  /** The project's folder, relative to the root. */
  readonly projectDir: string;
}

/** `on FILE line N` (diagnostics) and `FILE:N` / `FILE, line N` forms name a .tf/.tfvars file. */
const FILE_REFERENCE =
  /((?:\/|\.{1,2}\/)?[\w.@%+~-]+(?:\/[\w.@%+~-]+)*\.(?:tf|tfvars|tf\.json|tfvars\.json|hcl))\b/g;

/**
 * `text` with each file reference that lies inside the checkout made relative to its root:
 * `main.tf` run in infra/app is `infra/app/main.tf`, `../modules/x/main.tf` is
 * `infra/modules/x/main.tf`, `/work/…/checkout/infra/app/main.tf` is `infra/app/main.tf`.
 * A path outside the checkout is left as it is.
 */
export function repositoryPaths(text: string, paths: TerraformPaths): string {
  const root = posix.normalize(paths.root).replace(/\/+$/, '');
  return text.replace(FILE_REFERENCE, (file: string, _group: string, offset: number) => {
    // Part of a longer word (a URL, an address like module.x.main.tf): leave it.
    const before = offset > 0 ? text.charAt(offset - 1) : '';
    if (/[\w.@%+~/:-]/.test(before)) return file;
    const absolute = file.startsWith('/')
      ? posix.normalize(file)
      : posix.join(root, paths.projectDir, file);
    if (absolute !== root && !absolute.startsWith(`${root}/`)) return file;
    return posix.relative(root, absolute);
  });
}

/**
 * The part of a failed command's stderr that says why: from its first `Error:` line to the
 * end (every error block, with its lines), else its last lines; at most
 * TERRAFORM_DETAIL_LIMIT characters (the head, where the first error is).
 */
export function terraformErrorDetail(stderr: string, paths?: TerraformPaths): string {
  const lines = stderr.replace(/\r\n?/g, '\n').split('\n');
  const first = lines.findIndex((line) => /^(?:│\s*)?Error: /.test(line));
  const kept = (
    first === -1 ? lines.filter((l) => l.trim() !== '').slice(-TAIL_LINES) : lines.slice(first)
  )
    // The boxes Terraform draws without -no-color carry nothing.
    .map((line) => line.replace(/^[│╷╵]\s?/, '').trimEnd());
  let detail = kept
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  if (paths) detail = repositoryPaths(detail, paths);
  return detail.length > TERRAFORM_DETAIL_LIMIT
    ? `${detail.slice(0, TERRAFORM_DETAIL_LIMIT - 1)}…`
    : detail;
}
