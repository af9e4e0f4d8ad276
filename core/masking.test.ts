import { describe, expect, it } from '@jest/globals';
import { MASK, SecretMasker, leaves } from './masking.ts';

describe('SecretMasker', () => {
  it('masks a secret with spaces that Terraform wrapped over lines, raw or JSON-escaped', () => {
    const masker = new SecretMasker();
    masker.add('correct horse battery staple');
    expect(masker.mask("running 'correct horse\nbattery staple': exit 1")).toBe(
      "running '(sensitive value)': exit 1",
    );
    expect(masker.mask(JSON.stringify({ m: 'correct horse battery\n  staple' }))).toBe(
      '{"m":"(sensitive value)"}',
    );
    // Words of it alone stay.
    expect(masker.mask('a horse')).toBe('a horse');
  });

  it('masks every occurrence of every secret, the longest first', () => {
    const masker = new SecretMasker();
    masker.add(['hunter22', 'hunter22-extended']);
    expect(masker.mask('a hunter22-extended b hunter22 c')).toBe(`a ${MASK} b ${MASK} c`);
  });

  it('masks the JSON-escaped form of a secret holding quotes or newlines', () => {
    const masker = new SecretMasker();
    masker.add('line1\n"line2"');
    expect(masker.mask(JSON.stringify({ value: 'line1\n"line2"' }))).toBe(`{"value":"${MASK}"}`);
  });

  it('collects the leaves of structured values and ignores values too short to mask', () => {
    const masker = new SecretMasker();
    masker.add({
      user: 'admin-user',
      nested: [{ password: 's3cr3t-value' }],
      port: 5432,
      flag: true,
    });
    expect(masker.mask('admin-user:s3cr3t-value@db:5432 true')).toBe(
      `${MASK}:${MASK}@db:${MASK} true`,
    );
    expect(leaves({ a: [1, 'x', null, { b: false }] })).toEqual(['1', 'x']);
  });

  it('leaves text alone when it knows no secret', () => {
    expect(new SecretMasker().mask('nothing to hide')).toBe('nothing to hide');
  });

  it('masks each line of a multi-line secret on its own, as a log masks a line at a time', () => {
    const masker = new SecretMasker();
    const key = [
      '-----BEGIN PRIVATE KEY-----',
      'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC',
      'bTm9x2L0qwerty/+ABCDEFGHIJKLMNOP',
      '-----END PRIVATE KEY-----',
      '',
    ].join('\n');
    masker.add({ content: key });
    const printed = key.split('\n').map((line) => `      ${line}`);
    expect(printed.map((line) => masker.mask(line))).toEqual([
      `      ${MASK}`,
      `      ${MASK}`,
      `      ${MASK}`,
      `      ${MASK}`,
      '      ',
    ]);
    expect(masker.mask(key)).toBe(MASK);
    // A short line of it is no secret of its own.
    masker.add('line one here\nok\nline two here');
    expect(masker.mask('ok, done')).toBe('ok, done');
  });
});
