// The `stepform` CLI. Verbs arrive with the local engine; `doctor` is the first.
// Exit codes: 0 success, 1 failure, 2 usage or input error.
import { parseArgs } from 'node:util';
import { doctor, renderChecks } from './doctor.ts';

const USAGE = `usage: stepform <verb> [--json]

verbs:
  doctor    check that Node, OpenTofu/Terraform, the provider mirror and git are ready
`;

export async function main(argv: readonly string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    process.stdout.write(USAGE);
    return verb === undefined ? 2 : 0;
  }
  let json = false;
  try {
    ({
      values: { json = false },
    } = parseArgs({
      args: rest,
      options: { json: { type: 'boolean' } },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`stepform ${verb}: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  switch (verb) {
    case 'doctor': {
      const checks = await doctor(process.env);
      const ready = checks.every((c) => c.ok);
      process.stdout.write(
        json ? `${JSON.stringify({ ready, checks }, null, 2)}\n` : renderChecks(checks),
      );
      return ready ? 0 : 1;
    }
    default:
      process.stderr.write(`stepform: unknown verb "${verb}"\n${USAGE}`);
      return 2;
  }
}
