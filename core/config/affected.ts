// Change detection: which projects a change affects, and why. A project is affected when a
// changed file matches its `when_modified` (globs relative to its dir, `../` allowed), or lies
// in a local module the project calls, followed through `module { source = "../…" }` from
// module to module. Pure: the caller hands in the changed paths and the text of the
// Terraform files at the commit.
import { posix } from 'node:path';
import picomatch from 'picomatch';
import type { ResolvedProject } from './stepform-config.ts';

/** Why a project is affected: the file, and the rule or the module that made it so. */
export type AffectReason =
  | { readonly file: string; readonly via: 'when_modified'; readonly pattern: string }
  | { readonly file: string; readonly via: 'module'; readonly module: string };

export interface AffectedProject {
  readonly name: string;
  readonly dir: string;
  readonly affected: boolean;
  /** Every changed file that affects it (empty when it is not affected). */
  readonly reasons: readonly AffectReason[];
}

/** Terraform source files: where module calls are. */
export function isTerraformFile(path: string): boolean {
  return path.endsWith('.tf') || path.endsWith('.tofu');
}

/**
 * The text without its comments (`#`, `//`, `/* … *\/`), strings kept whole: a module that is
 * commented out calls nothing, and `//` inside a quoted source is not a comment.
 */
function withoutComments(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    const next = text[i + 1];
    if (c === '"') {
      const end = stringEnd(text, i);
      out += text.slice(i, end);
      i = end;
    } else if (c === '#' || (c === '/' && next === '/')) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
      out += ' ';
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** The index after the string that opens at `start` (escapes honoured). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"' && text[i] !== '\n') i += text[i] === '\\' ? 2 : 1;
  return Math.min(i + 1, text.length);
}

/** `source = "./x"` or `"../x"`: a local module (registry and git sources are not followed). */
const LOCAL_SOURCE = /\bsource\s*=\s*"(\.\.?\/[^"]*)"/g;

/** The local module sources a Terraform file names, as written. */
export function localModuleSources(text: string): string[] {
  return [...withoutComments(text).matchAll(LOCAL_SOURCE)].map((m) => m[1] ?? '');
}

/**
 * The local modules a folder calls, directly or through the modules it calls, as folders
 * relative to the repository root (never outside it). `tfFiles`: every Terraform file of the
 * commit by path.
 */
export function modulesCalledBy(dir: string, tfFiles: ReadonlyMap<string, string>): string[] {
  const direct = new Map<string, Set<string>>();
  for (const [path, text] of tfFiles) {
    const folder = posix.dirname(path);
    const calls = direct.get(folder) ?? new Set<string>();
    for (const source of localModuleSources(text)) {
      const target = posix.normalize(posix.join(folder, source)).replace(/\/$/, '');
      if (target !== '..' && !target.startsWith('../')) calls.add(target);
    }
    direct.set(folder, calls);
  }
  const seen = new Set<string>();
  const visit = (folder: string) => {
    for (const target of direct.get(folder) ?? []) {
      if (seen.has(target) || target === dir) continue;
      seen.add(target);
      visit(target);
    }
  };
  visit(dir);
  return [...seen].sort();
}

/** Whether `path` is `folder` or inside it (both relative to the repository root). */
function isInside(path: string, folder: string): boolean {
  return folder === '.' || path === folder || path.startsWith(`${folder}/`);
}

/** Which projects the changed files affect, each with the files and rules that say so. */
export function affectedProjects(
  projects: readonly ResolvedProject[],
  changedFiles: readonly string[],
  tfFiles: ReadonlyMap<string, string>,
): AffectedProject[] {
  return projects.map((project) => {
    const matchers = project.whenModified.map((pattern) => ({
      pattern,
      test: picomatch(pattern, { dot: true }),
    }));
    const modules = modulesCalledBy(project.dir, tfFiles);
    const reasons: AffectReason[] = [];
    for (const file of changedFiles) {
      const relative = project.dir === '.' ? file : posix.relative(project.dir, file);
      const matched = matchers.find((m) => m.test(relative));
      if (matched) {
        reasons.push({ file, via: 'when_modified', pattern: matched.pattern });
        continue;
      }
      const module = modules.find((folder) => isInside(file, folder));
      if (module !== undefined) reasons.push({ file, via: 'module', module });
    }
    return { name: project.name, dir: project.dir, affected: reasons.length > 0, reasons };
  });
}
