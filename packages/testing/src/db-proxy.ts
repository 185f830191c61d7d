// A TCP proxy between the app and PostgreSQL that a fault test can cut and restore (not a test file itself).
import net from 'node:net';

/** How the database goes away. */
export type CutMode =
  /** The server crashed or was restarted: live connections are reset, new ones are refused at once. */
  | 'reset'
  /** The server is shutting down: live connections are left alone (to be terminated by the server), new ones refused. */
  | 'refuse'
  /** The network dropped: live connections stop carrying bytes, new ones are accepted and never answered. */
  | 'blackhole';

export interface DbProxy {
  /** Port on 127.0.0.1 that forwards to the database. */
  readonly port: number;
  /** Connections currently open through the proxy. */
  readonly openConnections: number;
  /** Takes the database away (default `reset`). */
  cut(mode?: CutMode): void;
  /** Brings it back: new connections are forwarded again (connections stalled by a blackhole are reset). */
  restore(): void;
  /**
   * Holds back what the server sends (and its closing of connections) until `flush`, which delivers everything
   * held for a connection in one write: replies that a server sends moments apart reach the client in one chunk.
   */
  hold(): void;
  flush(): void;
  /** Resets every connection and stops listening. */
  close(): Promise<void>;
  /** `url` (any PostgreSQL URL) with its host and port replaced by the proxy's. */
  urlThrough(url: string): string;
}

interface Pair {
  client: net.Socket;
  server: net.Socket | undefined;
  dead: boolean;
  /** Bytes from the server held back by `hold`. */
  held: Buffer[];
  /** The server closed while bytes were held: close the client once they are delivered. */
  closeAfterFlush: boolean;
}

/** Starts a proxy on an ephemeral port of 127.0.0.1 forwarding to `targetHost:targetPort`. */
export async function startDbProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<DbProxy> {
  let state: 'up' | CutMode = 'up';
  let holding = false;
  const pairs = new Set<Pair>();

  const kill = (pair: Pair) => {
    if (pair.dead) return;
    pair.dead = true;
    pairs.delete(pair);
    pair.client.resetAndDestroy();
    pair.server?.resetAndDestroy();
  };

  const deliver = (pair: Pair) => {
    if (pair.dead) return;
    if (pair.held.length > 0) pair.client.write(Buffer.concat(pair.held.splice(0)));
    if (pair.closeAfterFlush) {
      // After the bytes: a graceful close, as the server itself did.
      pair.dead = true;
      pairs.delete(pair);
      pair.client.end();
    }
  };

  const server = net.createServer((client) => {
    const pair: Pair = { client, server: undefined, dead: false, held: [], closeAfterFlush: false };
    client.on('error', () => {});
    client.on('close', () => kill(pair));
    if (state === 'reset' || state === 'refuse') {
      kill(pair);
      return;
    }
    pairs.add(pair);
    client.setNoDelay(true);
    // Blackholed: accepted, never forwarded, so the client waits for its connect timeout.
    if (state === 'blackhole') return;
    const upstream = net.connect({ host: targetHost, port: targetPort });
    pair.server = upstream;
    upstream.setNoDelay(true);
    upstream.on('error', () => {});
    upstream.on('close', () => {
      if (holding && pair.held.length > 0) pair.closeAfterFlush = true;
      else if (!pair.closeAfterFlush) kill(pair);
    });
    client.on('data', (chunk) => {
      if (state !== 'blackhole' && !pair.dead) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (state === 'blackhole' || pair.dead) return;
      if (holding) pair.held.push(chunk);
      else client.write(chunk);
    });
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;

  return {
    port,
    get openConnections() {
      return pairs.size;
    },
    cut(mode: CutMode = 'reset') {
      state = mode;
      // Blackholed connections stay open and silent: nothing more goes through in either direction.
      if (mode === 'reset') for (const pair of [...pairs]) kill(pair);
    },
    restore() {
      // A stalled flow does not come back (as when a NAT or firewall has forgotten it): it is reset.
      if (state === 'blackhole') for (const pair of [...pairs]) kill(pair);
      state = 'up';
    },
    hold() {
      holding = true;
    },
    flush() {
      holding = false;
      for (const pair of [...pairs]) deliver(pair);
    },
    async close() {
      state = 'reset';
      for (const pair of [...pairs]) kill(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    urlThrough(url: string) {
      const through = new URL(url);
      through.hostname = '127.0.0.1';
      through.port = String(port);
      return through.toString();
    },
  };
}

/** Host and port of a PostgreSQL URL (5432 when it names none). */
export function hostAndPort(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname || '127.0.0.1', port: parsed.port === '' ? 5432 : Number(parsed.port) };
}
