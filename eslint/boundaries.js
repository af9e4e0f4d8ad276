// The folder boundaries of the tree, as an ESLint rule: a relative import is resolved against
// the importing file and checked against the zones below. Package imports are checked for
// core/ only, which may use node: built-ins and three pure parsers (zod; yaml and picomatch for
// stepform.yaml and its globs) and nothing else.
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Tests may also use the shared test helpers. */
const TEST_FILE = /\.test\.ts$/;
const TEST_SUPPORT = 'test/support/';

/**
 * Each zone: the files it governs (`from`, a folder prefix) and the project paths they may
 * import (`allow`, prefixes); anything else of the project is refused with `why`.
 */
export const ZONES = [
  {
    from: 'core/',
    allow: ['core/'],
    // Parsers without I/O only: core/ runs in the CLI, the Lambdas and the executor alike.
    packages: [/^node:/, /^zod$/, /^yaml$/, /^picomatch$/],
    why: 'core/ is pure: it imports nothing else of the project and no SDK',
  },
  {
    from: 'adapters/',
    allow: ['core/', 'adapters/'],
    why: 'adapters/ implement core ports; they never reach into local/, executor-image/, infra/ or lambdas/',
  },
  {
    from: 'lambdas/',
    allow: ['core/', 'adapters/', 'lambdas/'],
    why: 'lambdas/ are thin handlers over core steps and adapters',
  },
  {
    from: 'executor-image/src/',
    allow: [
      'executor-image/',
      'core/',
      // The artifacts adapter, for results and plans on Batch.
      'adapters/aws/s3.ts',
      'adapters/aws/aws-errors.ts',
      // The engine, OPA and mirror lookup the image carries (its Dockerfile copies toolchain/*.ts).
      'toolchain/engine.ts',
      'toolchain/opa.ts',
      'toolchain/paths.ts',
      'toolchain/process.ts',
      'toolchain/provider-mirror.ts',
      'toolchain/setup-command.ts',
    ],
    why: 'the executor image carries core/, the S3 artifacts adapter and the engine lookup only',
  },
];

function projectPath(filename) {
  return relative(ROOT, filename).split('\\').join('/');
}

function check(context, node, source) {
  if (!source || typeof source.value !== 'string') return;
  const spec = source.value;
  const file = projectPath(context.filename);
  const zone = ZONES.find((z) => file.startsWith(z.from));
  if (!zone) return;
  if (!spec.startsWith('.')) {
    if (zone.packages && !zone.packages.some((p) => p.test(spec)) && !TEST_FILE.test(file)) {
      context.report({ node, message: `${file} may not import package "${spec}": ${zone.why}.` });
    }
    return;
  }
  const target = projectPath(resolve(dirname(context.filename), spec));
  const allowed = [...zone.allow, ...(TEST_FILE.test(file) ? [TEST_SUPPORT] : [])];
  if (!allowed.some((prefix) => target === prefix || target.startsWith(prefix))) {
    context.report({ node, message: `${file} may not import ${target}: ${zone.why}.` });
  }
}

const rule = {
  meta: {
    type: 'problem',
    docs: {
      description: 'Keeps core/, adapters/, lambdas/ and the executor inside their boundaries',
    },
    schema: [],
  },
  create(context) {
    const visit = (node) => check(context, node, node.source);
    return {
      ImportDeclaration: visit,
      ExportNamedDeclaration: visit,
      ExportAllDeclaration: visit,
      ImportExpression: visit,
    };
  },
};

export default { rules: { boundaries: rule } };
