// A private git host for tests: a real HTTPS server on 127.0.0.1 (a self-signed certificate
// made by openssl, trusted by git through GIT_SSL_CAINFO) that answers 401 unless the request
// carries `Authorization: Basic base64(x-access-token:TOKEN)`, and otherwise passes the
// request to `git http-backend` as CGI. Every process starts from an argument array.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { run } from '../../toolchain/process.ts';
import { tempDir } from './repo.ts';

export interface GitHttpServer {
  /** `https://127.0.0.1:PORT` */
  readonly origin: string;
  /** The certificate to trust: GIT_SSL_CAINFO. */
  readonly caFile: string;
  /** The Authorization header of every request, as received (undefined when none). */
  readonly authorizations: (string | undefined)[];
  /** The URL of a repository served from the bare repository `bare` as OWNER/NAME.git. */
  url(path: string): string;
  close(): Promise<void>;
}

async function selfSignedCertificate(dir: string): Promise<{ key: string; cert: string }> {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  const made = await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  if (made.exitCode !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  return { key: await readFile(keyFile, 'utf8'), cert: certFile };
}

/**
 * Serves the bare repositories under `projectRoot` (`OWNER/NAME.git`) to requests that carry
 * `token`; pass `token: undefined` for a public host.
 */
export async function startGitHttpServer(
  projectRoot: string,
  token: string | undefined,
): Promise<GitHttpServer> {
  const dir = await tempDir('git-tls');
  const { key, cert } = await selfSignedCertificate(dir);
  const expected =
    token === undefined
      ? undefined
      : `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`;
  const authorizations: (string | undefined)[] = [];
  const server: Server = createServer({ key, cert: await readFile(cert, 'utf8') }, (req, res) => {
    authorizations.push(req.headers.authorization);
    if (expected !== undefined && req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="private"' });
      res.end('authentication required\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const header = (name: string) => {
      const value = req.headers[name];
      return typeof value === 'string' ? value : '';
    };
    const cgi = spawn('git', ['http-backend'], {
      shell: false,
      stdio: ['pipe', 'pipe', 'ignore'],
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        GIT_CONFIG_NOSYSTEM: '1',
        HOME: dir,
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.replace(/^\?/, ''),
        CONTENT_TYPE: header('content-type'),
        HTTP_CONTENT_ENCODING: header('content-encoding'),
        GIT_PROTOCOL: header('git-protocol'),
        REMOTE_USER: 'x-access-token',
        REMOTE_ADDR: '127.0.0.1',
      },
    });
    req.pipe(cgi.stdin);
    const chunks: Buffer[] = [];
    cgi.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    cgi.on('close', () => {
      const output = Buffer.concat(chunks);
      const end = output.indexOf('\r\n\r\n');
      const split = end >= 0 ? end : output.indexOf('\n\n');
      const gap = end >= 0 ? 4 : 2;
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of output.subarray(0, Math.max(split, 0)).toString('utf8').split(/\r?\n/)) {
        const colon = line.indexOf(':');
        if (colon < 0) continue;
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
        else headers[name] = value;
      }
      res.writeHead(status, headers);
      res.end(split >= 0 ? output.subarray(split + gap) : output);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const origin = `https://127.0.0.1:${port}`;
  return {
    origin,
    caFile: cert,
    authorizations,
    url: (path) => `${origin}/${path}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A bare copy of `source` at PROJECT_ROOT/OWNER/NAME.git, for startGitHttpServer. */
export async function bareRepository(source: string, path: string): Promise<string> {
  const root = await tempDir('git-root');
  const cloned = await run('git', ['clone', '--quiet', '--bare', '--', source, join(root, path)]);
  if (cloned.exitCode !== 0) throw new Error(`git clone --bare failed: ${cloned.stderr}`);
  return root;
}
