// The folder boundaries fail `npm run check`: each planted forbidden import below is linted
// with the project's own eslint.config.js, as if it were the first line of a real file.
import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { REPO_ROOT as ROOT } from '../toolchain/paths.ts';

const eslint = new ESLint({ cwd: ROOT });

async function boundaryErrors(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${source}\nexport {};\n`, {
    filePath: join(ROOT, file),
  });
  return result!.messages
    .filter((message) => message.ruleId === 'stepform/boundaries')
    .map((message) => message.message);
}

describe('folder boundaries', () => {
  it.each([
    ['core/steps.ts', "import '../local/engine/engine.ts';", 'core/ is pure'],
    ['core/steps.ts', "import '../executor-image/src/run-job.ts';", 'core/ is pure'],
    ['core/contracts/job-result.ts', "import '../../adapters/aws/s3.ts';", 'core/ is pure'],
    ['core/steps.ts', "import '@aws-sdk/client-s3';", 'may not import package'],
    ['core/steps.ts', "export * from '../toolchain/paths.ts';", 'core/ is pure'],
    ['adapters/aws/s3.ts', "import '../../local/engine/store.ts';", 'adapters/ implement'],
    ['adapters/aws/s3.ts', "import '../../lambdas/runtime.ts';", 'adapters/ implement'],
    ['adapters/slack/webhook.ts', "import '../../infra/lib/stepform-pipeline.ts';", 'adapters/'],
    ['adapters/aws/sfn.ts', "import '../../executor-image/src/main.ts';", 'adapters/'],
    ['executor-image/src/main.ts', "import '../../local/engine/home.ts';", 'executor image'],
    ['executor-image/src/main.ts', "import '../../adapters/aws/dynamodb.ts';", 'executor image'],
    ['executor-image/src/main.ts', "await import('../../lambdas/runtime.ts');", 'executor image'],
    ['lambdas/notify.ts', "import '../local/engine/notifier.ts';", 'thin handlers'],
  ])('%s refuses %s', async (file, source, why) => {
    const errors = await boundaryErrors(file, source);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(why);
  });

  it.each([
    ['core/steps.ts', "import './contracts/job-input.ts';"],
    ['core/steps.ts', "import { z } from 'zod';"],
    ['core/steps.test.ts', "import '../test/support/run-fixtures.ts';"],
    ['adapters/aws/s3.ts', "import '../../core/errors.ts';"],
    ['executor-image/src/main.ts', "import '../../adapters/aws/s3.ts';"],
    ['executor-image/src/main.ts', "import '../../toolchain/engine.ts';"],
    ['lambdas/notify.ts', "import '../adapters/aws/sqs.ts';"],
  ])('%s may %s', async (file, source) => {
    expect(await boundaryErrors(file, source)).toEqual([]);
  });
});
