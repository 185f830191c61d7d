// The ingress of docker-compose.yml on loopback: Debian's nginx running the committed deploy/nginx/nginx.conf, with
// an upstreams.conf of the test's own (what nginx.conf's header comment says to do to run it anywhere else).
import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { type Child, pollUntil, runToCompletion, startProcess } from './processes.js';

/** Where `.ci/run` (e2e/scripts/ensure-nginx.sh) unpacks Debian's package when nginx is not installed. */
const UNPACKED_NGINX = '.cache/nginx/usr/sbin/nginx';

const INSTALL_HINT =
  "Install it with `bash e2e/scripts/ensure-nginx.sh` (what .ci/run does: unpacks Debian's nginx into .cache/nginx, " +
  'no root or daemon needed), or `apt-get install nginx`, or point NGINX_BIN at an nginx binary (>= 1.19.5).';

/** The line of nginx.conf that the copy changes, and nothing else. */
const LISTEN_LINE = '        listen 80;';

/**
 * The nginx binary: $NGINX_BIN, `nginx` on PATH, /usr/sbin/nginx, or the copy ensure-nginx.sh unpacked. Throws with
 * installation instructions when there is none: this test must fail, not skip, where nginx is missing.
 */
export function locateNginx(repoRoot: string): string {
  const explicit = process.env.NGINX_BIN;
  if (explicit) {
    if (!isExecutable(explicit)) throw new Error(`NGINX_BIN=${explicit} is not an executable file. ${INSTALL_HINT}`);
    return explicit;
  }
  const onPath = (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'nginx'));
  const found = [...onPath, '/usr/sbin/nginx', join(repoRoot, UNPACKED_NGINX)].find(isExecutable);
  if (!found)
    throw new Error(`nginx was not found (NGINX_BIN, PATH, /usr/sbin/nginx, ${UNPACKED_NGINX}). ${INSTALL_HINT}`);
  return found;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** One line of the `mxp` access log format of nginx.conf. */
export interface AccessLogEntry {
  clientAddress: string;
  method: string;
  path: string;
  status: number;
  /** Every service address tried, in order (`[]` when nginx answered itself). */
  upstreams: string[];
  /** The status each of them gave (`502` for a connection that failed). */
  upstreamStatuses: string[];
  /** Seconds each took to accept the connection; `-` for one that was never connected (refused). */
  upstreamConnectTimes: string[];
  requestId: string;
  line: string;
}

// log_format mxp: '$remote_addr [$time_iso8601] "$request_method $uri $server_protocol" $status $body_bytes_sent
//   rt=... upstream=$upstream_addr ust=$upstream_status uct=... urt=... req_id=$mxp_request_id'
const ACCESS_LINE =
  /^(?<client>\S+) \[[^\]]+\] "(?<method>\S+) (?<path>\S+) [^"]*" (?<status>\d{3}) \d+ rt=\S+ upstream=(?<upstreams>.*) ust=(?<statuses>.*) uct=(?<connects>.*) urt=.* req_id=(?<id>\S+)$/;

/** `$upstream_addr`-style lists: `a, b` (next upstream tried) or `a : b` (internal redirect); `-` for none. */
function splitUpstreamList(value: string): string[] {
  return value === '-' ? [] : value.split(/, | : /);
}

export function parseAccessLine(line: string): AccessLogEntry | undefined {
  const groups = ACCESS_LINE.exec(line)?.groups;
  if (!groups) return undefined;
  return {
    clientAddress: groups.client ?? '',
    method: groups.method ?? '',
    path: groups.path ?? '',
    status: Number(groups.status),
    upstreams: splitUpstreamList(groups.upstreams ?? '-'),
    upstreamStatuses: splitUpstreamList(groups.statuses ?? '-'),
    upstreamConnectTimes: splitUpstreamList(groups.connects ?? '-'),
    requestId: groups.id ?? '',
    line,
  };
}

export interface IngressOptions {
  nginxBin: string;
  repoRoot: string;
  /** Loopback port nginx listens on, in place of 80. */
  port: number;
  /** Ports of the instances of each service on 127.0.0.1. */
  otherclientPorts: readonly number[];
  authServicePorts: readonly number[];
}

/**
 * The test's upstreams.conf. nginx.conf proxies to `http://$otherclient_upstream` and `http://$auth_service_upstream`;
 * when such a value names an `upstream` group, nginx uses the group (and only otherwise asks a resolver), so the
 * variables here name two groups of two instances each: round robin over both, and a request whose connection is
 * refused, or reset by a stopping instance, is passed to the other (nginx.conf's `proxy_next_upstream`). `fail_timeout=2s` (default 10 s): a stopped instance is retried, and a restarted one rejoins, within 2 s.
 *
 * It also moves nginx's temporary directories into the test's directory: Debian compiles them in as /var/lib/nginx/*,
 * which does not exist without the installed package and is not writable without root. They are http-level
 * directives, and this file is included at http level, so nginx.conf itself needs no change for them.
 */
