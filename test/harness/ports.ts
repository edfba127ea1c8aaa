import { createServer } from 'node:net';

/**
 * A TCP port that was free on `host` a moment ago. The kernel picks it (bind to
 * port 0), so parallel test runs do not collide the way a fixed range would;
 * the small window before the component binds it is accepted.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error(`freePort: no port from ${host}`));
        return;
      }
      const { port } = addr;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/** `n` distinct free ports (a component that needs several must not get the same one twice). */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const ports = new Set<number>();
  for (let i = 0; ports.size < n && i < n * 20; i++) ports.add(await freePort(host));
  if (ports.size < n) throw new Error(`freePorts: got only ${ports.size} of ${n} distinct ports`);
  return [...ports];
}
