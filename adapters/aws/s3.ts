// The S3 adapter of the artifacts port: the executor's result.json (and its plan, log...) in
// the artifacts bucket, always encrypted at rest (SSE-KMS with the deployment's key when one
// is given, SSE-S3 otherwise).
//
// A location is `s3://bucket/prefix` (the folder of one job's artifacts). A job's
// `artifactsDir` must be an absolute path (core/contracts/job-input.ts), so on AWS the executor
// writes to a local folder and uploads it under the same path: when the adapter is given a
// default bucket, an absolute path `/a/b` is the location `s3://<bucket>/<keyPrefix>/a/b`.
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  type JobResult,
  PLAN_DIFF_FILE,
  RESULT_FILE,
  parseJobResult,
} from '../../core/contracts/job-result.ts';
import { type PlanDiff, parsePlanDiff } from '../../core/plan-diff.ts';
import { InvalidInput } from '../../core/errors.ts';
import type { ArtifactPort } from '../../core/ports.ts';
import { isAwsError } from './aws-errors.ts';

export interface S3Location {
  readonly bucket: string;
  /** The key prefix of the folder, without a leading or trailing "/" ('' for the root). */
  readonly prefix: string;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** Key segments as the project writes them: no empty, "." or ".." segment, no control chars. */
// eslint-disable-next-line no-control-regex -- control characters are what it refuses
const KEY_SEGMENT = /^(?!\.{1,2}$)[^\x00-\x1f\x7f/]+$/;

function checkedKey(key: string, field: string): string {
  if (key === '') return key;
  if (key.length > 1024 || !key.split('/').every((segment) => KEY_SEGMENT.test(segment))) {
    throw new InvalidInput(field, 'must be "/"-separated names without ".", ".." or empty parts');
  }
  return key;
}

export interface S3ArtifactOptions {
  /** KMS key id, alias or ARN for SSE-KMS; SSE-S3 (AES256) when absent. */
  readonly kmsKeyId?: string;
  /** The bucket absolute-path locations are in. Without it only s3:// locations are accepted. */
  readonly bucket?: string;
  /** A key prefix for absolute-path locations, e.g. "artifacts". */
  readonly keyPrefix?: string;
}

export class S3ArtifactPort implements ArtifactPort {
  readonly #s3: S3Client;
  readonly #options: S3ArtifactOptions;

  constructor(client: S3Client, options: S3ArtifactOptions = {}) {
    if (options.bucket !== undefined && !BUCKET.test(options.bucket)) {
      throw new InvalidInput('bucket', 'must be an S3 bucket name');
    }
    this.#s3 = client;
    this.#options = options;
  }

