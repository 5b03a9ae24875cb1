// The Redis keys of a queue. They share the hash tag `{mpq:<name>}`, so a
// cluster keeps a queue on one slot.

/** The keys of the queue `name`. */
export interface Keys {
  /** Hash: the options the first `connect` stored. */
  readonly meta: string;
  /** List: the items ready to get, oldest first. */
  readonly ready: string;
  /** The prefix of the lists (joinable) of the items of one batch got and not done. */
  readonly batch: string;
  /** Hash (joinable): batch -> "<deliveries>:<owner>". */
  readonly info: string;
  /** Sorted set (joinable): batch scored by its lease expiry (ms). */
  readonly leases: string;
  /** Counter (joinable): the last batch number given out. */
  readonly ids: string;
  /** Sorted sets of waiting getters, putters and joiners. */
  readonly getters: string;
  readonly putters: string;
  readonly joiners: string;
  /** Stream: items delivered `maxDeliveries` times, or that cannot be decoded. */
  readonly dead: string;
  /** The glob that matches every key of the queue. */
  readonly pattern: string;
  /** Sorted set: the recent puts of one handle (for de-duplication). */
  puts(handle: string): string;
}

/** Escapes the glob characters of a key prefix for SCAN MATCH. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

/** The keys of the queue `name`. */
export function keysOf(name: string): Keys {
  const tag = `{mpq:${name}}`;
  return {
    meta: `${tag}:m`,
    ready: `${tag}:q`,
    batch: `${tag}:b:`,
    info: `${tag}:i`,
    leases: `${tag}:l`,
    ids: `${tag}:n`,
    getters: `${tag}:wg`,
    putters: `${tag}:wp`,
    joiners: `${tag}:wj`,
    dead: `${tag}:dead`,
    pattern: `${escapeGlob(tag)}:*`,
    puts: (handle) => `${tag}:dd:${handle}`,
  };
}
