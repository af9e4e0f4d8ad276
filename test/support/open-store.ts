// `node test/support/open-store.ts DB AT_MS`: waits until the wall clock reaches AT_MS, opens
// the Stepform stores at DB, and prints `ok` or `error: MESSAGE`. Several of these started
// together open one store at the same instant, as CLI processes started together do.
import { openLocalStores } from '../../local/engine/store/local-stores.ts';

const [path, at] = process.argv.slice(2);
if (path === undefined || at === undefined) throw new Error('usage: open-store.ts DB AT_MS');
while (Date.now() < Number(at)) {
  // Spin: a timer is too coarse to line the processes up.
}
try {
  openLocalStores(path).close();
  process.stdout.write('ok\n');
} catch (error) {
  process.stdout.write(`error: ${(error as Error).message}\n`);
}
