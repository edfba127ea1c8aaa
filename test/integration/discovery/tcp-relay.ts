import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP relay with a fixed port whose target can be switched: a
 * client configured with the relay's port keeps its address while the test
 * replaces the server behind it (a restarted Consul comes up on new ports).
 */
export class TcpRelay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  target: number | undefined;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((client) => {
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      client.on('error', () => client.destroy());
      if (this.target === undefined) {
        client.destroy();
        return;
      }
      const up = connect({ host: '127.0.0.1', port: this.target });
      this.sockets.add(up);
      up.on('close', () => {
        this.sockets.delete(up);
        client.destroy();
      });
      up.on('error', () => up.destroy());
      client.on('close', () => up.destroy());
      client.pipe(up);
      up.pipe(client);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  }

  /** Points new connections at `port` (undefined: refuse them) and cuts the open ones. */
  retarget(port: number | undefined): void {
    this.target = port;
    for (const s of this.sockets) s.destroy();
  }

  async stop(): Promise<void> {
    this.retarget(undefined);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
