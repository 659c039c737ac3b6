import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './net.ts';

const EXAMPLES = resolve(import.meta.dirname, '../../examples');

/** Debian's nginx, or undefined when it is not installed. */
export function nginxBinary(): string | undefined {
  for (const candidate of ['/usr/sbin/nginx', 'nginx']) {
    if (spawnSync(candidate, ['-v'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return undefined;
}

/** An NGINX the tests started: stopped, with its temp dir, by `stop`. */
export interface NginxProcess {
  pid: number;
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

export interface RunningNginx extends NginxProcess {
  /** The shipped example's server: auth_request to Tollgate in front of the upstream. */
  url: string;
  /** The same upstream proxied without auth_request (the benchmark's baseline). */
  plainUrl: string;
}

/**
 * Runs NGINX in the foreground from a temp dir on loopback ports, with examples/nginx.conf as
 * the site (addresses and key filled in), so the shipped example is what the tests exercise.
 */
export async function startNginx(options: {
  binary: string;
  tollgateUrl: string;
  upstreamPort: number;
  gatewayKey: string;
  workers?: number;
}): Promise<RunningNginx> {
  const [port, plainPort] = [await freePort(), await freePort()];
  const tollgate = new URL(options.tollgateUrl);
  const site = await example('nginx.conf', [
    ['server 127.0.0.1:3000;', `server ${tollgate.hostname}:${tollgate.port};`],
    ['server 127.0.0.1:8080;', `server 127.0.0.1:${options.upstreamPort};`],
    ['listen 8000;', `listen 127.0.0.1:${port};`],
    ['REPLACE_WITH_GATEWAY_KEY', options.gatewayKey],
  ]);
  const nginx = await runNginx({
    binary: options.binary,
    workers: options.workers,
    site,
    port,
    extra: `server {
        listen 127.0.0.1:${plainPort};
        location / {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://api;
        }
    }`,
  });
  return { ...nginx, url: `http://127.0.0.1:${port}`, plainUrl: `http://127.0.0.1:${plainPort}` };
}

export interface RunningNginxMtls extends NginxProcess {
  /** Server (a): Tollgate itself behind TLS with client certificates (the ISSUER). */
  tollgateUrl: string;
  /** Server (b): the API, auth_request to Tollgate, with the connection's certificate. */
  apiUrl: string;
}

/**
 * Runs examples/nginx-mtls.conf like `startNginx` runs nginx.conf. The ports are the caller's
 * (freePort), since Tollgate's ISSUER must name server (a) before NGINX can point at Tollgate.
 */
export async function startNginxMtls(options: {
  binary: string;
  tollgateUrl: string;
  upstreamPort: number;
  gatewayKey: string;
  tollgatePort: number;
  apiPort: number;
  /** NGINX's certificate and key (for both servers), and the CA of the clients' certificates. */
  tls: { certPath: string; keyPath: string; clientCaPath: string };
}): Promise<RunningNginxMtls> {
  const tollgate = new URL(options.tollgateUrl);
  const { tls } = options;
  const site = await example('nginx-mtls.conf', [
    ['server 127.0.0.1:3000;', `server ${tollgate.hostname}:${tollgate.port};`],
    ['server 127.0.0.1:8080;', `server 127.0.0.1:${options.upstreamPort};`],
    ['listen 443 ssl;', `listen 127.0.0.1:${options.tollgatePort} ssl;`],
    ['listen 8443 ssl;', `listen 127.0.0.1:${options.apiPort} ssl;`],
    ['/etc/nginx/tls/auth.example.com.pem;', `${tls.certPath};`],
    ['/etc/nginx/tls/auth.example.com.key;', `${tls.keyPath};`],
    ['/etc/nginx/tls/api.example.com.pem;', `${tls.certPath};`],
    ['/etc/nginx/tls/api.example.com.key;', `${tls.keyPath};`],
    ['/etc/nginx/tls/clients-ca.pem;', `${tls.clientCaPath};`],
    ['REPLACE_WITH_GATEWAY_KEY', options.gatewayKey],
  ]);
  const nginx = await runNginx({ binary: options.binary, site, port: options.apiPort });
  return {
    ...nginx,
    tollgateUrl: `https://127.0.0.1:${options.tollgatePort}`,
    apiUrl: `https://127.0.0.1:${options.apiPort}`,
  };
}

/** A shipped example with its placeholders filled in; each must occur exactly once. */
async function example(name: string, replacements: readonly (readonly [string, string])[]): Promise<string> {
  let site = await readFile(join(EXAMPLES, name), 'utf8');
  for (const [from, to] of replacements) {
    if (site.split(from).length !== 2) throw new Error(`examples/${name}: expected "${from}" once`);
    site = site.replace(from, to);
  }
  return site;
}

/** NGINX from a temp dir with `site` (and `extra` servers) included; resolves once `port` listens. */
async function runNginx(options: {
  binary: string;
  site: string;
  port: number;
  extra?: string;
  workers?: number | undefined;
}): Promise<NginxProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'tollgate-nginx-'));
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await mkdir(join(dir, sub));
  await writeFile(join(dir, 'site.conf'), options.site);
  await writeFile(
    join(dir, 'nginx.conf'),
    `daemon off;
worker_processes ${options.workers ?? 1};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    # Load generators keep their connections; the default 1000 requests each would close them.
    keepalive_requests 1000000;
    client_body_temp_path ${dir}/body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    include ${dir}/site.conf;
    ${options.extra ?? ''}
}
`,
  );
  const child: ChildProcess = spawn(
    options.binary,
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  await waitForPort(
    options.port,
    () => child.exitCode !== null,
    () => stderr,
  );
  return {
    pid: child.pid ?? 0,
    errorLog: () => readFile(join(dir, 'error.log'), 'utf8').catch(() => ''),
    async stop() {
      // SIGQUIT: graceful shutdown of the master and its workers.
      if (child.exitCode === null) child.kill('SIGQUIT');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, died: () => boolean, output: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (died()) throw new Error(`nginx exited: ${output()}`);
    const open = await new Promise<boolean>((done) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.end();
        done(true);
      });
      socket.once('error', () => done(false));
    });
    if (open) return;
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`nginx did not listen on ${port}: ${output()}`);
}
