// Bundles the action into one ESM file, dist/index.js, the file action.yml runs (main and
// post): `node github-action/build.ts [outfile]`. check-dist.test.ts builds with these same
// options and fails when the committed dist/ differs. Not minified, so it can be reviewed.
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build } from 'esbuild';

/** The repository root: the paths in the bundle's comments are relative to it. */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const ENTRY = fileURLToPath(new URL('src/index.ts', import.meta.url));
export const DIST = fileURLToPath(new URL('dist/index.js', import.meta.url));

/** The esbuild options of dist/index.js, apart from the output file. */
export const BUILD_OPTIONS = {
  absWorkingDir: REPO_ROOT,
  entryPoints: [ENTRY],
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  minify: false,
  sourcemap: false,
  legalComments: 'eof',
  charset: 'utf8',
  logLevel: 'warning',
  // The SDK's CommonJS parts call require(); an ES module has none unless it makes one.
  banner: {
    js: "import { createRequire as __stepformCreateRequire } from 'node:module';\nconst require = __stepformCreateRequire(import.meta.url);",
  },
} satisfies BuildOptions;

export async function buildAction(outfile: string = DIST): Promise<void> {
  await build({ ...BUILD_OPTIONS, outfile });
}

if (import.meta.url === new URL(process.argv[1] ?? '', 'file:').href) {
  await buildAction(process.argv[2]);
}
