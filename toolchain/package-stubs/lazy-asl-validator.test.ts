// The stand-in for asl-validator, as the package bundles it: aws-local-stepfunctions with
// localEngineStubsPlugin, built by esbuild and run by Node. The library still refuses an
// invalid definition and accepts a valid one; the validator's module is evaluated on the first
// validation, not when the library loads.
import { describe, expect, it } from '@jest/globals';
import { build } from 'esbuild';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localEngineStubsPlugin } from '../build-package.ts';
import { REPO_ROOT } from '../paths.ts';
import { run } from '../process.ts';

const ENTRY = `
import { StateMachine } from 'aws-local-stepfunctions';
const valid = { StartAt: 'Done', States: { Done: { Type: 'Succeed' } } };
const invalid = { StartAt: 'Nowhere', States: { Done: { Type: 'Succeed' } } };
const loadedBefore = globalThis.aslValidatorLoaded === true;
new StateMachine(valid);
const loadedAfter = globalThis.aslValidatorLoaded === true;
let refused = '';
try { new StateMachine(invalid); } catch (error) { refused = error.message; }
new StateMachine(invalid, { validationOptions: { noValidate: true } });
console.log(JSON.stringify({ loadedBefore, loadedAfter, refused }));
`;

describe("the package's lazy asl-validator", () => {
  it('validates as the library does, loading the validator on first use', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stepform-asl-validator-'));
    const entry = join(dir, 'entry.mjs');
    const out = join(dir, 'bundle.mjs');
    await writeFile(entry, ENTRY);
    const built = await build({
      entryPoints: [entry],
      outfile: out,
      absWorkingDir: REPO_ROOT,
      nodePaths: [join(REPO_ROOT, 'node_modules')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      // The validator's module marks itself loaded: evaluated only once it is first required.
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
      plugins: [
        localEngineStubsPlugin,
        {
          name: 'mark-validator-loaded',
          setup(pluginBuild) {
            pluginBuild.onLoad(
              { filter: /asl-validator[\\/]dist[\\/]src[\\/]validator\.js$/ },
              async (args) => ({
                contents: `globalThis.aslValidatorLoaded = true;\n${await import('node:fs/promises').then((fs) => fs.readFile(args.path, 'utf8'))}`,
                loader: 'js',
              }),
            );
          },
        },
      ],
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(built.metafile.inputs);
    expect(inputs).toContain('toolchain/package-stubs/lazy-asl-validator.ts');
    expect(inputs.some((input) => input.includes('@aws-sdk/client-lambda'))).toBe(false);
    const ran = await run(process.execPath, [out]);
    expect(ran.stderr).toBe('');
    const result = JSON.parse(ran.stdout) as {
      loadedBefore: boolean;
      loadedAfter: boolean;
      refused: string;
    };
    expect(result).toMatchObject({ loadedBefore: false, loadedAfter: true });
    expect(result.refused).toMatch(/State machine definition is invalid/);
  });
});
