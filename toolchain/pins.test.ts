// The pins in pins.ts, the Go wrapper modules and the committed lock files must agree.
import { describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GO_MODULES_DIR } from './go-build.ts';
import { LOCKED_MODULES } from './lock-providers.ts';
import { REPO_ROOT } from './paths.ts';
import { MIRROR_HOSTNAMES, OPA_VERSION, OPENTOFU_VERSION, PROVIDERS } from './pins.ts';

const goMod = (module: string) => readFile(join(GO_MODULES_DIR, module, 'go.mod'), 'utf8');

describe('pins', () => {
  it('builds the OpenTofu version that pins.ts names', async () => {
    expect(await goMod('opentofu')).toMatch(
      new RegExp(`^require github.com/opentofu/opentofu v${OPENTOFU_VERSION}$`, 'm'),
    );
  });

  it('builds the OPA version that pins.ts names', async () => {
    expect(await goMod('opa')).toMatch(
      new RegExp(`^require github.com/open-policy-agent/opa v${OPA_VERSION}$`, 'm'),
    );
  });

  it('repeats the replace directive of OpenTofu itself', async () => {
    expect(await goMod('opentofu')).toMatch(
      /^replace github.com\/hashicorp\/hcl\/v2 .* => github.com\/opentofu\/hcl\/v2 /m,
    );
  });

  it('builds every provider version that pins.ts names', async () => {
    const mod = await goMod('providers');
    for (const pin of PROVIDERS) {
      expect(mod).toMatch(new RegExp(`^(require )?\\s*${pin.goPackage} v${pin.version}$`, 'm'));
    }
  });

  it.each(LOCKED_MODULES)(
    'locks every pinned provider under both registry names in %s',
    async (module) => {
      const lock = await readFile(join(REPO_ROOT, module, '.terraform.lock.hcl'), 'utf8');
      for (const pin of PROVIDERS) {
        for (const hostname of MIRROR_HOSTNAMES) {
          const block = new RegExp(
            `provider "${hostname}/${pin.namespace}/${pin.type}" \\{\\s+version\\s+= "${pin.version}"[^}]*?(\\s+"h1:[A-Za-z0-9+/=]+",){4}`,
          );
          expect(lock).toMatch(block);
        }
      }
    },
  );
});
