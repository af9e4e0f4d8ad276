import { describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MASK, SecretMasker } from '../../core/masking.ts';
import { JobLog } from './job-log.ts';

describe('JobLog', () => {
  it('masks a block of diagnostics as one text: a secret wrapped over two lines is found', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'stepform-job-log-')), 'executor.log');
    const masker = new SecretMasker();
    masker.add('correct horse battery staple');
    const echoed: string[] = [];
    const log = new JobLog(path, masker, (text) => echoed.push(text));
    const wrapped = ['Error: invalid value "correct horse', 'battery staple" for the password'];
    for (const line of wrapped) log.write(line);
    log.writeBlock(wrapped);
    log.writeBlock([]);
    log.close();
    const lines = (await readFile(path, 'utf8')).split('\n');
    // Line by line, neither half is the secret; as a block, the whole is.
    expect(lines.slice(0, 2)).toEqual(wrapped);
    expect(lines.slice(2).join('\n')).toBe(`Error: invalid value "${MASK}" for the password\n`);
    expect(echoed.join('')).toBe(lines.join('\n'));
  });
});