  /** Bucket and key prefix of a location: `s3://bucket/prefix`, or an absolute path. */
  parseLocation(location: string): S3Location {
    const uri = /^s3:\/\/([^/]+)\/?(.*)$/.exec(location);
    if (uri) {
      const [, bucket = '', prefix = ''] = uri;
      if (!BUCKET.test(bucket)) throw new InvalidInput('location', 'must name an S3 bucket');
      return { bucket, prefix: checkedKey(prefix.replace(/\/+$/, ''), 'location') };
    }
    const { bucket } = this.#options;
    if (bucket !== undefined && location.startsWith('/')) {
      const root = (this.#options.keyPrefix ?? '').replace(/^\/+|\/+$/g, '');
      const path = location.replace(/^\/+|\/+$/g, '');
      const prefix = [root, path].filter((part) => part !== '').join('/');
      return { bucket, prefix: checkedKey(prefix, 'location') };
    }
    throw new InvalidInput(
      'location',
      bucket === undefined
        ? 'must be an s3://bucket/prefix location'
        : 'must be an s3://bucket/prefix location or an absolute path',
    );
  }

  /**
   * The job's result.json under `location`, parsed against the JobResult contract;
   * undefined when there is none (the job died before writing it: the caller throws JobLost).
   * A result.json that is there but unreadable is JobLost too, saying why.
   */
  async readResult(location: string): Promise<JobResult | undefined> {
    const { bucket, prefix } = this.parseLocation(location);
    const key = prefix === '' ? RESULT_FILE : `${prefix}/${RESULT_FILE}`;
    let text: string;
    try {
      const object = await this.#s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (object.Body === undefined) return undefined;
      text = await object.Body.transformToString('utf-8');
    } catch (error) {
      if (isAwsError(error, 'NoSuchKey', 'NotFound')) return undefined;
      throw error;
    }
    return parseJobResult(text, `s3://${bucket}/${key}`);
  }

  /** The plan diff a plan job uploaded to `location`; undefined when there is none. */
  async readPlanDiff(location: string): Promise<PlanDiff | undefined> {
    const { bucket, prefix } = this.parseLocation(location);
    const bytes = await this.getArtifact(location, PLAN_DIFF_FILE);
    if (bytes === undefined) return undefined;
    const key = prefix === '' ? PLAN_DIFF_FILE : `${prefix}/${PLAN_DIFF_FILE}`;
    return parsePlanDiff(Buffer.from(bytes).toString('utf8'), `s3://${bucket}/${key}`);
  }

  /** The names of every artifact under `location` (relative to it, "/"-separated), sorted. */
  async listArtifacts(location: string): Promise<string[]> {
    const { bucket, prefix } = this.parseLocation(location);
    const folder = prefix === '' ? '' : `${prefix}/`;
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.#s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: folder,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key) names.push(object.Key.slice(folder.length));
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return names.sort();
  }

  /** Downloads `<location>/<name>`; undefined when it does not exist. */
  async getArtifact(location: string, name: string): Promise<Uint8Array | undefined> {
    const { bucket, prefix } = this.parseLocation(location);
    const key = prefix === '' ? checkedKey(name, 'name') : `${prefix}/${checkedKey(name, 'name')}`;
    try {
      const object = await this.#s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return object.Body === undefined ? undefined : await object.Body.transformToByteArray();
    } catch (error) {
      if (isAwsError(error, 'NoSuchKey', 'NotFound')) return undefined;
      throw error;
    }
  }

  /**
   * `<location>/<name>` from byte `start(size)` on, where `start` is given the object's size
   * (a log's tail): undefined when it does not exist.
   */
  async readArtifactFrom(
    location: string,
    name: string,
    start: (size: number) => number,
  ): Promise<
    { readonly bytes: Uint8Array; readonly from: number; readonly size: number } | undefined
  > {
    const { bucket, prefix } = this.parseLocation(location);
    const key = prefix === '' ? checkedKey(name, 'name') : `${prefix}/${checkedKey(name, 'name')}`;
    try {
      const head = await this.#s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      const size = head.ContentLength ?? 0;
      const from = start(size);
      if (from >= size) return { bytes: new Uint8Array(0), from, size };
      const object = await this.#s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${String(from)}-` }),
      );
      const bytes =
        object.Body === undefined ? new Uint8Array(0) : await object.Body.transformToByteArray();
      return { bytes, from, size };
    } catch (error) {
      if (isAwsError(error, 'NoSuchKey', 'NotFound')) return undefined;
      throw error;
    }
  }

  /**
   * Uploads one artifact as `<location>/<name>` (name may have "/"-separated parts), encrypted,
   * and returns its s3:// URI.
   */
  async putArtifact(
    location: string,
    name: string,
    body: string | Uint8Array,
    contentType: string = contentTypeOf(name),
  ): Promise<string> {
    const { bucket, prefix } = this.parseLocation(location);
    if (name === '') throw new InvalidInput('name', 'must not be empty');
    const key = prefix === '' ? checkedKey(name, 'name') : `${prefix}/${checkedKey(name, 'name')}`;
    const { kmsKeyId } = this.#options;
    await this.#s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        ...(kmsKeyId === undefined
          ? { ServerSideEncryption: 'AES256' }
          : { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: kmsKeyId }),
      }),
    );
    return `s3://${bucket}/${key}`;
  }
}

/** JSON and text artifacts by extension; anything else (a binary plan) is octet-stream. */
export function contentTypeOf(name: string): string {
  if (name.endsWith('.json')) return 'application/json';
  if (name.endsWith('.txt') || name.endsWith('.log')) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}
