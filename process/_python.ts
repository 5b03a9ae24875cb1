// Args between Deno and CPython processes: pickled, with each
// CPython-compatible queue as a persistent id that `python/mpq.py` knows:
// `("mpq.queue", kind, read fd, write fd, maxsize, names, creator pid)`.

import { Core, INTERNAL, QUEUE_MARK, type QueueKind } from "../queues/_core.ts";
import {
  decodePickle,
  encodePickle,
  pickle,
} from "../queues/cpython/_pickle.ts";
import { JoinableQueue } from "../queues/joinable_queue.ts";
import { Queue } from "../queues/queue.ts";
import { SimpleQueue } from "../queues/simple_queue.ts";

/** The first element of a queue's persistent id. */
const TAG = "mpq.queue";
const KINDS = { SimpleQueue, Queue, JoinableQueue } as const;

/**
 * Pickles `args` for a Python worker: queues become persistent ids.
 *
 * @returns the pickle, and the cores of the queues in it
 * @throws {TypeError} for a queue that is not CPython-compatible, or a
 *   value with no pickle form
 */
export function pickleArgs(
  args: unknown[],
): { bytes: Uint8Array; cores: Core[] } {
  const cores: Core[] = [];
  const bytes = encodePickle(args, {
    persistentId(value) {
      const core = (value as { [QUEUE_MARK]?: Core })[QUEUE_MARK];
      if (core === undefined) return undefined;
      const h = core.handle();
      if (h.names === undefined) {
        throw new TypeError(
          `Cannot pass a ${h.kind} to a Python process: create it with { cpython: true }`,
        );
      }
      if (!cores.includes(core)) cores.push(core);
      return [TAG, h.kind, h.fds[0], h.fds[1], h.maxsize, h.names, h.creator];
    },
  });
  return { bytes, cores };
}

/** Unpickles the args a Python parent gave (`mpq.spawn_deno`), attaching queues. */
export function unpickleArgs(bytes: Uint8Array): unknown[] {
  const attached = new Map<string, unknown>();
  const opened: { close(): void }[] = [];
  try {
    const args = decodePickle(bytes, {
      persistentLoad(id) {
        if (!Array.isArray(id) || id.length !== 7 || id[0] !== TAG) {
          throw new TypeError(
            `Cannot attach a queue from Python: unknown persistent id ${
              JSON.stringify(id)
            }`,
          );
        }
        const [, kind, readFd, writeFd, maxsize, names, creator] = id;
        const key = `${readFd}:${writeFd}`;
        let q = attached.get(key);
        if (q === undefined) {
          const Class = KINDS[kind as QueueKind];
          if (Class === undefined) {
            throw new TypeError(
              `Cannot attach a queue from Python: unknown kind ${String(kind)}`,
            );
          }
          const core = Core.fromHandle({
            kind,
            fds: [readFd, writeFd],
            counters: 0,
            names,
            maxsize,
            serializer: "pickle",
            creator,
          });
          const queue = new Class(
            { serializer: pickle, [INTERNAL]: { core } } as never,
          );
          opened.push(queue);
          attached.set(key, q = queue);
        }
        return q;
      },
    });
    if (!Array.isArray(args)) {
      throw new TypeError("Cannot read the args from Python: not a list");
    }
    return args;
  } catch (e) {
    for (const q of opened) q.close();
    throw e;
  }
}