export function upstreamsConf(options: IngressOptions, dir: string, withoutModules: ReadonlySet<string>): string {
  const group = (name: string, ports: readonly number[]) =>
    [
      `upstream ${name} {`,
      ...ports.map((port) => `    server 127.0.0.1:${port} max_fails=1 fail_timeout=2s;`),
      '}',
    ].join('\n');
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .filter((kind) => !withoutModules.has(kind))
    .map((kind) => `${kind}_temp_path ${join(dir, `${kind}_temp`)};`);
  return [
    '# Written by e2e/support/nginx.ts in place of deploy/nginx/upstreams.conf: two instances of each service on',
    "# loopback, as named upstream groups (no resolver needed), and nginx's temporary files in the test's directory.",
    group('otherclient_instances', options.otherclientPorts),
    group('auth_service_instances', options.authServicePorts),
    'map "" $otherclient_upstream { default otherclient_instances; }',
    'map "" $auth_service_upstream { default auth_service_instances; }',
    ...temp,
    '',
  ].join('\n');
}

/** Modules the binary was built without, among those that have a temporary directory (from `nginx -V`). */
function modulesBuiltWithout(nginxBin: string): Set<string> {
  // `nginx -V` prints its configure arguments on stderr.
  const { stdout, stderr, error } = spawnSync(nginxBin, ['-V'], { encoding: 'utf8' });
  if (error) throw new Error(`${nginxBin} -V: ${error.message}`);
  const details = `${stdout}${stderr}`;
  return new Set(
    ['fastcgi', 'uwsgi', 'scgi', 'proxy'].filter((kind) => details.includes(`--without-http_${kind}_module`)),
  );
}

export class Ingress {
  readonly baseUrl: string;

  private constructor(
    readonly dir: string,
    readonly originalConf: string,
    readonly confCopy: string,
    readonly process: Child,
    port: number,
  ) {
    this.baseUrl = `http://127.0.0.1:${port}`;
  }

  /** Writes the configuration into a new directory, checks it with `nginx -t`, starts nginx and waits for it. */
  static async start(options: IngressOptions): Promise<Ingress> {
    const originalConf = readFileSync(join(options.repoRoot, 'deploy/nginx/nginx.conf'), 'utf8');
    if (originalConf.split('\n').filter((line) => line === LISTEN_LINE).length !== 1) {
      throw new Error(`deploy/nginx/nginx.conf no longer has exactly one "${LISTEN_LINE.trim()}" line to change`);
    }
    const confCopy = originalConf.replace(LISTEN_LINE, `        listen 127.0.0.1:${options.port};`);
    const dir = mkdtempSync(join(tmpdir(), 'mxp-e2e-nginx-'));
    let child: Child | undefined;
    try {
      // As root, nginx's workers run as `nobody` and create the temporary files: they must be able to enter the dir.
      chmodSync(dir, 0o755);
      writeFileSync(join(dir, 'nginx.conf'), confCopy);
      writeFileSync(join(dir, 'upstreams.conf'), upstreamsConf(options, dir, modulesBuiltWithout(options.nginxBin)));

      // `-p` makes the include of upstreams.conf resolve in `dir`; `-e stderr` replaces the compiled-in error log (a
      // file under /var/log) until the config's own `error_log stderr` applies; the pid file goes to `dir`, not /run.
      const args = ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', 'stderr'];
      const globals = `pid ${join(dir, 'nginx.pid')};`;
      const spec = { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, group: true, outputDir: dir };
      await runToCompletion({
        ...spec,
        name: 'nginx-t',
        command: options.nginxBin,
        args: [...args, '-g', globals, '-t'],
      });
      const started = startProcess({
        ...spec,
        name: 'nginx',
        command: options.nginxBin,
        args: [...args, '-g', `${globals} daemon off;`],
      });
      child = started;
      const baseUrl = `http://127.0.0.1:${options.port}`;
      // `location /` answers 404 itself: nginx is up once it answers that.
      await pollUntil('nginx answering', async () => ((await fetch(`${baseUrl}/`)).status === 404 ? true : undefined), {
        timeoutMs: 10_000,
        abort: () => (started.hasExited() ? `nginx exited\n${started.outputTail()}` : undefined),
      });
      return new Ingress(dir, originalConf, confCopy, started, options.port);
    } catch (error) {
      await child?.stop('SIGQUIT', 5_000);
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Every access-log line so far, parsed (lines that do not parse are left out). */
  accessLog(): AccessLogEntry[] {
    return this.process.stdoutLines().flatMap((line) => parseAccessLine(line) ?? []);
  }

  /**
   * The access-log line of a request. nginx writes it when the request ends, which can be just after the client
   * has read the response, hence the short wait.
   */
  logEntry(requestId: string): Promise<AccessLogEntry> {
    return pollUntil(
      `access-log line of request ${requestId}`,
      async () => this.accessLog().find((entry) => entry.requestId === requestId),
      { timeoutMs: 3_000, intervalMs: 10 },
    );
  }

  errorLog(): readonly string[] {
    return this.process.stderrLines();
  }

  /** Graceful stop (SIGQUIT: finish the requests in progress), then the directory is removed. */
  async stop(): Promise<void> {
    await this.process.stop('SIGQUIT', 5_000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
