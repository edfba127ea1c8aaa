import dgram from 'node:dgram';
import net from 'node:net';

/** Binds `ip:port` (0: any) for a moment; the bound port, or undefined when it is taken. */
export type PortProbe = (ip: string, port: number, protocol: 'tcp' | 'udp') => Promise<number | undefined>;

/**
 * Tries to bind `ip:port` (port 0: any) for the protocol and returns the bound
 * port, or undefined when it is taken. DNAT rules have no listening socket, so
 * this finds host processes in the way; ports other berth containers publish
 * are checked against the manager's own records.
 */
export function probeHostPort(
  ip: string,
  port: number,
  protocol: 'tcp' | 'udp',
): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    if (protocol === 'udp') {
      const sock = dgram.createSocket('udp4');
      sock.once('error', (err: NodeJS.ErrnoException) => {
        sock.close();
        if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(undefined);
        else reject(err);
      });
      sock.bind(port, ip, () => {
        const bound = sock.address().port;
        sock.close(() => resolve(bound));
      });
      return;
    }
    const srv = net.createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(undefined);
      else reject(err);
    });
    srv.listen({ host: ip, port, exclusive: true }, () => {
      const addr = srv.address();
      const bound = typeof addr === 'object' && addr ? addr.port : undefined;
      srv.close(() => resolve(bound));
    });
  });
}
