import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { openPostgres, type PostgresHandle, type PostgresOptions } from '../../src/db/client.js';

export type ProxyMode = 'open' | 'cut' | 'stall';

/**
 * A TCP proxy in front of the database, for outage tests: `cut` drops every connection and
 * resets new ones (the server is gone); `stall` keeps connections open but carries nothing (the
 * network hangs); `open` forwards again.
 */
export class TcpProxy {
  private mode: ProxyMode = 'open';
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new TcpProxy(server, (server.address() as AddressInfo).port);
    server.on('connection', (client) => proxy.accept(client, targetHost, targetPort));
    return proxy;
  }

  set(mode: ProxyMode): void {
    this.mode = mode;
    if (mode === 'cut') for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
  }

  private accept(client: Socket, host: string, port: number): void {
    this.track(client);
    if (this.mode === 'cut') {
      client.resetAndDestroy();
      return;
    }
    if (this.mode === 'stall') return; // accepted, and never answered
    const upstream = connect(port, host);
    this.track(upstream);
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (chunk: Buffer) => {
        if (this.mode === 'open') to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }
}

/** The test database (TEST_DATABASE_URL) reached through a new proxy, so a test can cut or stall it. */
export async function proxiedTestDatabase(options: PostgresOptions): Promise<{ proxy: TcpProxy; database: PostgresHandle }> {
  const target = new URL(process.env.TEST_DATABASE_URL ?? '');
  const proxy = await TcpProxy.start(target.hostname, Number(target.port || 5432));
  const proxied = new URL(target);
  proxied.port = String(proxy.port);
  proxied.hostname = '127.0.0.1';
  return { proxy, database: openPostgres(proxied.toString(), options) };
}
