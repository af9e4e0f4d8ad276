import { describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { planDiff, renderPlanText } from '../core/plan-diff.ts';
import {
  PLAN_FIXTURES,
  generatePlanJson,
  normalizePlanJson,
  planFixtureCases,
} from './plan-fixtures.ts';
import { resolveEngine } from './engine.ts';

describe('normalizePlanJson', () => {
  it('replaces what changes from run to run, and nothing else', () => {
    const uuid = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
    const normalized = normalizePlanJson(
      {
        terraform_version: '1.11.4',
        timestamp: '2026-12-03T10:11:35Z',
        prior_state: { terraform_version: '1.11.4' },
        values: {
          id: uuid,
          again: uuid,
          path: '/tmp/stepform-x/module/a.txt',
          at: '2024-01-02T03:04:05Z',
        },
        [`/tmp/stepform-x/key`]: 1,
      },
      '/tmp/stepform-x',
    );
    expect(normalized).toEqual({
      terraform_version: '0.0.0',
      timestamp: '2000-01-01T00:00:00Z',
      prior_state: { terraform_version: '0.0.0' },
      values: {
        id: '00000000-0000-0000-0000-000000000001',
        again: '00000000-0000-0000-0000-000000000001',
        path: '/work/module/a.txt',
        at: '2024-01-02T03:04:05Z',
      },
      '/work/key': 1,
    });
  });
});

describe('plan fixtures', () => {
  it('lists every case folder', async () => {
    expect(await planFixtureCases()).toContain('replace');
  });

  // Proves the committed plans are still what the engine writes: one case made afresh (apply
  // before.tf, plan after.tf, with the provider mirror) renders as its golden text. The engine
  // is the one the project runs (Terraform on PATH here; the OpenTofu set-up builds elsewhere).
  it('match the real engine: the replace case made afresh renders as its golden', async () => {
    const resolved = await resolveEngine();
    if (!resolved.found) throw new Error(`no engine: ${resolved.skipped.join('; ')}`);
    const fresh = await generatePlanJson(join(PLAN_FIXTURES, 'replace'), resolved.engine.path);
    const golden = await readFile(join(PLAN_FIXTURES, 'replace', 'plan.txt'), 'utf8');
    expect(renderPlanText(planDiff(fresh), { color: false })).toBe(golden);
  });
});
