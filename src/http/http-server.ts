import { createServer } from 'node:http';
import { listen } from './listen.js';
import type { Express } from 'express';

export interface RunningHttpServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Listens on `host:port` (port 0: any free port). Bind to 127.0.0.1 unless a proxy guards the port. */
export async function startHttpServer(app: Express, options: { host: string; port: number }): Promise<RunningHttpServer> {
  const server = createServer(app);
  const { port } = await listen(server, options);
  // The configured host, not the bound address: 0.0.0.0 stays 0.0.0.0 in logs, as configured.
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
