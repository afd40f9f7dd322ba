import type { EcsServer } from '../domain/server.js';
import type { EcsApi, ServerFilter } from '../ports/ecs-api.js';
import { ServiceErrorCode } from '../domain/error-codes.js';
import { RotatorError } from '../domain/rotator-error.js';

/**
 * Which servers a target covers: `serverIds` ∪ (servers matching ALL given filters). Empty strings
 * and `{}` count as "not given". `status` only narrows a filter of tags, name or enterprise project
 * (alone it would select most of a project), as the job-file schema also requires.
 */
export interface ServerSelector {
  serverIds?: readonly string[] | undefined;
  tags?: Readonly<Record<string, string>> | undefined;
  name?: string | undefined;
  status?: string | undefined;
  enterpriseProjectId?: string | undefined;
}

export type ResolvedServer =
  | { kind: 'found'; server: EcsServer; via: 'id' | 'filter' }
  /** An explicit id that Huawei does not know (404). */
  | { kind: 'not-found'; serverId: string };

export interface ResolveOptions {
  signal?: AbortSignal | undefined;
  /** List page size. @defaultValue the client's default (100) */
  pageSize?: number | undefined;
}

/**
 * Streams the servers of a target, each once: first the explicit ids in the order given (a missing
 * one as `not-found`), then the filter matches in Huawei's list order (stable: creation time),
 * skipping any already yielded. Only the ids seen are kept in memory, not the servers.
 * A selector with neither ids nor filters is refused: a target never means "the whole project" by accident.
 */
export async function* resolveTargetServers(
  ecs: Pick<EcsApi, 'getServer' | 'listServers'>,
  selector: ServerSelector,
  options: ResolveOptions = {},
): AsyncGenerator<ResolvedServer> {
  const filter = filterOf(selector);
  const ids = (selector.serverIds ?? []).filter((id) => id.trim() !== '');
  if (ids.length === 0 && filter === undefined) {
    throw new RotatorError({
      code: ServiceErrorCode.selectorEmpty,
      message: 'selector: expected at least one server id, or a tags, name or enterpriseProjectId filter (status alone only narrows)',
      retryable: false,
    });
  }
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) continue;
    seen.add(id);
    const server = await ecs.getServer(id, { signal: options.signal });
    yield server ? { kind: 'found', server, via: 'id' } : { kind: 'not-found', serverId: id };
  }
  if (filter === undefined) return;
  for await (const server of ecs.listServers(filter, { signal: options.signal, ...(options.pageSize ? { pageSize: options.pageSize } : {}) })) {
    if (seen.has(server.id)) continue;
    seen.add(server.id);
    yield { kind: 'found', server, via: 'filter' };
  }
}

/** The list filter of a selector, or undefined when it gives no tags, name or enterprise project. */
export function filterOf(selector: ServerSelector): ServerFilter | undefined {
  const filter: ServerFilter = {};
  if (selector.tags && Object.keys(selector.tags).length > 0) filter.tags = { ...selector.tags };
  if (selector.name) filter.name = selector.name;
  if (selector.enterpriseProjectId) filter.enterpriseProjectId = selector.enterpriseProjectId;
  if (Object.keys(filter).length === 0) return undefined;
  if (selector.status) filter.status = selector.status;
  return filter;
}
