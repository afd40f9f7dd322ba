/**
 * Host allow-list: answers only requests whose `Host` header names this server. Without it a
 * DNS-rebinding page (`attacker.example` re-resolved to 127.0.0.1) reads the dashboard and the API
 * from the victim's browser, because to the browser it is the attacker's own origin.
 *
 * API (also used by the status page at `/`):
 * - `defaultAllowedHosts(bindHost)`: the bind address plus `localhost`, `127.0.0.1` and `::1`
 *   (a wildcard bind, `0.0.0.0` or `::`, adds nothing: it is not a name clients use).
 * - `hostAllowList({ allowed, exempt?, onRefused? })`: an express middleware; a request whose Host
 *   (port ignored, case-insensitive) is not in `allowed` is answered 403 `{error: 'host-not-allowed'}`.
 *   `exempt(req)` skips the check (the probes, which reveal nothing and which orchestrators send
 *   with the pod's IP as Host). A request without Host (HTTP/1.0) is refused too.
 * - `hostnameOf(hostHeader)`: `Example.COM:8080` → `example.com`, `[::1]:80` → `::1`.
 */
import type { Request, RequestHandler } from 'express';

const LOCAL_NAMES = ['localhost', '127.0.0.1', '::1'] as const;

export function defaultAllowedHosts(bindHost: string): string[] {
  const hosts = new Set<string>(LOCAL_NAMES);
  const bind = normalise(bindHost);
  if (bind !== '' && bind !== '0.0.0.0' && bind !== '::') hosts.add(bind);
  return [...hosts];
}

/** The host name of a `Host` header without its port, lowercased; '' when it is not one. */
export function hostnameOf(hostHeader: string | undefined): string {
  if (hostHeader === undefined) return '';
  const value = hostHeader.trim();
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::\d{1,5})?$/.exec(value);
  if (bracketed) return bracketed[1]!.toLowerCase();
  const plain = /^([A-Za-z0-9.-]+)(?::\d{1,5})?$/.exec(value);
  return plain ? plain[1]!.toLowerCase().replace(/\.$/, '') : '';
}

function normalise(host: string): string {
  return host.trim().replace(/^\[(.*)\]$/, '$1').toLowerCase().replace(/\.$/, '');
}

/** Options of {@link hostAllowList}. */
export interface HostAllowListOptions {
  /** Host names (no port) this server answers to, e.g. `defaultAllowedHosts(host)` plus `http.allowedHosts`. */
  allowed: readonly string[];
  /** Requests that skip the check. @defaultValue none */
  exempt?: (req: Request) => boolean;
  /** Told about each refused request (to log it at warn, with the Host it carried). */
  onRefused?: (req: Request, host: string) => void;
}

export function hostAllowList(options: HostAllowListOptions): RequestHandler {
  const allowed = new Set(options.allowed.map(normalise));
  return (req, res, next) => {
    if (options.exempt?.(req)) {
      next();
      return;
    }
    const host = hostnameOf(req.headers.host);
    if (host !== '' && allowed.has(host)) {
      next();
      return;
    }
    options.onRefused?.(req, req.headers.host ?? '');
    res.status(403).json({
      error: 'host-not-allowed',
      message: 'this server does not answer to the host name in the request (add it to http.allowedHosts)',
    });
  };
}
