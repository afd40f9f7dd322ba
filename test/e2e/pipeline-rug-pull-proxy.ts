/**
 * A real HTTP front for the simulator that "pulls the rug": when the first real (not dry-run) batch
 * reset naming a victim server passes through, it changes that server's state in the simulator
 * (plug-in removed, locked, or shut off) before forwarding the request unchanged. The server was
 * eligible when the run planned it and refuses the reset itself: a definite per-server rejection
 * with Huawei's code, which a healthy simulated fleet never produces on its own (plan skips
 * ineligible servers first). Bytes and headers are forwarded as received, so the signature (which
 * covers the Host header) still verifies. It never logs or keeps a request body.
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunningSimulator } from '../../src/simulator/simulator.js';
import type { ServerPatch } from '../../src/simulator/inspection.js';
import { readAll } from '../helpers/read-body.js';

export interface RugPull {
  /** Huawei's code the simulator will answer for the victim. */
  code: 'Ecs.0613' | 'Ecs.0605' | 'Ecs.0100';
  patch: ServerPatch;
}

export const RUG_PULLS: readonly RugPull[] = [
  { code: 'Ecs.0613', patch: { plugin: false } },
  { code: 'Ecs.0605', patch: { locked: true } },
  { code: 'Ecs.0100', patch: { status: 'SHUTOFF' } },
];

export interface RugPullProxy {
  url: string;
  /** Arms the proxy: these servers get their patch on the first real reset naming them. */
  arm(victims: ReadonlyMap<string, RugPull>): void;
  /** Victims whose rug was pulled so far. */
  pulled(): string[];
  close(): Promise<void>;
}

export async function startRugPullProxy(sim: RunningSimulator): Promise<RugPullProxy> {
  let victims = new Map<string, RugPull>();
  const pulled: string[] = [];
  const target = new URL(sim.url);
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      if (req.method === 'PUT' && (req.url ?? '').split('?')[0]!.endsWith('/cloudservers/os-reset-passwords') && victims.size > 0) {
        try {
          const parsed = JSON.parse(body.toString('utf8')) as { dry_run?: boolean; servers?: { id: string }[] };
          if (parsed.dry_run !== true) {
            for (const { id } of parsed.servers ?? []) {
              const pull = victims.get(id);
              if (pull && !pulled.includes(id)) {
                sim.updateServer(id, pull.patch);
                pulled.push(id);
              }
            }
          }
        } catch {
          // Not JSON: forwarded as is; the simulator answers it.
        }
      }
      const upstream = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => req.socket.destroy());
      upstream.end(body);
    })().catch(() => req.socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    arm: (v) => {
      victims = new Map(v);
    },
    pulled: () => [...pulled],
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
