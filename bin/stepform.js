#!/usr/bin/env node
// The `stepform` command. npm puts the pinned Node 24 first on PATH (npx, npm scripts), which
// runs the TypeScript sources directly.
import { main } from '../local/cli/main.ts';

process.exitCode = await main(process.argv.slice(2));
