// 9. Executor image size (issue 17), estimated without Docker: what each part of the final
// stage adds, gzipped as a registry stores a layer. Measured here from the same files the
// stages produce (the executor bundle, OPA, the provider mirror, Node's binary, OpenTofu when
// set-up built it), and from Debian's package index for what `apt-get install git
// ca-certificates` adds to the slim base. An estimate, not a build: the base image's Debian
// root is not measurable here.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { buildExecutorBundle } from '../toolchain/build-executor.ts';
import { builtOpaPath, builtTofuPath, providerMirrorDir, REPO_ROOT } from '../toolchain/paths.ts';
import { MIRROR_HOSTNAMES, OPA_VERSION, OPENTOFU_VERSION } from '../toolchain/pins.ts';
import { benchTemp } from './lib/fixtures.ts';
import { type Benchmark, table } from './lib/report.ts';

const execFileAsync = promisify(execFile);
/** Issue 17's target for the image, compressed. */
const TARGET_MB = 150;
/**
 * What `apt-get install --no-install-recommends git ca-certificates` adds to
 * node:24.9.0-bookworm-slim, whose Debian root already holds libc, OpenSSL's libraries, zlib
 * and the like: git with its manual and Perl (git's scripts need it), libcurl for HTTPS
 * clones, and the CA bundle. The .deb sizes (xz) stand in for the layer's gzip.
 */
const APT_PACKAGES = [
  'git',
  'git-man',
  'liberror-perl',
  'perl',
  'libperl5.36',
  'perl-modules-5.36',
  'libcurl3-gnutls',
  'libnghttp2-14',
  'librtmp1',
  'libssh2-1',
  'libpsl5',
  'ca-certificates',
  'openssl',
];

const MB = 1_000_000;
const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;

/** Every file under `dir`, for a tar-like gzip estimate (contents only, each file gzipped). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

async function measure(paths: readonly string[]): Promise<{ raw: number; gzip: number }> {
  let raw = 0;
  let gzip = 0;
  for (const path of paths) {
    const bytes = await readFile(path);
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: 6 }).length;
  }
  return { raw, gzip };
}

/** The .deb size and installed size of a package in this machine's Debian index. */
async function debianPackage(
  name: string,
): Promise<{ deb: number; installed: number } | undefined> {
  try {
    const { stdout } = await execFileAsync('apt-cache', ['show', '--no-all-versions', name]);
    const deb = /^Size: (\d+)$/m.exec(stdout)?.[1];
    const installed = /^Installed-Size: (\d+)$/m.exec(stdout)?.[1];
    if (deb === undefined || installed === undefined) return undefined;
    return { deb: Number(deb), installed: Number(installed) * 1024 };
  } catch {
    return undefined;
  }
}

interface Part {
  readonly layer: string;
  readonly how: string;
  readonly raw: number;
  readonly gzip: number;
}

