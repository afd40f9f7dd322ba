import { describeManyByKey, writeManyBySecret } from '../../src/adapters/vault-batch.js';
import type { Vault } from '../../src/ports/vault.js';

/**
 * For a proxy over a Vault: its batch methods, made of the proxy's own single methods, so that what
 * a test double does to a single write (crash, fail, observe, count) also happens to every write of
 * a batch. Undefined for any other property.
 */
export function batchThroughSingles(property: PropertyKey, proxy: object): unknown {
  if (property === 'writeMany') return (writes: Parameters<Vault['writeMany']>[0]) => writeManyBySecret(proxy as Vault, writes);
  if (property === 'describeMany') return (keys: Parameters<Vault['describeMany']>[0]) => describeManyByKey(proxy as Vault, keys);
  return undefined;
}

/**
 * Wraps a real port implementation, replacing some of its methods and delegating the rest to the
 * real object with `this` bound to it. (`Object.create(real)` does not work: the ECS client keeps
 * its credentials and HTTP agent in #private fields, which only the real instance can reach.)
 * A vault's `writeMany`/`describeMany`, unless overridden, go through the (possibly overridden)
 * single methods: a fault injected into `putPending` must reach the batch's writes too.
 */
export function wrapPort<T extends object>(real: T, overrides: Partial<T>): T {
  const proxy: T = new Proxy(real, {
    get(target, property, receiver) {
      if (Object.prototype.hasOwnProperty.call(overrides, property)) return (overrides as Record<PropertyKey, unknown>)[property];
      if ('writeMany' in target) {
        const batched = batchThroughSingles(property, proxy);
        if (batched !== undefined) return batched;
      }
      const value: unknown = Reflect.get(target, property, receiver === undefined ? target : target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return proxy;
}
