#!/usr/bin/env node
// The `stepform` command. npm puts the pinned Node 24 first on PATH (npx, npm scripts), which
// runs the TypeScript sources directly.

// node:sqlite still announces itself as experimental on every start; other warnings stay.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name === 'ExperimentalWarning' && /SQLite/.test(warning.message)) return;
  process.stderr.write(`${warning.name}: ${warning.message}\n`);
});

const { main } = await import('../local/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