export const image: Benchmark = {
  id: 'image',
  title: 'Executor image size, estimated from its parts',
  async run(ctx) {
    const env = process.env;
    const parts: Part[] = [];
    const missing: string[] = [];

    const bundleDir = ctx.temp(await benchTemp('image-bundle'));
    await buildExecutorBundle(bundleDir);
    const bundle = await measure(
      (await filesUnder(bundleDir)).filter((file) => !file.endsWith('.map')),
    );
    const maps = await measure((await filesUnder(bundleDir)).filter((f) => f.endsWith('.map')));
    parts.push({
      layer: 'executor bundle (lib/executor.js + source map)',
      how: 'built here by toolchain/build-executor.ts',
      raw: bundle.raw + maps.raw,
      gzip: bundle.gzip + maps.gzip,
    });

    const opa = builtOpaPath(env, OPA_VERSION);
    if (existsSync(opa))
      parts.push({ layer: `OPA ${OPA_VERSION}`, how: 'set-up’s build', ...(await measure([opa])) });
    else missing.push(`OPA (not built at ${opa})`);

    const tofu = builtTofuPath(env, OPENTOFU_VERSION);
    if (existsSync(tofu)) {
      parts.push({
        layer: `OpenTofu ${OPENTOFU_VERSION}`,
        how: 'set-up’s build',
        ...(await measure([tofu])),
      });
    } else {
      // This machine has Terraform, so set-up built no OpenTofu: Terraform's binary, a Go
      // build of the same size class, stands in.
      const { stdout } = await execFileAsync('sh', ['-c', 'command -v terraform']).catch(() => ({
        stdout: '',
      }));
      const terraform = stdout.trim();
      if (terraform === '') missing.push('OpenTofu (not built) and no Terraform to stand in');
      else {
        parts.push({
          layer: `OpenTofu ${OPENTOFU_VERSION} (stand-in: ${terraform})`,
          how: 'not built here (Terraform on PATH): Terraform’s binary measured instead',
          ...(await measure([terraform])),
        });
      }
    }

    const mirror = providerMirrorDir(env);
    const [firstHost] = MIRROR_HOSTNAMES;
    if (existsSync(join(mirror, firstHost))) {
      // The Dockerfile mirrors each build once, under the first hostname; the other links to
      // it. (A mirror set up before that change holds a copy under each: one is measured.)
      parts.push({
        layer: `provider mirror (time, under ${firstHost}; ${MIRROR_HOSTNAMES.slice(1).join(', ')} a link)`,
        how: 'set-up’s mirror',
        ...(await measure(await filesUnder(join(mirror, firstHost)))),
      });
    } else missing.push(`the provider mirror (none at ${mirror})`);

    const node = join(REPO_ROOT, 'node_modules', 'node', 'bin', 'node');
    if (existsSync(node)) {
      parts.push({
        layer: 'base: Node 24 binary (of node:24.9.0-bookworm-slim)',
        how: 'the pinned npm `node` package’s binary, the same release',
        ...(await measure([node])),
      });
    }
    missing.push(
      'the base image’s Debian root (bookworm-slim) and npm, which only a registry could measure',
    );

    let aptDeb = 0;
    let aptInstalled = 0;
    const aptFound: string[] = [];
    for (const name of APT_PACKAGES) {
      const found = await debianPackage(name);
      if (!found) continue;
      aptDeb += found.deb;
      aptInstalled += found.installed;
      aptFound.push(name);
    }
    if (aptFound.length > 0) {
      parts.push({
        layer: `apt: ${aptFound.length} packages (git, Perl, libcurl, CA bundle, …)`,
        how: 'Debian’s index on this machine: .deb size (xz) for gzip, Installed-Size for raw',
        raw: aptInstalled,
        gzip: aptDeb,
      });
    } else missing.push('the apt packages (no Debian index here)');

    // The layer the bundle replaced, for comparison: the runtime node_modules.
    const before = await (async () => {
      const dir = await benchTemp('image-deps');
      ctx.temp(dir);
      await execFileAsync('cp', [
        join(REPO_ROOT, 'package.json'),
        join(REPO_ROOT, 'package-lock.json'),
        dir,
      ]);
      try {
        await execFileAsync(
          'npm',
          ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'],
          { cwd: dir, maxBuffer: 64 * MB },
        );
        return await measure(await filesUnder(join(dir, 'node_modules')));
      } catch {
        return undefined;
      }
    })();

    const total = parts.reduce((sum, part) => sum + part.gzip, 0);
    const rows = parts.map((part) => [part.layer, part.how, mb(part.raw), mb(part.gzip)]);
    rows.push(['**sum of what is measured**', '', '', `**${mb(total)}**`]);
    ctx.log(`  measured parts: ${mb(total)} gzipped; not measurable here: ${missing.join('; ')}`);
    const nodeBinary = (await stat(node).catch(() => undefined)) !== undefined;
    return {
      tables: [table(['layer (final stage)', 'measured from', 'raw', 'gzipped'], rows, [2, 3])],
      notes: [
        `Gzipped sizes are each file gzipped at level 6, summed: what a registry stores for a layer, within a few per cent (tar headers are left out). The image is never built here (no Docker); the Dockerfile is linted by hadolint and its bundle stage run by executor-image/dockerfile.test.ts.`,
        `Not measurable here: ${missing.join('; ')}. The Debian root is assumed to add about 28 MB gzipped (the size Docker Hub lists for debian:bookworm-slim on amd64, not measured here)${nodeBinary ? '; the Node binary, the largest part of the base, is in the table' : ''}.`,
        before === undefined
          ? 'The runtime node_modules the image held before could not be installed here for comparison.'
          : `Before the bundle, the image held the runtime node_modules and the TypeScript sources: node_modules alone is ${mb(before.raw)} raw, ${mb(before.gzip)} gzipped, against the bundle’s ${mb(bundle.raw + maps.raw)} / ${mb(bundle.gzip + maps.gzip)}.`,
      ],
      targets: [
        {
          name: `executor image ≤ ${TARGET_MB} MB compressed`,
          met: total + 28 * MB <= TARGET_MB * MB,
          detail: `${mb(total)} measured + about 28 MB of Debian root = about ${mb(total + 28 * MB)} (an estimate)`,
        },
      ],
      data: { parts, missing, totalGzip: total, nodeModulesBefore: before },
    };
  },
};
