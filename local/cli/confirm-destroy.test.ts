import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { stateKey } from '../../core/contracts/job-input.ts';
import { rejection } from '../../test/support/caught.ts';
import { confirmDestroy } from './confirm-destroy.ts';
import type { Io } from './io.ts';

const RUN = { environment: 'preview', projectDir: 'infra/app' };

function stateDirWith(addresses: number, workspace?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'stepform-confirm-'));
  const path = join(dir, stateKey(RUN.environment, RUN.projectDir, workspace));
  mkdirSync(dirname(path), { recursive: true });
  const instances = Array.from({ length: addresses }, (_v, index) => ({ index_key: index }));
  writeFileSync(
    path,
    JSON.stringify({
      version: 4,
      resources: [{ mode: 'managed', type: 'terraform_data', name: 'n', instances }],
    }),
  );
  return dir;
}

function terminal(answer: string, interactive = true): Io & { said: string[]; asked: string[] } {
  const said: string[] = [];
  const asked: string[] = [];
  return {
    said,
    asked,
    out: (text) => said.push(text),
    err: (text) => said.push(text),
    cwd: '/',
    env: {},
    interactive,
    ask: (question) => {
      asked.push(question);
      return Promise.resolve(answer);
    },
  };
}

describe('confirmDestroy', () => {
  it('lists what the state holds and goes on when the environment name is typed back', async () => {
    const io = terminal('preview\n');
    await confirmDestroy(RUN, { yes: false, stateDir: stateDirWith(2) }, io);
    expect(io.said.join('')).toContain(
      'destroy will remove 2 resources of preview (infra/app):\n  - terraform_data.n[0]\n  - terraform_data.n[1]\n',
    );
    expect(io.asked).toEqual(["Type the environment's name (preview) to destroy it: "]);
  });

  it('refuses any other answer with DestroyNotConfirmed', async () => {
    for (const answer of ['', 'yes', 'y', 'prod', 'Preview']) {
      const error = await rejection(
        confirmDestroy(RUN, { yes: false, stateDir: stateDirWith(1) }, terminal(answer)),
      );
      expect(error).toMatchObject({ name: 'DestroyNotConfirmed', kind: 'failure' });
    }
  });

  it('shows the first 50 resources and counts the rest', async () => {
    const io = terminal('preview');
    await confirmDestroy(RUN, { yes: false, stateDir: stateDirWith(57) }, io);
    const text = io.said.join('');
    expect(text).toContain('  - terraform_data.n[49]\n  … and 7 more\n');
    expect(text).not.toContain('terraform_data.n[50]');
  });

  it('says so when the environment has no state yet, and still asks', async () => {
    const io = terminal('preview');
    const empty = mkdtempSync(join(tmpdir(), 'stepform-confirm-'));
    await confirmDestroy(RUN, { yes: false, stateDir: empty }, io);
    expect(io.said.join('')).toContain('preview (infra/app) has no resources in its state');
    expect(io.asked).toHaveLength(1);
  });

  it('without a terminal needs --yes (a usage error naming it), and never asks', async () => {
    const io = terminal('preview', false);
    const error = await rejection(
      confirmDestroy(RUN, { yes: false, stateDir: '/nonexistent' }, io),
    );
    expect(error).toMatchObject({ name: 'InvalidInput', field: '--yes' });
    expect(io.asked).toEqual([]);
  });

  it('with --yes asks nothing and reads nothing', async () => {
    const io = terminal('', false);
    await confirmDestroy(RUN, { yes: true, stateDir: '/nonexistent' }, io);
    expect(io.said).toEqual([]);
    expect(io.asked).toEqual([]);
  });

  it('reads each project’s own workspace state, not the default one', async () => {
    // Prepare: the default workspace's state is empty; the project's workspace holds three.
    const stateDir = stateDirWith(3, 'preview-blue');
    const io = terminal('preview');
    // Act
    await confirmDestroy(
      {
        ...RUN,
        projects: [
          { name: 'app', dir: RUN.projectDir, layer: 0, workspace: 'preview-blue', varFiles: [] },
        ],
      },
      { yes: false, stateDir },
      io,
    );
    // Assert
    expect(io.said.join('')).toContain(
      'destroy will remove 3 resources of preview (infra/app, workspace preview-blue):',
    );
  });
});
