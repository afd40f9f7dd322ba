/**
 * Wraps a real port implementation, replacing some of its methods and delegating the rest to the
 * real object with `this` bound to it. (`Object.create(real)` does not work: the ECS client keeps
 * its credentials and HTTP agent in #private fields, which only the real instance can reach.)
 */
export function wrapPort<T extends object>(real: T, overrides: Partial<T>): T {
  return new Proxy(real, {
    get(target, property, receiver) {
      if (Object.prototype.hasOwnProperty.call(overrides, property)) return (overrides as Record<PropertyKey, unknown>)[property];
      const value: unknown = Reflect.get(target, property, receiver === undefined ? target : target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
