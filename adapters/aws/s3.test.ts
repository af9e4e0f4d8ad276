import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { InvalidInput, JobLost } from '../../core/errors.ts';
import { jobResult, planSummary } from '../../test/support/run-fixtures.ts';
import { S3ArtifactPort, contentTypeOf } from './s3.ts';

const s3 = mockClient(S3Client);
const client = new S3Client({ region: 'us-east-1' });

/** A GetObject output whose body is `text` (the SDK's stream mixin, reduced to what is read). */
function body(text: string): GetObjectCommandOutput {
  return {
    $metadata: {},
    Body: {
      transformToString: async () => Promise.resolve(text),
    } as unknown as GetObjectCommandOutput['Body'],
  };
}

const RESULT = jobResult({
  hasChanges: true,
  summary: planSummary({
    add: 1,
    resources: [{ address: 'terraform_data.a', action: 'create', importing: false }],
  }),
});

beforeEach(() => {
  s3.reset();
});

describe('S3ArtifactPort.readResult', () => {
  const artifacts = new S3ArtifactPort(client);

  it('gets result.json under the location and returns the parsed result', async () => {
    s3.on(GetObjectCommand).resolves(body(JSON.stringify(RESULT)));
    expect(await artifacts.readResult('s3://artifacts-bucket/runs/run-1/plan')).toEqual(RESULT);
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(1);
    expect(s3.commandCalls(GetObjectCommand)[0]!.args[0].input).toEqual({
      Bucket: 'artifacts-bucket',
      Key: 'runs/run-1/plan/result.json',
    });
  });

  it('accepts a trailing slash and a bucket root', async () => {
    s3.on(GetObjectCommand).resolves(body(JSON.stringify(RESULT)));
    await artifacts.readResult('s3://artifacts-bucket/runs/');
    await artifacts.readResult('s3://artifacts-bucket');
    expect(s3.commandCalls(GetObjectCommand).map((call) => call.args[0].input.Key)).toEqual([
      'runs/result.json',
      'result.json',
    ]);
  });

  it('returns undefined on NoSuchKey', async () => {
    s3.on(GetObjectCommand).rejects(
      new NoSuchKey({ message: 'The key does not exist', $metadata: {} }),
    );
    expect(await artifacts.readResult('s3://artifacts-bucket/runs/run-1/plan')).toBeUndefined();
  });

  it('passes other errors through', async () => {
    s3.on(GetObjectCommand).rejects(new Error('AccessDenied'));
    await expect(artifacts.readResult('s3://artifacts-bucket/p')).rejects.toThrow('AccessDenied');
  });

  it('throws JobLost for a result that is not JSON or not a result', async () => {
    s3.on(GetObjectCommand).resolvesOnce(body('{not json')).resolves(body('{"schemaVersion":2}'));
    await expect(artifacts.readResult('s3://artifacts-bucket/p')).rejects.toThrow(JobLost);
    await expect(artifacts.readResult('s3://artifacts-bucket/p')).rejects.toThrow(
      /s3:\/\/artifacts-bucket\/p\/result.json is not a job result \(schemaVersion: /,
    );
  });

  it('refuses a location that is not s3:// without a default bucket', async () => {
    await expect(artifacts.readResult('/tmp/runs/run-1')).rejects.toThrow(InvalidInput);
    await expect(artifacts.readResult('s3://Bad_Bucket/x')).rejects.toThrow(InvalidInput);
    await expect(artifacts.readResult('s3://bucket-1/a/../b')).rejects.toThrow(InvalidInput);
    expect(s3.calls()).toHaveLength(0);
  });

  it('maps an absolute path into the default bucket and key prefix', async () => {
    const mapped = new S3ArtifactPort(client, { bucket: 'artifacts-bucket', keyPrefix: 'jobs/' });
    s3.on(GetObjectCommand).resolves(body(JSON.stringify(RESULT)));
    await mapped.readResult('/work/artifacts/run-1/plan');
    expect(s3.commandCalls(GetObjectCommand)[0]!.args[0].input).toEqual({
      Bucket: 'artifacts-bucket',
      Key: 'jobs/work/artifacts/run-1/plan/result.json',
    });
  });
});

describe('S3ArtifactPort.putArtifact', () => {
  it('uploads with SSE-S3 when no KMS key is given', async () => {
    s3.on(PutObjectCommand).resolves({});
    const uri = await new S3ArtifactPort(client).putArtifact(
      's3://artifacts-bucket/runs/run-1/plan',
      'result.json',
      '{}',
    );
    expect(uri).toBe('s3://artifacts-bucket/runs/run-1/plan/result.json');
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(1);
    expect(s3.commandCalls(PutObjectCommand)[0]!.args[0].input).toEqual({
      Bucket: 'artifacts-bucket',
      Key: 'runs/run-1/plan/result.json',
      Body: '{}',
      ContentType: 'application/json',
      ServerSideEncryption: 'AES256',
    });
  });

  it('uploads with SSE-KMS and the key when one is given', async () => {
    s3.on(PutObjectCommand).resolves({});
    const bytes = new Uint8Array([1, 2, 3]);
    await new S3ArtifactPort(client, { kmsKeyId: 'alias/stepform' }).putArtifact(
      's3://artifacts-bucket/runs/run-1/plan',
      'plan/plan.tfplan',
      bytes,
    );
    expect(s3.commandCalls(PutObjectCommand)[0]!.args[0].input).toEqual({
      Bucket: 'artifacts-bucket',
      Key: 'runs/run-1/plan/plan/plan.tfplan',
      Body: bytes,
      ContentType: 'application/octet-stream',
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'alias/stepform',
    });
  });

  it('refuses names that would leave the folder', async () => {
    const artifacts = new S3ArtifactPort(client);
    for (const name of ['', '../x', 'a//b', '/abs', 'a/./b']) {
      await expect(artifacts.putArtifact('s3://artifacts-bucket/p', name, 'x')).rejects.toThrow(
        InvalidInput,
      );
    }
    expect(s3.calls()).toHaveLength(0);
  });

  it('picks content types by extension', () => {
    expect(contentTypeOf('executor.log')).toBe('text/plain; charset=utf-8');
    expect(contentTypeOf('plan.txt')).toBe('text/plain; charset=utf-8');
    expect(contentTypeOf('plan.json')).toBe('application/json');
    expect(contentTypeOf('plan.tfplan')).toBe('application/octet-stream');
  });
});
