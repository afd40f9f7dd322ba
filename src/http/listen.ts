import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Starts `server` listening and resolves with its base URL once bound, or rejects with the bind
 * error (port taken, address not available). Port 0 picks a free port; the default host is
 * loopback, so nothing is exposed unless a caller asks for it.
 */
export async function listen(server: Server, options: { host?: string | undefined; port?: number | undefined }): Promise<{ url: string; port: number }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { url: `http://${host}:${address.port}`, port: address.port };
}
